"""Bundled models: ``models/{name}.safetensors`` (+ a JSON card ``models/{name}.json``) ready at start.

Each checkpoint becomes a pinned, done run under its config's run id, so posting the same config
returns it at once and the first page can sample grid25 with no training wait. The weights are
copied into the store (it owns its files; a repository checkout may change under a running server).
A bad file is logged and skipped: a broken bundle must never stop the lab from starting. Image checkpoints
(family "shapes", e.g. models/shapes32.safetensors) are for the CLI until the explorer shows images: they are
recognised by their metadata alone and passed over without a warning.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from ..diffusion.checkpoint import CheckpointError, write_atomic
from ..diffusion.config import ALGO_VERSION
from ..gaussian.checkpoint import load_checkpoint
from ..gaussian.config import ExperimentConfig
from ..store import Store
from ..streaming.encode import finite_or_none

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
        """The run's metrics in the API's shape (the card has no loss curve)."""
        steps: Any = self.card.get("train_steps")
        seconds: Any = self.card.get("train_seconds")
        loss: Any = self.card.get("final_loss")
        return {
            "steps": steps if isinstance(steps, int) and not isinstance(steps, bool) else self.config.train.steps,
            "train_seconds": float(seconds) if _is_number(seconds) else 0.0,
            "final_loss": float(loss) if _is_number(loss) else None,
            "loss_history": [],
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def discover(models_dir: Path) -> list[BundledModel]:
    """Every usable ``*.safetensors`` in ``models_dir``, sorted by name; bad ones are logged and skipped."""
    if not models_dir.is_dir():
        return []
    found: list[BundledModel] = []
    for path in sorted(models_dir.glob("*.safetensors"), key=lambda p: p.stem):
        if _family(path) in NOT_GAUSSIAN:
            log.info("bundled model %s is an image model: not served by the Gaussian pages", path.name)
            continue
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError as exc:
            log.warning("skipping bundled model %s: %s", path.name, exc)
            continue
        version = checkpoint.metadata.get("algo_version")
        if version != ALGO_VERSION:  # its run id (and its numbers) belong to another algorithm version
            log.warning("skipping bundled model %s: trained under algorithm version %r, this is %r",
                        path.name, version, ALGO_VERSION)
            continue
        run_id = checkpoint.config.run_id()
        twin = next((m for m in found if m.run_id == run_id), None)
        if twin is not None:  # one run, one preset: the same config twice is a packaging mistake
            log.warning("skipping bundled model %s: same config (run %s) as %s", path.name, run_id, twin.path.name)
            continue
        found.append(BundledModel(path.stem, run_id, checkpoint.config, _card(path), path))
    return found


def _family(path: Path) -> str | None:
    """The checkpoint's ``family`` metadata (the header only; a bad file answers None and fails later)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return (handle.metadata() or {}).get("family")
    except (SafetensorError, OSError, ValueError):
        return None


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


def register(store: Store, models: list[BundledModel]) -> list[BundledModel]:
    """Make each model a pinned, done run with its weights in the store; returns those registered.

    The bundled file wins over a run of the same config trained here: its card describes its weights."""
    registered: list[BundledModel] = []
    for model in models:
        try:
            _copy_if_changed(model.path, store.model_path(model.run_id))
        except OSError as exc:
            log.warning("skipping bundled model %s: cannot copy it into the store (%s)", model.name, exc)
            continue
        store.put(model.run_id, "trained", model.config.canonical_json(), "done", metrics=model.run_metrics(),
                  pinned=True)
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

