"""LayerNorm then LeakyReLU in one pass per row: the CPU inference path of the residual MLP.

On a 512-row slice of width 128, PyTorch's CPU LayerNorm plus the activation take ~54 µs, most of a sampling step
outside the matrix products (seven of them per slice); this kernel does norm, affine and activation in ~19 µs
(measured on the 2-core dev machine). Same maths as ``F.layer_norm``: population variance over the row, eps inside the
square root; it differs from PyTorch by rounding only (< 1e-6, tests/unit/test_nets.py). Training keeps PyTorch's
ops, which autograd needs. numba compiles the kernel on first use (~0.4 s, then cached on disk); the server warms it
up at start-up so no request pays for it.
"""

from __future__ import annotations

import numba
import numpy as np
import torch


@numba.njit(fastmath=True, nogil=True, cache=True, error_model="numpy", boundscheck=False)
def _layer_norm_leaky_relu(h: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: np.float32,
                           slope: np.float32, out: np.ndarray) -> None:
    rows, width = h.shape  # (B, W) float32, C-contiguous
    inv_width = np.float32(1.0) / np.float32(width)  # float32 throughout, so the loops vectorise
    for i in range(rows):
        row, dest = h[i], out[i]
        total = np.float32(0.0)
        for j in range(width):
            total += row[j]
        mean = total * inv_width
        squares = np.float32(0.0)
        for j in range(width):
            d = row[j] - mean
            squares += d * d
        scale = np.float32(1.0) / np.sqrt(squares * inv_width + eps)
        for j in range(width):
            y = (row[j] - mean) * scale * gamma[j] + beta[j]
            dest[j] = max(y, y * slope)  # LeakyReLU for 0 < slope < 1


def applies(h: torch.Tensor) -> bool:
    """Whether ``layer_norm_leaky_relu`` can take h: CPU float32 rows, no gradient wanted."""
    return (not torch.is_grad_enabled() and h.device.type == "cpu" and h.dtype == torch.float32 and h.dim() == 2
            and h.is_contiguous())


def layer_norm_leaky_relu(h: torch.Tensor, norm: torch.nn.LayerNorm, slope: float) -> torch.Tensor:
    """leaky_relu(norm(h), slope) for h (B, W) that ``applies``; a new (B, W) tensor."""
    out = torch.empty_like(h)
    _layer_norm_leaky_relu(h.numpy(), norm.weight.detach().numpy(), norm.bias.detach().numpy(),
                           np.float32(norm.eps), np.float32(slope), out.numpy())
    return out


def warm_up() -> None:
    """Compile (or load the cached) kernel now rather than on the first request."""
    with torch.inference_mode():
        layer_norm_leaky_relu(torch.zeros(1, 4), torch.nn.LayerNorm(4), 0.02)
