"""One image sampling request (Simple Shapes) as resumable work: meta, frames of x_t and x̂0 as bytes, the result.

The core's reverse process on the run's ``steps``-step strided chain (``server.shapes.sampling``), seeded like the
point session, driven a chunk at a time by the same ``ChainSession`` loop; the finished images are counted and
labelled (``server.shapes.counting``), scored by the trajectory variance over the window, and summarised with
Wilson intervals (``server.shapes.figures``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..diffusion.detectors import auroc, roc_curve, trajectory_variance
from ..diffusion.sampling import ReverseStep
from ..shapes.counting import DUPLICATE, KINDS, LABELS, count_shapes
from ..shapes.figures import label_figures
from ..shapes.geometry import SHAPES, geometry
from ..shapes.sampling import strided_schedule
from .denoisers import ImageModel
from .encode import finite_or_none
from .image_results import ImageResultArrays, to_u1
from .results import frame_payload
from .sample_session import CHUNK_SECONDS, ChainSession, SampleRequest


class ImageSession(ChainSession):
    def __init__(self, result_id: str, run_id: str, kind: str, model: ImageModel, request: SampleRequest, *,
                 threads: int | Callable[[], int]):
        super().__init__(result_id, run_id, kind, request, threads=threads)
        if request.steps is None:
            raise ValueError("an image request names its chain length (steps)")
        self.model, self.steps = model, request.steps
        self._frame_x: list[np.ndarray] = []  # u1 (N, D) each, as sent
        self._frame_x0: list[np.ndarray] = []
        self._start(model.denoiser(self.steps), strided_schedule(model.config, self.steps), request.sampler.window,
                    request.frames)

    @property
    def config_json(self) -> str:
        return self.model.config.canonical_json()

    def meta(self) -> dict[str, Any]:
        sampler, config = self.request.sampler, self.model.config
        resolution = config.data.resolution
        geo = geometry(resolution)
        pace = self.model.seconds_per_image_step
        return {
            "family": "shapes", "run_id": self.run_id, "result_id": self.result_id, "kind": self.kind,
            "n": sampler.n, "resolution": resolution, "T": config.schedule.T, "steps": self.steps,
            "sampler": sampler.sampler, "eta": sampler.eta, "seed": sampler.seed, "window": self.window,
            "frame_ts": self.frame_ts,
            "columns": [{"shape": shape, "x": list(geo.column_bounds(c))} for c, shape in enumerate(SHAPES)],
            "labels": list(LABELS), "kinds": list(KINDS),
            "seconds_per_step": None if pace is None else round(pace * sampler.n, 4),
        }

    def advance(self, max_steps: int, max_seconds: float = CHUNK_SECONDS) -> list[dict[str, Any]]:
        """``ChainSession.advance``, timed: the run's measured pace is the next stream's estimate."""
        before, start = self.steps_done, time.perf_counter()
        frames = super().advance(max_steps, max_seconds)
        if self.steps_done > before:
            per_image_step = (time.perf_counter() - start) / ((self.steps_done - before) * self.request.sampler.n)
            self.model.seconds_per_image_step = per_image_step
        return frames

    def arrays(self, meta: dict[str, Any]) -> ImageResultArrays:
        """Counts, labels, variance, ROC and summary of the finished stream (after the last frame)."""
        samples = self._x.numpy()  # (N, D)
        x0_last = torch.stack(self._x0_last, dim=1).numpy()  # (N, K, D), t = K−1 … 0
        counts = count_shapes(samples, self.model.config.data.resolution)
        duplicate = counts.labels == DUPLICATE
        variance = trajectory_variance(x0_last)
        both = bool(duplicate.any() and (~duplicate).any())
        roc = roc_curve(variance, duplicate) if both else None
        empty = np.zeros(0)
        summary = {**label_figures(counts), "auroc": auroc(variance, duplicate) if both else None,
                   "duplicates": int(duplicate.sum())}
        comps = counts.components
        return ImageResultArrays.build(
            meta=meta, frame_t=self.frame_ts, frame_x=np.stack(self._frame_x), frame_x0=np.stack(self._frame_x0),
            samples=samples, label=counts.labels, counts=counts.counts, variance=variance, x0_last=x0_last,
            x0_last_t=np.arange(self.window - 1, -1, -1), comp_image=comps.image, comp_column=comps.column,
            comp_kind=comps.kind, comp_box=comps.box, roc_fpr=empty if roc is None else roc.fpr,
            roc_tpr=empty if roc is None else roc.tpr, roc_thresholds=empty if roc is None else roc.thresholds,
            summary=finite_or_none(summary),
        )

    def _frame_event(self, index: int, step: ReverseStep) -> dict[str, Any]:
        x = to_u1(step.x.numpy())
        x0 = None if step.x0_pred is None else to_u1(step.x0_pred.numpy())
        self._frame_x.append(x)
        if x0 is not None:
            self._frame_x0.append(x0)
        return frame_payload(index, step.t, x, x0, "u1")
