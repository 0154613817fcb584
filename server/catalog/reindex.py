"""Index again what the run store holds on disk but its database does not know (a lost or new index).

Called once at start-up, after ``Store.open``: every run directory and result file without a row is
read, checked and indexed, or, when it cannot be used, moved to ``quarantine/<time>/`` and logged.
Nothing is deleted. The files carry all an index needs:

* ``runs/{id}/model.safetensors``: the config in its metadata (``server.diffusion.checkpoint``); the run
  id must be that config's, so a model of another algorithm version is set aside, not misfiled.
* ``results/{id}.npz``: its meta (run id, sampler parameters) and its run's kind and config; the result
  id must hash back from them. Exact-denoiser runs have no file of their own and come back from these.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..diffusion.checkpoint import CheckpointError
from ..diffusion.config import SamplerConfig
from ..gaussian.checkpoint import load_checkpoint
from ..gaussian.config import ExperimentConfig
from ..shapes.checkpoint import load_unet_checkpoint
from ..shapes.config import ShapesConfig, oracle_identity
from ..store import MODEL_FILE, RESULT_SUFFIX, Store, file_stamp, is_run_id
from ..streaming.artifacts import load_any_result
from ..streaming.families import checkpoint_family, parse_config
from ..streaming.results import ResultDamaged, result_id, result_params, stored_run
from .bundled import card_metrics
from .presets import run_identity

log = logging.getLogger(__name__)


class Unusable(Exception):
    """An artifact that cannot be indexed; the message says why."""


@dataclass
class Reindexed:
    runs: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    quarantined: list[tuple[Path, str]] = field(default_factory=list)  # (new place, reason)


def reindex(store: Store) -> Reindexed:
    """Index every unindexed model and result that checks out; quarantine the rest (see module doc)."""
    report = Reindexed()
    stamp = file_stamp()
    run_dirs, result_files = store.unindexed()
    for path in run_dirs:
        try:
            report.runs.append(_index_run(store, path))
        except Unusable as exc:
            report.quarantined.append((store.quarantine(path, stamp), str(exc)))
    for path in result_files:
        try:
            report.results.append(_index_result(store, path))
        except Unusable as exc:
            report.quarantined.append((store.quarantine(path, stamp), str(exc)))
    if report.runs or report.results:
        log.warning("indexed again from their files (no row in the run index): %d trained model(s), %d stored "
                    "result(s)", len(report.runs), len(report.results))
    for place, reason in report.quarantined:
        log.warning("moved %s aside to %s: %s (nothing was deleted; remove it once you do not need it)",
                    place.name, place.parent, reason)
    return report


def _index_run(store: Store, path: Path) -> str:
    if not path.is_dir() or not is_run_id(path.name):
        raise Unusable("not a run directory of this lab")
    model = path / MODEL_FILE
    extra = sorted(p.name for p in path.iterdir() if p.name != MODEL_FILE)
    if extra:
        raise Unusable(f"unexpected files in a run directory: {', '.join(extra[:5])}")
    config: ExperimentConfig | ShapesConfig
    try:  # format, config and every tensor's shape: a truncated file fails here
        if checkpoint_family(model) == "shapes":
            image = load_unet_checkpoint(model)
            config, metadata = image.config, image.metadata
        else:
            checkpoint = load_checkpoint(model)
            config, metadata = checkpoint.config, checkpoint.metadata
    except CheckpointError as exc:
        raise Unusable(str(exc).removeprefix(f"{model}: ")) from exc
    if config.run_id() != path.name:
        raise Unusable(f"the checkpoint's config is run {config.run_id()}, not {path.name} "
                       f"(trained under algorithm version {metadata.get('algo_version')!r}?)")
    store.restore_run(path.name, "trained", config.canonical_json(), _metrics(config, metadata),
                      model.stat().st_mtime)
    return path.name


def _metrics(config: ExperimentConfig | ShapesConfig, metadata: dict[str, str]) -> dict[str, Any]:
    """The run's metrics in the API's shape, from what the checkpoint recorded (the loss curve is lost)."""
    recorded = {"train_seconds": _number(metadata.get("train_seconds")),
                "final_loss": _number(metadata.get("final_loss"))}
    return card_metrics(recorded, config.train.steps)


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value == value and abs(value) != float("inf") else None


def _index_result(store: Store, path: Path) -> str:
    if not path.is_file() or path.suffix != RESULT_SUFFIX or not is_run_id(path.stem):
        raise Unusable("not a result file of this lab")
    try:
        arrays = load_any_result(path)
    except ResultDamaged as exc:
        raise Unusable(str(exc)) from exc
    meta = arrays.meta
    try:
        sampler = SamplerConfig(sampler=meta["sampler"], eta=meta["eta"], n=meta["n"], seed=meta["seed"],
                                window=meta["window"])
        run_id, frames = str(meta["run_id"]), len(meta["frame_ts"])
        steps = int(meta["steps"]) if meta.get("family") == "shapes" else None  # image results name their chain
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise Unusable("its meta lacks the sampler parameters") from exc
    if result_id(run_id, sampler, frames, steps) != path.stem:
        raise Unusable("its meta does not hash to its name (another algorithm version, or renamed)")
    if store.get(run_id) is None:
        _restore_exact_run(store, path, run_id)
    params = json.dumps(result_params(sampler, frames, steps), sort_keys=True)
    if not store.add_result(path.stem, run_id, params, created=path.stat().st_mtime):
        raise Unusable(f"its run {run_id} is not stored (its model file is missing or was set aside)")
    return path.stem


def _restore_exact_run(store: Store, path: Path, run_id: str) -> None:
    """An exact-denoiser run has no file of its own: its results name its config."""
    run = stored_run(path)
    if run is None or run.kind != "oracle":
        return
    try:
        config = parse_config(run.config_json)
    except ValidationError:
        return
    identity, oracle = (oracle_identity(config) if isinstance(config, ShapesConfig)
                        else run_identity("oracle", config))
    if identity == run_id:
        store.restore_run(run_id, "oracle", oracle.canonical_json(), None, path.stat().st_mtime)

