"""The run store as a sweep's ``ModelStore``: every trained sweep point becomes a stored run.

So a sweep point can be opened in the explorer (``/run/{run_id}``) like any run trained from the
page, and a point whose cached figures were evicted is sampled again from its stored model instead
of being trained again. A run the training queue already holds (queued, running or done) is left
to it: both would write the same config, and the queue owns its runs' status.
"""

from __future__ import annotations

import logging
from typing import Any

from ..analysis.sweeps import TrainedModel
from ..diffusion.checkpoint import CheckpointError
from ..gaussian.checkpoint import load_checkpoint, save_checkpoint
from ..gaussian.config import ExperimentConfig
from ..store import Store

log = logging.getLogger(__name__)


class StoreModels:
    def __init__(self, store: Store):
        self.store = store

    def load(self, config: ExperimentConfig) -> TrainedModel | None:
        run_id = config.run_id()
        record = self.store.get(run_id)
        if record is None or record.kind != "trained" or record.status != "done":
            return None
        try:
            checkpoint = load_checkpoint(self.store.model_path(run_id))
        except CheckpointError as exc:  # evicted meanwhile, or damaged: train it again
            log.warning("sweep: stored run %s unusable (%s); training it again", run_id, exc)
            return None
        if checkpoint.config != config:
            return None
        metrics = record.metrics or {}
        seconds, loss = metrics.get("train_seconds"), metrics.get("final_loss")
        self.store.touch(run_id)
        return TrainedModel(checkpoint.net, float(seconds) if isinstance(seconds, int | float) else 0.0,
                            float(loss) if isinstance(loss, int | float) else None)

    def save(self, config: ExperimentConfig, model: TrainedModel) -> None:
        run_id = config.run_id()
        record = self.store.get(run_id)
        if record is not None and (record.active or record.status == "done"):
            return  # the training queue has it (a failed or cancelled run is replaced)
        loss = f"{model.final_loss:.6f}" if model.final_loss is not None else ""
        save_checkpoint(self.store.model_path(run_id), model.net, config,
                        train_seconds=f"{model.train_seconds:.2f}", final_loss=loss)
        metrics: dict[str, Any] = {"steps": config.train.steps, "train_seconds": round(model.train_seconds, 3),
                                   "final_loss": model.final_loss, "loss_history": []}
        self.store.put(run_id, "trained", config.canonical_json(), "done", metrics=metrics)
