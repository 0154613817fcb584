"""Bundled models: ``models/{name}.safetensors`` (+ a JSON card ``models/{name}.json``) ready at start.

Each checkpoint becomes a pinned, done run under its config's run id, so posting the same config
returns it at once and the first page can sample grid25 with no training wait. The weights are
copied into the store (it owns its files; a repository checkout may change under a running server).
A bad file is logged and skipped: a broken bundle must never stop the lab from starting. Image checkpoints
(family "shapes", e.g. models/shapes32.safetensors) are recognised by their metadata and registered apart
(``load_shapes``): each becomes a pinned, done trained run, next to the pinned exact-denoiser ("oracle") run of its
training set and schedule, for the shapes page.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..diffusion.checkpoint import CheckpointError, write_atomic
from ..diffusion.config import ALGO_VERSION
from ..gaussian.checkpoint import load_checkpoint
from ..gaussian.config import ExperimentConfig
from ..shapes.checkpoint import load_unet_checkpoint
from ..shapes.config import ShapesConfig, oracle_identity
from ..store import Store
from ..streaming.encode import finite_or_none
from ..streaming.families import checkpoint_family

log = logging.getLogger(__name__)

DEFAULT_DATASET = "grid25"
NOT_GAUSSIAN = ("shapes",)  # checkpoint families the Gaussian catalog leaves to other views
# Preference for the page's default run: the CPU recipe (same config as the default preset), then the GPU one.
DEFAULT_NAMES = ("grid25", "grid25-paper")


@dataclass(frozen=True)
class BundledModel:
    name: str  # file stem, e.g. "grid25-paper"; also the preset id
    run_id: str
    config: ExperimentConfig
    card: dict[str, Any]  # the `modelab reproduce` figures ({} when the card is missing or unreadable)
    path: Path

    def run_metrics(self) -> dict[str, Any]:
        return card_metrics(self.card, self.config.train.steps)


@dataclass(frozen=True)
class BundledShapes:
    """A bundled Simple Shapes U-Net: its pinned trained run, and the pinned exact-denoiser run of its data."""

    name: str  # file stem, e.g. "shapes32"
    run_id: str
    oracle_run_id: str
    config: ShapesConfig
    card: dict[str, Any]  # the `modelab reproduce shapes…` figures ({} when missing)
    path: Path

    def run_metrics(self) -> dict[str, Any]:
        return card_metrics(self.card, self.config.train.steps)

    @property
    def title(self) -> str:
        resolution = self.config.data.resolution
        return f"Simple Shapes {resolution}×{resolution} (images)"

    def view(self) -> dict[str, Any]:
        """What the shapes page and its bootstrap need: names, run ids, title and card figures."""
        return {"name": self.name, "run_id": self.run_id, "oracle_run_id": self.oracle_run_id, "title": self.title,
                "resolution": self.config.data.resolution, "T": self.config.schedule.T, "card": self.card}


M = TypeVar("M", BundledModel, BundledShapes)


def card_metrics(card: dict[str, Any], steps_default: int) -> dict[str, Any]:
    """A bundled run's metrics in the API's shape, from its card (which has no loss curve)."""
    steps: Any = card.get("train_steps")
    seconds: Any = card.get("train_seconds")
    loss: Any = card.get("final_loss")
    return {
        "steps": steps if isinstance(steps, int) and not isinstance(steps, bool) else steps_default,
        "train_seconds": float(seconds) if _is_number(seconds) else 0.0,
        "final_loss": float(loss) if _is_number(loss) else None,
        "loss_history": [],
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def discover(models_dir: Path) -> list[BundledModel]:
    """Every usable Gaussian ``*.safetensors`` in ``models_dir``, sorted by name; bad ones are logged and skipped."""
    return [BundledModel(path.stem, run_id, checkpoint.config, _card(path), path)
            for path, checkpoint, run_id in _checkpoints(models_dir, images=False, load=load_checkpoint)]


class _Config(Protocol):
    def run_id(self) -> str: ...


class _Checkpoint(Protocol):
    @property
    def config(self) -> _Config: ...

    @property
    def metadata(self) -> dict[str, str]: ...


C = TypeVar("C", bound=_Checkpoint)


def _checkpoints(models_dir: Path, *, images: bool, load: Callable[[Path], C]) -> Iterator[tuple[Path, C, str]]:
    """(path, checkpoint, run id) of each readable checkpoint of the family asked for (``images``: Simple Shapes),
    trained under this algorithm version, first of its config; by file name."""
    if not models_dir.is_dir():
        return
    seen: dict[str, Path] = {}
    for path in sorted(models_dir.glob("*.safetensors"), key=lambda p: p.stem):
        if (checkpoint_family(path) in NOT_GAUSSIAN) != images:
            continue
        try:
            checkpoint = load(path)
        except CheckpointError as exc:
            log.warning("skipping bundled model %s: %s", path.name, exc)
            continue
        if not _right_version(path, checkpoint.metadata):
            continue
        run_id = checkpoint.config.run_id()
        if run_id in seen:  # one run, one preset: the same config twice is a packaging mistake
            log.warning("skipping bundled model %s: same config (run %s) as %s", path.name, run_id, seen[run_id].name)
            continue
        seen[run_id] = path
        yield path, checkpoint, run_id


def _right_version(path: Path, metadata: dict[str, str]) -> bool:
    """Whether a checkpoint was trained under this algorithm version (else its run id belongs to another)."""
    version = metadata.get("algo_version")
    if version != ALGO_VERSION:
        log.warning("skipping bundled model %s: trained under algorithm version %r, this is %r",
                    path.name, version, ALGO_VERSION)
    return version == ALGO_VERSION


def _card(path: Path) -> dict[str, Any]:
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        return {}
    try:
        card = json.loads(card_path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("ignoring the card of %s: %s", path.name, exc)
        return {}
    return finite_or_none(card) if isinstance(card, dict) else {}


def register(store: Store, models: list[M]) -> list[M]:
    """Make each model a pinned, done run with its weights in the store (an image model's exact denoiser a pinned,
    done oracle run too); returns those registered.

    The bundled file wins over a run of the same config trained here: its card describes its weights."""
    registered: list[M] = []
    for model in models:
        try:
            _copy_if_changed(model.path, store.model_path(model.run_id))
        except OSError as exc:
            log.warning("skipping bundled model %s: cannot copy it into the store (%s)", model.name, exc)
            continue
        store.put(model.run_id, "trained", model.config.canonical_json(), "done", metrics=model.run_metrics(),
                  pinned=True)
        if isinstance(model, BundledShapes):
            _, oracle = oracle_identity(model.config)
            known = store.get(model.oracle_run_id)
            if known is None or not known.pinned or known.status != "done":
                store.put(model.oracle_run_id, "oracle", oracle.canonical_json(), "done", pinned=True)
        registered.append(model)
    if registered:
        log.info("bundled models ready: %s", ", ".join(f"{m.name} ({m.run_id})" for m in registered))
    return registered


def _copy_if_changed(source: Path, target: Path) -> None:
    data = source.read_bytes()
    if target.is_file() and target.read_bytes() == data:
        return
    write_atomic(target, data)


def default_model(models: list[BundledModel]) -> BundledModel | None:
    """The bundled grid25 model the page opens with, if any."""
    by_name = {m.name: m for m in models}
    for name in DEFAULT_NAMES:
        if name in by_name:
            return by_name[name]
    return next((m for m in models if m.config.data.dataset == DEFAULT_DATASET), None)


def load(store: Store, models_dir: Path) -> list[BundledModel]:
    return register(store, discover(models_dir))


# ---------------------------------------------------------------------------- image models (family "shapes")


def discover_shapes(models_dir: Path) -> list[BundledShapes]:
    """Every usable Simple Shapes ``*.safetensors`` in ``models_dir``, sorted by name; bad ones logged, skipped."""
    return [BundledShapes(path.stem, run_id, oracle_identity(checkpoint.config)[0], checkpoint.config, _card(path),
                          path)
            for path, checkpoint, run_id in _checkpoints(models_dir, images=True, load=load_unet_checkpoint)]


def load_shapes(store: Store, models_dir: Path) -> list[BundledShapes]:
    """Each Simple Shapes model a pinned, done trained run, and its exact denoiser a pinned, done oracle run."""
    return register(store, discover_shapes(models_dir))
