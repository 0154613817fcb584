"""One sampling request as resumable, synchronous work: meta, frames in small chunks, then the result.

The SSE route calls ``advance`` in a worker thread a few reverse steps at a time, so a client that
disconnects wastes at most one chunk, and a slow client (the route waits at ``yield``) costs no CPU.
Everything here is plain torch/numpy; encoding happens here too so the event loop only forwards bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..diffusion.config import SamplerConfig
from ..diffusion.detectors import roc_curve
from ..diffusion.sampling import ReverseStep, reverse_process, windowed_x0
from ..gaussian.ground_truth import SUPPORT_RADIUS_SIGMA, nearest_neighbour_pairs
from ..gaussian.metrics import score_samples
from .denoisers import LoadedModel
from .encode import finite_or_none, frame_timesteps
from .results import ResultArrays, frame_payload

CHUNK_SECONDS = 0.25  # a chunk ends after this long even short of its steps (results do not depend on it)
NOISE_BOUND = 4.0  # x_T ~ N(0, I): ±4 holds all of 10,000 particles with probability ≈ 0.5


@dataclass(frozen=True)
class SampleRequest:
    sampler: SamplerConfig
    frames: int


class SampleSession:
    def __init__(self, result_id: str, run_id: str, kind: str, model: LoadedModel, request: SampleRequest, *,
                 threads: int | Callable[[], int]):
        self.result_id, self.run_id, self.kind, self.model, self.request = result_id, run_id, kind, model, request
        self.threads = threads
        self.steps_done = 0  # reverse steps computed so far
        schedule = model.run.schedule
        self.window = min(request.sampler.window, schedule.T)
        self.frame_ts = frame_timesteps(schedule.T, request.frames)
        self._frame_set = set(self.frame_ts)
        sampler = request.sampler
        generator = torch.Generator().manual_seed(sampler.seed)  # as run_sampler: same seed, same particles
        self._steps = reverse_process(model.denoiser, schedule, n=sampler.n, generator=generator,
                                      sampler=sampler.sampler, eta=sampler.eta)
        self._frames_sent = 0
        self._frame_x: list[np.ndarray] = []  # kept for the stored result (permalinks, exports)
        self._frame_x0: list[np.ndarray] = []
        self._x0_last: list[torch.Tensor] = []  # x̂0 at t = K−1 … 0, each (N, D)
        self._x = torch.empty(0)
        self.finished = False

    # ------------------------------------------------------------------ events

    def meta(self) -> dict[str, Any]:
        mixture, sampler = self.model.run.mixture, self.request.sampler
        means, sigmas = mixture.means.numpy(), mixture.sigmas.numpy()
        pairs = nearest_neighbour_pairs(means) if len(means) > 1 else np.zeros((0, 2), dtype=int)
        return {
            "run_id": self.run_id, "result_id": self.result_id, "kind": self.kind, "n": sampler.n, "dim": mixture.dim,
            "T": self.model.run.schedule.T, "sampler": sampler.sampler, "eta": sampler.eta, "seed": sampler.seed,
            "window": self.window, "frame_ts": self.frame_ts, "means": means.tolist(), "sigmas": sigmas.tolist(),
            "weights": mixture.weights.numpy().round(12).tolist(),  # mode probabilities (sum to 1)
            "radius_sigma": SUPPORT_RADIUS_SIGMA, "nn_pairs": pairs.tolist(),
            **self._bounds(means, sigmas, pairs),
        }

    def advance(self, max_steps: int, max_seconds: float = CHUNK_SECONDS) -> list[dict[str, Any]]:
        """Run up to ``max_steps`` reverse steps, stopping early after a frame or once ``max_seconds`` have passed
        (at least one step: a wide, deep network's steps may take a second each, and a client that left is
        only noticed between chunks); returns the frame events."""
        # Per thread: this worker thread only; asked again each chunk, as other work comes and goes. A network
        # denoiser follows it with that many pool threads of its own (NetworkDenoiser), so no OpenMP team is
        # left spinning in whichever worker thread ran the chunk.
        torch.set_num_threads(self.threads() if callable(self.threads) else self.threads)
        frames: list[dict[str, Any]] = []
        computed = 0
        deadline = time.monotonic() + max_seconds
        while computed < max_steps and not frames and not self.finished:
            if computed and time.monotonic() > deadline:
                break
            step = next(self._steps)
            computed += step.x0_pred is not None
            self._keep(step)
            if step.t in self._frame_set:
                frames.append(self._frame(step))
        self.steps_done += computed
        return frames

    def arrays(self, meta: dict[str, Any]) -> ResultArrays:
        """Frames, labels, detector scores and summary of the finished stream (after the last frame)."""
        mixture = self.model.run.mixture
        samples = self._x.numpy()  # (N, D)
        x0_last = torch.stack(self._x0_last, dim=1).numpy()  # (N, K, D), t = K−1 … 0
        scored = score_samples(samples, x0_last, mixture)
        labels, variance = scored.labels, scored.variance  # (N,) each
        roc = roc_curve(variance, labels.hallucinated)
        summary = finite_or_none(scored.summary)
        return ResultArrays.build(
            meta=meta, frame_t=self.frame_ts, frame_x=np.stack(self._frame_x), frame_x0=np.stack(self._frame_x0),
            samples=samples, label=labels.label, nearest_mode=labels.nearest_mode, between=labels.between,
            distance_sigma=labels.distance_sigma, variance=variance, x0_last=x0_last,
            x0_last_t=np.arange(self.window - 1, -1, -1), roc_fpr=roc.fpr, roc_tpr=roc.tpr,
            roc_thresholds=roc.thresholds, summary=summary,
        )

    def result(self) -> dict[str, Any]:
        """The `result` event of the finished stream."""
        return self.arrays(self.meta()).result()

    # ------------------------------------------------------------------ helpers

    def _keep(self, step: ReverseStep) -> None:
        self._x = step.x
        kept = windowed_x0(step, self.window)
        if kept is not None:
            self._x0_last.append(kept)
        if step.t == 0:
            self.finished = True

    def _frame(self, step: ReverseStep) -> dict[str, Any]:
        index = self._frames_sent
        self._frames_sent += 1
        x, x0 = step.x.numpy(), None if step.x0_pred is None else step.x0_pred.numpy()
        self._frame_x.append(x)
        if x0 is not None:
            self._frame_x0.append(x0)
        return frame_payload(index, step.t, x, x0)

    def _bounds(self, means: np.ndarray, sigmas: np.ndarray, pairs: np.ndarray) -> dict[str, Any]:
        """Axis ranges: ``bounds`` hold the whole trajectory (noise included), ``data_bounds`` the modes.

        ``y`` is None for 1D data (the page puts t or a histogram there)."""
        pad = 6 * float(sigmas.max())
        if len(pairs):
            pad = max(pad, 0.5 * float(np.linalg.norm(means[pairs[:, 0]] - means[pairs[:, 1]], axis=1).min()))
        lo, hi = (means.min(axis=0) - pad).round(4).tolist(), (means.max(axis=0) + pad).round(4).tolist()  # (D,)
        data: dict[str, list[float] | None] = {"x": [lo[0], hi[0]], "y": None}
        full: dict[str, list[float] | None] = {"x": [min(-NOISE_BOUND, lo[0]), max(NOISE_BOUND, hi[0])], "y": None}
        if means.shape[1] == 2:
            data["y"] = [lo[1], hi[1]]
            full["y"] = [min(-NOISE_BOUND, lo[1]), max(NOISE_BOUND, hi[1])]
        return {"bounds": full, "data_bounds": data}
