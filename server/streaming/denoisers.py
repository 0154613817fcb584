"""Denoisers for the sample stream, with a small LRU of loaded checkpoints.

An oracle run gets the exact mixture denoiser; a trained run loads its safetensors checkpoint once
and keeps the network in memory (a width-128 net is ~270 kB, loading it takes a few ms).
A loaded network is only read during sampling, so concurrent streams may share it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..diffusion.sampling import Denoiser
from ..gaussian.checkpoint import load_checkpoint
from ..gaussian.config import ExperimentConfig
from ..gaussian.denoisers import NetworkDenoiser, OracleDenoiser
from ..gaussian.experiment import ExperimentRun
from ..store import RunRecord, Store


@dataclass(frozen=True)
class LoadedModel:
    run: ExperimentRun  # schedule and exact mixture (for labels) of the run's config
    denoiser: Denoiser


class DenoiserCache:
    def __init__(self, store: Store, size: int):
        self._store = store
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, LoadedModel] = OrderedDict()
        self.loads = 0  # checkpoints read from disk (tests check the cache works)

    def get(self, record: RunRecord) -> LoadedModel:
        """The denoiser of a finished run. Raises ``CheckpointError`` if its file is missing or bad."""
        with self._lock:
            if record.run_id in self._entries:
                self._entries.move_to_end(record.run_id)
                return self._entries[record.run_id]
        model = self._load(record)  # outside the lock: a slow disk must not block cached lookups
        with self._lock:
            self._entries[record.run_id] = model
            self._entries.move_to_end(record.run_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return model

    def _load(self, record: RunRecord) -> LoadedModel:
        config = ExperimentConfig.model_validate_json(record.config_json)
        if record.kind == "oracle":
            run = ExperimentRun.from_config(config)
            return LoadedModel(run, OracleDenoiser(run.mixture, run.schedule))
        checkpoint = load_checkpoint(self._store.model_path(record.run_id))
        self.loads += 1
        return LoadedModel(ExperimentRun.from_config(checkpoint.config), NetworkDenoiser(checkpoint.net))
