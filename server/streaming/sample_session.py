"""One sampling request as resumable, synchronous work: meta, frames in small chunks, then the result.

The SSE route calls ``advance`` in a worker thread a few reverse steps at a time, so a client that
disconnects wastes at most one chunk, and a slow client (the route waits at ``yield``) costs no CPU.
Everything here is plain torch/numpy; encoding happens here too so the event loop only forwards bytes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from ..diffusion.config import SamplerConfig
from ..diffusion.detectors import roc_curve
from ..diffusion.sampling import Denoiser, ReverseStep, reverse_process, windowed_x0
from ..diffusion.schedule import NoiseSchedule
from ..gaussian.ground_truth import SUPPORT_RADIUS_SIGMA, nearest_neighbour_pairs
from ..gaussian.metrics import score_samples
from .denoisers import LoadedModel
from .encode import finite_or_none, frame_timesteps
from .image_results import StreamResult
from .results import ResultArrays, frame_payload

CHUNK_SECONDS = 0.25  # a chunk ends after this long even short of its steps (results do not depend on it)
NOISE_BOUND = 4.0  # x_T ~ N(0, I): ±4 holds all of 10,000 particles with probability ≈ 0.5


@dataclass(frozen=True)
class SampleRequest:
    sampler: SamplerConfig
    frames: int
    steps: int | None = None  # image runs: the strided chain's length (divides T); None for Gaussian runs (T)


class ChainSession:
    """What every sample session shares: the reverse chain driven a chunk at a time, its frames, its x̂0 window.

    A subclass sets up the chain (``_start``) and says what a frame, the meta and the arrays are."""

    def __init__(self, result_id: str, run_id: str, kind: str, request: SampleRequest, *,
                 threads: int | Callable[[], int]):
        self.result_id, self.run_id, self.kind, self.request = result_id, run_id, kind, request
        self.threads = threads
        self.steps_done = 0  # reverse steps computed so far
        self.finished = False
        self._x0_last: list[torch.Tensor] = []  # x̂0 at t = K−1 … 0, each (N, D)
        self._x = torch.empty(0)
        self._frames_sent = 0

    def _start(self, denoiser: Denoiser, schedule: NoiseSchedule, window: int, frames: int) -> None:
        sampler = self.request.sampler
        self.window = min(window, schedule.T)
        self.frame_ts = frame_timesteps(schedule.T, frames)
        self._frame_set = set(self.frame_ts)
        generator = torch.Generator().manual_seed(sampler.seed)  # as run_sampler: same seed, same particles
        self._steps = reverse_process(denoiser, schedule, n=sampler.n, generator=generator,
                                      sampler=sampler.sampler, eta=sampler.eta)

    @property
    def config_json(self) -> str:
        """The run's canonical config (written into the stored result, for a lost index)."""
        raise NotImplementedError

    def meta(self) -> dict[str, Any]:
        raise NotImplementedError

    def _frame_event(self, index: int, step: ReverseStep) -> dict[str, Any]:
        """The `frame` event of ``step``; keeps what the stored result needs."""
        raise NotImplementedError

    def arrays(self, meta: dict[str, Any]) -> StreamResult:
        """Frames, labels, detector scores and summary of the finished stream (after the last frame)."""
        raise NotImplementedError

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
                frames.append(self._frame_event(self._next_index(), step))
        self.steps_done += computed
        return frames

    def result(self) -> dict[str, Any]:
        """The `result` event of the finished stream."""
        return self.arrays(self.meta()).result()

    def _keep(self, step: ReverseStep) -> None:
        self._x = step.x
        kept = windowed_x0(step, self.window)
        if kept is not None:
            self._x0_last.append(kept)
        if step.t == 0:
            self.finished = True

    def _next_index(self) -> int:
        self._frames_sent += 1
        return self._frames_sent - 1


class SampleSession(ChainSession):
    def __init__(self, result_id: str, run_id: str, kind: str, model: LoadedModel, request: SampleRequest, *,
                 threads: int | Callable[[], int]):
        super().__init__(result_id, run_id, kind, request, threads=threads)
        self.model = model
        self._frame_x: list[np.ndarray] = []  # kept for the stored result (permalinks, exports)
        self._frame_x0: list[np.ndarray] = []
        self._start(model.denoiser, model.run.schedule, request.sampler.window, request.frames)

    @property
    def config_json(self) -> str:
        return self.model.run.config.canonical_json()

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

    # ------------------------------------------------------------------ helpers

    def _frame_event(self, index: int, step: ReverseStep) -> dict[str, Any]:
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


class SampleExecutor(Protocol):
    """Where a computation's chunks run (``server.jobs.executor``: this process or a Ray cluster)."""

    shares_cpu: bool  # chunks use this machine's cores (streams take turns); False: a cluster schedules them

    async def advance(self, session: ChainSession, chunk_steps: int) -> list[dict[str, Any]]:
        """The next chunk: its frame events (``SampleSession.advance``); sets ``steps_done`` and ``finished``."""
        ...

    async def arrays(self, session: ChainSession, meta: dict[str, Any]) -> StreamResult:
        """The finished computation's arrays (``SampleSession.arrays``)."""
        ...

    def discard(self, session: ChainSession) -> None:
        """The computation ended (finished, failed or abandoned): stop its work and free what it holds."""
        ...


class LocalSampleExecutor:
    """Chunks in worker threads of this process."""

    shares_cpu = True

    async def advance(self, session: ChainSession, chunk_steps: int) -> list[dict[str, Any]]:
        return await asyncio.to_thread(session.advance, chunk_steps)

    async def arrays(self, session: ChainSession, meta: dict[str, Any]) -> StreamResult:
        return await asyncio.to_thread(session.arrays, meta)

    def discard(self, session: ChainSession) -> None:
        pass
