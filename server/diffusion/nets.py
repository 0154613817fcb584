"""The paper's ε-prediction network: a residual MLP with a sinusoidal time embedding.

Mirrors the official ``ddpm_torch/toy/toy_model.py`` ``Decoder``:

    x (B, D) → Linear(D→W, no bias) → blocks → LayerNorm → Linear(W→D)
    block(h, e) = h + fc2(act(norm2(fc1(act(norm1(h))) + enc(e))))
    e = act(Linear(W→W)(sinusoid(t)))                             time features (B or 1, W)

with act = LeakyReLU(0.02), Xavier-uniform weights and zero biases. The official code builds its
block list by repeating one module object, so its three blocks share weights (``tied=True``);
``tied=False`` gives independent blocks.

Sampling moves every particle with the same t, so the time path is computed once per step for a
(1, W) row and broadcast (``forward_with_time``); that is most of our sampling speed-up.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import NetConfig

NEGATIVE_SLOPE = 0.02


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) integer timesteps → (B, dim) [sin | cos] features (fairseq variant, as the official code)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) / (half - 1) * torch.arange(half, dtype=torch.float32, device=t.device))
    angles = t.to(torch.float32)[:, None] * freqs[None, :]  # (B, half)
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    return F.pad(emb, (0, dim % 2))


class ResidualBlock(nn.Module):
    """The official ``TemporalLayer``: a pre-norm residual block with an additive time shift."""

    def __init__(self, width: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width, bias=False)
        self.enc = nn.Linear(width, width)  # time features → per-channel shift
        self.norm2 = nn.LayerNorm(width)
        self.fc2 = nn.Linear(width, width, bias=False)

    def forward(self, h: torch.Tensor, time_features: torch.Tensor) -> torch.Tensor:
        # In-place activations and adds: each intermediate is fresh and none of them is saved for the
        # backward pass, so this is autograd-safe and saves a (B, W) allocation per op (sampling is
        # memory-bound between the matmuls).
        out = self.fc1(F.leaky_relu_(self.norm1(h), NEGATIVE_SLOPE))
        out += self.enc(time_features)  # (B, W) + (B or 1, W)
        out = self.fc2(F.leaky_relu_(self.norm2(out), NEGATIVE_SLOPE))
        return out.add_(h)


class ResidualMLP(nn.Module):
    def __init__(self, config: NetConfig, dim: int, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        self.dim = dim
        W = config.width
        self.in_fc = nn.Linear(dim, W, bias=False)
        self.t_proj = nn.Linear(W, W)
        if config.tied:
            shared = ResidualBlock(W)
            self.blocks = nn.ModuleList([shared] * config.blocks)
        else:
            self.blocks = nn.ModuleList([ResidualBlock(W) for _ in range(config.blocks)])
        self.out_norm = nn.LayerNorm(W)
        self.out_fc = nn.Linear(W, dim)
        self.reset_parameters(generator or torch.Generator().manual_seed(0))

    def reset_parameters(self, generator: torch.Generator) -> None:
        # Official init (ddpm_torch/modules.py): Xavier-uniform weights, zero biases; LayerNorm at 1/0.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight, generator=generator)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def time_features(self, t: torch.Tensor) -> torch.Tensor:
        """(B,) timesteps → (B, W)."""
        emb = sinusoidal_embedding(t, self.config.width)
        return F.leaky_relu(self.t_proj(emb), NEGATIVE_SLOPE)

    def forward_with_time(self, x: torch.Tensor, time_features: torch.Tensor) -> torch.Tensor:
        """ε̂ for x (B, D) given time features (B, W) or one shared row (1, W)."""
        h = self.in_fc(x)
        for block in self.blocks:
            h = block(h, time_features)
        return self.out_fc(self.out_norm(h))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.forward_with_time(x, self.time_features(t))


def parameter_count(net: nn.Module) -> int:
    """Distinct parameters (tied blocks counted once): 67,074 for the paper's 2D network."""
    return sum(p.numel() for p in net.parameters())
