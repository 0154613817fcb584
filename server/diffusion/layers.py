"""Building blocks that every family's network shares: the timestep embedding and a parameter count."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_frequencies(dim: int, device: torch.device | None = None) -> torch.Tensor:
    """(dim // 2,) float32 frequencies of ``sinusoidal_embedding``: 10000^(−k / (half − 1))."""
    half = dim // 2
    return torch.exp(-math.log(10000.0) / (half - 1) * torch.arange(half, dtype=torch.float32, device=device))


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) integer timesteps → (B, dim) [sin | cos] features (fairseq variant, as the official code)."""
    freqs = sinusoidal_frequencies(dim, t.device)
    angles = t.to(torch.float32)[:, None] * freqs[None, :]  # (B, half)
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    return F.pad(emb, (0, dim % 2))


def parameter_count(net: nn.Module) -> int:
    """Distinct parameters (tied blocks counted once): 67,074 for the paper's 2D mixture network."""
    return sum(p.numel() for p in net.parameters())
