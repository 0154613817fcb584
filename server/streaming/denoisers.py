"""Denoisers for the sample stream, with a small LRU of loaded checkpoints.

An oracle run gets the exact mixture denoiser; a trained run loads its safetensors checkpoint once
and keeps the network in memory (a width-128 net is ~270 kB, loading it takes a few ms).
A loaded network is only read during sampling, so concurrent streams may share it.

Image runs (family "shapes", ``server.streaming.families``) keep their U-Net, or for the exact denoiser the training
set as float64 (40 MB at 32×32), once per run; the denoiser of a chain length (``ImageModel.denoiser(steps)``) is a
thin wrapper built per request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import torch

from ..diffusion.sampling import Denoiser
from ..gaussian.checkpoint import Checkpoint, load_checkpoint
from ..gaussian.config import ExperimentConfig
from ..gaussian.denoisers import NetworkDenoiser, OracleDenoiser
from ..gaussian.experiment import ExperimentRun
from ..shapes.checkpoint import load_unet_checkpoint
from ..shapes.config import ShapesConfig
from ..shapes.oracle import ImageOracle
from ..shapes.sampling import oracle_denoiser, strided_schedule, unet_denoiser
from ..shapes.unet import UNet
from ..store import RunRecord, Store
from .families import parse_config


@dataclass(frozen=True)
class LoadedModel:
    run: ExperimentRun  # schedule and exact mixture (for labels) of the run's config
    denoiser: Denoiser


@dataclass
class ImageModel:
    """An image run in memory: its U-Net, or (``net`` None) the exact denoiser of its training set."""

    config: ShapesConfig
    net: UNet | None
    oracle: ImageOracle | None  # on the full T-step chain; its float64 training set is shared by every chain length
    # The next stream's estimate: a probe at load (``probe_pace``), then what the last stream of this run measured.
    seconds_per_image_step: float | None = None

    def denoiser(self, steps: int) -> Denoiser:
        """The denoiser on the ``steps``-step strided chain (``steps`` divides T)."""
        if self.net is not None:
            return unet_denoiser(self.net, self.config, steps)
        assert self.oracle is not None
        return ImageOracle(self.oracle.images, strided_schedule(self.config, steps))  # float64 already: no copy


AnyModel = LoadedModel | ImageModel


class DenoiserCache:
    def __init__(self, store: Store, size: int):
        self._store = store
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, AnyModel] = OrderedDict()
        self.loads = 0  # checkpoints read from disk (tests check the cache works)

    def get(self, record: RunRecord) -> AnyModel:
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

    def _load(self, record: RunRecord) -> AnyModel:
        config = parse_config(record.config_json)
        if isinstance(config, ShapesConfig):
            return self._load_image(record, config)
        if record.kind == "oracle":
            return loaded_model(config, None)
        checkpoint = load_checkpoint(self._store.model_path(record.run_id))
        self.loads += 1
        return loaded_model(checkpoint.config, checkpoint)

    def _load_image(self, record: RunRecord, config: ShapesConfig) -> ImageModel:
        if record.kind == "oracle":
            model = ImageModel(config, None, oracle_denoiser(config, config.schedule.T))
        else:
            checkpoint = load_unet_checkpoint(self._store.model_path(record.run_id))
            self.loads += 1
            model = ImageModel(checkpoint.config, checkpoint.net, None)
        model.seconds_per_image_step = probe_pace(model)
        return model


PACE_PROBE_IMAGES = 8


def probe_pace(model: ImageModel) -> float:
    """Seconds per image and reverse step: one denoiser call on ``PACE_PROBE_IMAGES`` blank images (tens of ms), so
    that even the first stream of a run (often the start-up warm-up, whose meta is stored) can say how long it takes."""
    denoiser = model.denoiser(model.config.schedule.T)
    blank = torch.zeros(PACE_PROBE_IMAGES, model.config.data.resolution ** 2)  # (n, H·W), no randomness needed
    start = time.perf_counter()
    with torch.inference_mode():
        denoiser.predict_eps(blank, 0)
    return (time.perf_counter() - start) / PACE_PROBE_IMAGES


def loaded_model(config: ExperimentConfig, checkpoint: Checkpoint | None) -> LoadedModel:
    """The exact denoiser of ``config`` (an oracle run: no checkpoint), else the checkpoint's network."""
    if checkpoint is None:
        run = ExperimentRun.from_config(config)
        return LoadedModel(run, OracleDenoiser(run.mixture, run.schedule))
    return LoadedModel(ExperimentRun.from_config(checkpoint.config), NetworkDenoiser(checkpoint.net))
