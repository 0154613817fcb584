"""The whole residual MLP for a range of rows in one compiled call: the CPU sampling path's network.

Per tile of ``TILE_ROWS`` particles, every layer runs before the next tile starts, so the tile's (rows, W)
activations stay in the core's cache from the input projection to ε̂, and a step costs one Python call per thread
instead of ~16 torch calls and fresh (rows, W) tensors per 1,000-row slice. The 128×128 products go to the
BLAS ``sgemm_`` that torch itself links (MKL in the x86 wheels), called from numba without the GIL; norms, the
time shift, the activations and the two thin products (D→W in, W→D out) are numba loops. Same maths as
``ResidualMLP.forward_with_shifts``, different rounding only (tests/unit/test_rowtile.py).

Where torch's library exports no ``sgemm_`` (``available()`` is False) the denoiser keeps its torch path.
numba compiles the kernel on first use and caches it on disk; ``warm_up`` does that at server start-up.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import Any

import llvmlite.binding
import numba
import numpy as np
import torch

from ..diffusion.layers import sinusoidal_frequencies
from .fused import _layer_norm_leaky_relu
from .nets import NEGATIVE_SLOPE, ResidualMLP

# Rows per tile: (TILE_ROWS, W) float32 buffers × 3 plus the two W×W weights fit a 1 MiB L2 at W = 128.
TILE_ROWS = 128


def _sgemm_address() -> int | None:
    """Address of the Fortran ``sgemm_`` in torch's CPU library, or None where it exports none."""
    path = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        return ctypes.cast(ctypes.CDLL(path).sgemm_, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None


@functools.cache
def available() -> bool:
    """Whether the one-call kernel can run here (torch's library exports a BLAS ``sgemm_``).

    True also makes the symbol known to numba's linker, so the kernel (which names it) compiles or loads."""
    address = _sgemm_address()
    if address is None:
        return False
    llvmlite.binding.add_symbol("sgemm_", address)
    return True


# sgemm_(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc): every argument by reference (addresses
# as intp). Named, not embedded as an address, so numba can cache the kernel on disk.
_sgemm: Any = numba.types.ExternalFunction("sgemm_", numba.types.void(*[numba.types.intp] * 13))


# The kernel's callees are inlined into it at numba's IR level, from dispatchers of its own: a callee compiled
# separately first (fused.warm_up compiles ``_layer_norm_leaky_relu`` at start-up) would otherwise be linked as
# that separate compilation, and ``_forward`` would round differently in a process that ran it (measured: the web
# process vs a Ray worker, same inputs, different last bits).
_norm_act = numba.njit(inline="always", fastmath=True, nogil=True, cache=True, error_model="numpy",
                       boundscheck=False)(_layer_norm_leaky_relu.py_func)


@numba.njit(inline="always", fastmath=True, nogil=True, cache=True, error_model="numpy", boundscheck=False)
def _layer_norm(h: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: np.float32, out: np.ndarray) -> None:
    rows, width = h.shape
    inv_width = np.float32(1.0) / np.float32(width)
    for i in range(rows):
        total = np.float32(0.0)
        for j in range(width):
            total += h[i, j]
        mean = total * inv_width
        squares = np.float32(0.0)
        for j in range(width):
            d = h[i, j] - mean
            squares += d * d
        scale = np.float32(1.0) / np.sqrt(squares * inv_width + eps)
        for j in range(width):
            out[i, j] = (h[i, j] - mean) * scale * gamma[j] + beta[j]


@numba.njit(fastmath=True, nogil=True, cache=True, error_model="numpy", boundscheck=False)
def _forward(x: np.ndarray, starts: np.ndarray, w_in: np.ndarray, fc1: np.ndarray, fc2: np.ndarray,
            shifts: np.ndarray, norms: np.ndarray, eps: np.ndarray, out_norm: np.ndarray, out_eps: np.float32,
            w_out: np.ndarray, b_out: np.ndarray, slope: np.float32, tile: int, result: np.ndarray) -> None:
    """result[s:s+tile] = ε̂(x[s:s+tile]) for each s in ``starts``.

    x (N, D); w_in (W, D); fc1, fc2 (B, W, W) as nn.Linear stores them (out, in); shifts (B, W);
    norms (B, 4, W) = gamma1, beta1, gamma2, beta2; eps (B, 2); out_norm (2, W); w_out (D, W); b_out (D,)."""
    n, dim = x.shape
    width = w_in.shape[0]
    h = np.empty((tile, width), np.float32)  # the residual stream
    a = np.empty((tile, width), np.float32)  # a layer's normed, activated input
    u = np.empty((tile, width), np.float32)  # fc1's output plus the time shift
    # sgemm_ takes everything by reference. Row-major (rows, W) @ weightᵀ is, column-major,
    # C (W × rows) = op(weight memory read as W × W, transposed) · (W × rows): transa 'T', transb 'N'.
    chars = np.array([84, 78], np.uint8)  # 'T', 'N'
    dims = np.array([width, 0], np.int32)  # m = k = lda = ldb = ldc = W; n = rows (set per tile)
    scalars = np.array([1.0, 1.0], np.float32)  # alpha, beta (accumulate into C)
    for s in starts:
        rows = min(tile, n - s)
        dims[1] = rows
        hv, av, uv = h[:rows], a[:rows], u[:rows]
        for i in range(rows):  # in_fc: D → W, no bias
            for j in range(width):
                acc = np.float32(0.0)
                for k in range(dim):
                    acc += x[s + i, k] * w_in[j, k]
                h[i, j] = acc
        for b in range(fc1.shape[0]):
            _norm_act(hv, norms[b, 0], norms[b, 1], eps[b, 0], slope, av)
            for i in range(rows):
                for j in range(width):
                    u[i, j] = shifts[b, j]
            _sgemm(chars.ctypes.data, chars[1:].ctypes.data, dims.ctypes.data, dims[1:].ctypes.data,
                  dims.ctypes.data, scalars.ctypes.data, fc1[b].ctypes.data, dims.ctypes.data, a.ctypes.data,
                  dims.ctypes.data, scalars[1:].ctypes.data, u.ctypes.data, dims.ctypes.data)
            _norm_act(uv, norms[b, 2], norms[b, 3], eps[b, 1], slope, av)
            _sgemm(chars.ctypes.data, chars[1:].ctypes.data, dims.ctypes.data, dims[1:].ctypes.data,
                  dims.ctypes.data, scalars.ctypes.data, fc2[b].ctypes.data, dims.ctypes.data, a.ctypes.data,
                  dims.ctypes.data, scalars[1:].ctypes.data, h.ctypes.data, dims.ctypes.data)
        _layer_norm(hv, out_norm[0], out_norm[1], out_eps, av)
        for i in range(rows):  # out_fc: W → D with bias
            for k in range(dim):
                acc = np.float32(0.0)
                for j in range(width):
                    acc += a[i, j] * w_out[k, j]
                result[s + i, k] = acc + b_out[k]


@numba.njit(fastmath=True, nogil=True, cache=True, error_model="numpy", boundscheck=False)
def _time_shifts(t: np.float32, freqs: np.ndarray, t_proj_w: np.ndarray, t_proj_b: np.ndarray, enc_w: np.ndarray,
                 enc_b: np.ndarray, slope: np.float32, shifts: np.ndarray) -> None:
    """shifts[b] = enc_b(act(t_proj([sin(t·f) | cos(t·f) | 0]))): ``ResidualMLP``'s time path for one timestep.

    freqs (W // 2,); t_proj_w (W, W); enc_w (B, W, W); shifts (B, W). A standalone compilation of its own, called
    from Python once per step, so its rounding depends on nothing else the process compiled."""
    width = t_proj_w.shape[0]
    half = freqs.shape[0]
    emb = np.zeros(width, np.float32)  # an odd width's last feature is the zero pad
    for k in range(half):
        angle = t * freqs[k]
        emb[k] = np.sin(angle)
        emb[half + k] = np.cos(angle)
    features = np.empty(width, np.float32)
    for j in range(width):
        acc = np.float32(0.0)
        for k in range(width):
            acc += emb[k] * t_proj_w[j, k]
        acc += t_proj_b[j]
        features[j] = acc if acc >= 0 else acc * slope
    for b in range(enc_w.shape[0]):
        for j in range(width):
            acc = np.float32(0.0)
            for k in range(width):
                acc += features[k] * enc_w[b, j, k]
            shifts[b, j] = acc + enc_b[b, j]


class RowTileNet:
    """A ``ResidualMLP``'s weights laid out for the kernel (copied once; the net must not change afterwards)."""

    def __init__(self, net: ResidualMLP):
        def arr(t: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)

        blocks = net.residual_blocks
        self.net = net
        self.w_in = arr(net.in_fc.weight)
        self.fc1 = np.stack([arr(b.fc1.weight) for b in blocks])
        self.fc2 = np.stack([arr(b.fc2.weight) for b in blocks])
        self.norms = np.stack([np.stack([arr(b.norm1.weight), arr(b.norm1.bias), arr(b.norm2.weight),
                                         arr(b.norm2.bias)]) for b in blocks])
        self.eps = np.array([[b.norm1.eps, b.norm2.eps] for b in blocks], np.float32)
        self.out_norm = np.stack([arr(net.out_norm.weight), arr(net.out_norm.bias)])
        self.out_eps = np.float32(net.out_norm.eps)
        self.w_out = arr(net.out_fc.weight)
        self.b_out = arr(net.out_fc.bias)
        # The time path, for ``time_shifts``: the embedding's frequencies as the net's own code computes them.
        self.freqs = arr(sinusoidal_frequencies(net.config.width))
        self.t_proj_w, self.t_proj_b = arr(net.t_proj.weight), arr(net.t_proj.bias)
        self.enc_w = np.stack([arr(b.enc.weight) for b in blocks])
        self.enc_b = np.stack([arr(b.enc.bias) for b in blocks])

    def time_shifts(self, t: int) -> np.ndarray:
        """(B, W) block shifts at timestep t: the net's time path, compiled (the torch path's (1, W) ops cost
        0.2–0.5 ms a step, measured, on the one thread that every step waits for; this costs ~20 µs)."""
        shifts = np.empty_like(self.enc_b)
        _time_shifts(np.float32(t), self.freqs, self.t_proj_w, self.t_proj_b, self.enc_w, self.enc_b,
                     np.float32(NEGATIVE_SLOPE), shifts)
        return shifts

    def forward(self, x: np.ndarray, starts: np.ndarray, shifts: np.ndarray, result: np.ndarray) -> None:
        """result[s:s+TILE_ROWS] = ε̂ for each tile start s (x and result (N, D) float32, C-contiguous)."""
        assert available(), "RowTileNet needs available()"
        _forward(x, starts, self.w_in, self.fc1, self.fc2, shifts, self.norms, self.eps, self.out_norm,
               self.out_eps, self.w_out, self.b_out, np.float32(NEGATIVE_SLOPE), TILE_ROWS, result)


def warm_up() -> None:
    """Compile (or load the cached) kernel now rather than on the first request."""
    if not available():
        return
    from .config import NetConfig

    with torch.inference_mode():
        tiles = RowTileNet(ResidualMLP(NetConfig(width=8, blocks=1), dim=2))
        tiles.forward(np.zeros((1, 2), np.float32), np.zeros(1, np.int64), tiles.time_shifts(0),
                      np.empty((1, 2), np.float32))
