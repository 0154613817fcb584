"""The Gaussian family's denoisers: a trained ``ResidualMLP`` and the exact mixture ε* (the oracle).

Both satisfy the core's ``Denoiser`` protocol (``server/diffusion/sampling.py``), so they run through the
very same reverse steps and the same seeded noise.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ..diffusion.cancel import CancelToken, check
from ..diffusion.parallel import chunk_pool
from ..diffusion.sampling import Denoiser
from ..diffusion.schedule import NoiseSchedule
from . import rowtile
from .mixture import GaussianMixture
from .nets import ResidualMLP

# On a CPU the particles go through the network in slices of this many rows: (rows, W) activations stay in cache
# between layers, and each slice is one unit of work for a thread. Measured on 2 cores with the fused LayerNorm
# (ms per 1,000 particles per step, 1 thread / 2 threads): 512 rows 2.06 / 1.64, 1,000 rows 2.08 / 1.32, one
# 2,000-row pass 2.02 / 1.99; at 10,000 particles 1,000 rows is best too (1.95 / 1.19).
CPU_CHUNK_ROWS = 1000
# The row-tile kernel's unit of work for a thread: this many ``rowtile.TILE_ROWS``-row tiles per call (a call
# costs ~2 µs to dispatch, two tiles ~0.6 ms to compute).
CLAIM_TILES = 2


class NetworkDenoiser:
    """A trained ``ResidualMLP``; the time path runs once per step on a single (1, W) row.

    On a CPU the particles go through the network in fixed ``CPU_CHUNK_ROWS`` slices, shared among ``threads``
    Python threads, each running single-threaded torch ops (the ops and the fused kernel release the GIL). Every
    slice is computed the same way whoever computes it, so results are bit-identical at any thread count. On 2
    cores this beats 2 OpenMP threads (1.32 vs 1.48 ms per 1,000 particles per step), and it leaves no spinning
    OpenMP team behind in whichever worker thread called (the web server runs steps on varying threads).
    ``threads`` None follows ``torch.get_num_threads()`` of the calling thread; the denoiser's one owner may
    change it between steps. ``cancel`` is checked before every slice (``Cancelled``): one step of a wide,
    deep network over thousands of particles can take seconds, a slice a fraction of one.

    Where ``rowtile.available()``, the threads instead claim runs of ``CLAIM_TILES`` ``rowtile.TILE_ROWS``-row
    tiles, one compiled call each (fixed tiles from row 0, so again the same bits at any thread count); the
    weights are copied for it here, so the net must not change while this denoiser samples.
    """

    def __init__(self, net: ResidualMLP, *, threads: int | None = None, cancel: CancelToken | None = None):
        self.net = net.eval()
        self.dim = net.dim
        self.threads = threads
        self.cancel = cancel
        on_cpu = all(p.device.type == "cpu" for p in net.parameters())
        self._tiles = rowtile.RowTileNet(self.net) if on_cpu and rowtile.available() else None

    @torch.inference_mode()
    def predict_eps(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        if x_t.device.type != "cpu":
            check(self.cancel)
            return self.net.forward_with_shifts(x_t, self._time_shifts(t, x_t.device))
        tiles = self._tiles if x_t.dtype == torch.float32 else None
        x_t = x_t.contiguous() if tiles is not None else x_t
        eps = torch.empty_like(x_t)
        starts = range(0, x_t.shape[0], CPU_CHUNK_ROWS if tiles is None else rowtile.TILE_ROWS)
        workers = max(1, min(self.threads or torch.get_num_threads(), len(starts)))
        # The kernel's (B, W) time shifts, once per step for all workers (a compiled call, no torch op, so the
        # caller's thread count cannot change their bits); computed per worker by torch's (1, W) ops, they had cost
        # 0.3 ms a step at 1 thread and 0.5 ms in each worker at 2 (GIL contention), every step waiting for them.
        shifts = tiles.time_shifts(t) if tiles is not None else None
        tile_starts, claims = np.asarray(starts), itertools.count()
        per_claim = CLAIM_TILES if workers > 1 else len(tile_starts)  # alone: one call for the whole step

        def run(share: int) -> None:
            if torch.get_num_threads() != 1:
                torch.set_num_threads(1)  # per thread (OpenMP): a slice's ops stay on the thread that computes it
            with torch.inference_mode():  # thread-local, so entered in each worker
                if tiles is not None and shifts is not None:
                    # Each worker claims runs of CLAIM_TILES tiles until none is left (``next`` on a count is
                    # atomic under the GIL): a worker that starts late or loses its core to another process
                    # leaves its tiles to the others, where fixed shares had made every step wait for it.
                    x_np, eps_np = x_t.numpy(), eps.numpy()
                    while (first := next(claims) * per_claim) < len(tile_starts):
                        check(self.cancel)
                        tiles.forward(x_np, tile_starts[first:first + per_claim], shifts, eps_np)
                    return
                net_shifts = self._time_shifts(t, x_t.device)  # per worker: a few (1, W) ops, same bits everywhere
                for start in starts[share::workers]:
                    check(self.cancel)
                    rows = slice(start, start + CPU_CHUNK_ROWS)
                    eps[rows] = self.net.forward_with_shifts(x_t[rows], net_shifts)

        if workers == 1 and torch.get_num_threads() == 1:
            run(0)  # a single-threaded caller computes it itself (a hand-off to the pool costs ~0.2 ms a step)
            return eps
        # Otherwise all the work runs on pool threads, none on the caller: the caller may have several OpenMP
        # threads, and any op it ran would leave its thread team spinning on the cores the pool needs (measured:
        # 4.3 vs 2.8 ms per 2,000-particle step), while switching its thread count each step cost more (4.9 ms).
        for future in [chunk_pool().submit(run, share) for share in range(workers)]:
            future.result()
        return eps

    def _time_shifts(self, t: int, device: torch.device) -> list[torch.Tensor]:
        return self.net.time_shifts(self.net.time_features(torch.tensor([t], device=device)))  # (1, W) each


class OracleDenoiser:
    """The exact ε*(x, t) of the training mixture: what a perfect ε-network would output.

    ``cancel`` is checked before every call (one call: N × K float64 work, milliseconds at the API's sizes)."""

    def __init__(self, mixture: GaussianMixture, schedule: NoiseSchedule, *, cancel: CancelToken | None = None):
        self.mixture = mixture
        self.schedule = schedule
        self.dim = mixture.dim
        self.cancel = cancel

    def predict_eps(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        check(self.cancel)
        a, s = self.schedule.signal_scale(t), self.schedule.noise_scale(t)
        # The mixture maths runs in float64 on the CPU (cheap: N × K work per step).
        return self.mixture.eps_star(x_t.cpu(), a, s).to(x_t.device, torch.float32)


def with_cancel(denoiser: Denoiser, cancel: CancelToken | None) -> Denoiser:
    """The same denoiser checking ``cancel`` (a network is shared, not copied): for a loaded model that
    several requests share, each computation gets its own token."""
    if isinstance(denoiser, NetworkDenoiser):
        return NetworkDenoiser(denoiser.net, threads=denoiser.threads, cancel=cancel)
    if isinstance(denoiser, OracleDenoiser):
        return OracleDenoiser(denoiser.mixture, denoiser.schedule, cancel=cancel)
    raise TypeError(f"no cancellable form of {type(denoiser).__name__}")
