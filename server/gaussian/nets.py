"""The paper's ε-prediction network: a residual MLP with a sinusoidal time embedding.

Mirrors the official ``ddpm_torch/toy/toy_model.py`` ``Decoder``:

    x (B, D) → Linear(D→W, no bias) → blocks → LayerNorm → Linear(W→D)
    block(h, e) = h + fc2(act(norm2(fc1(act(norm1(h))) + enc(e))))
    e = act(Linear(W→W)(sinusoid(t)))                             time features (B or 1, W)

with act = LeakyReLU(0.02), Xavier-uniform weights and zero biases. The official code builds its
block list by repeating one module object, so its three blocks share weights (``tied=True``);
``tied=False`` gives independent blocks.

Sampling moves every particle with the same t, so the time path (embedding, projection and each
block's shift) is computed once per step for a (1, W) row and broadcast (``time_shifts`` then
``forward_with_shifts``); that is most of our sampling speed-up.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ..diffusion.layers import sinusoidal_embedding
from . import fused
from .config import NetConfig

NEGATIVE_SLOPE = 0.02


def layer_norm(h: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """``norm(h)`` without the module-call overhead."""
    return F.layer_norm(h, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


def norm_act(h: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """act(norm(h)): one fused pass for CPU inference (``fused``), PyTorch's ops otherwise."""
    if fused.applies(h):
        return fused.layer_norm_leaky_relu(h, norm, NEGATIVE_SLOPE)
    return F.leaky_relu_(layer_norm(h, norm), NEGATIVE_SLOPE)


class ResidualBlock(nn.Module):
    """The official ``TemporalLayer``: a pre-norm residual block with an additive time shift."""

    def __init__(self, width: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width, bias=False)
        self.enc = nn.Linear(width, width)  # time features → per-channel shift
        self.norm2 = nn.LayerNorm(width)
        self.fc2 = nn.Linear(width, width, bias=False)

    def time_shift(self, time_features: torch.Tensor) -> torch.Tensor:
        """(B or 1, W) time features → the (B or 1, W) shift added after fc1."""
        return self.enc(time_features)

    def forward(self, h: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """h (B, W), shift (B or 1, W) → h + fc2(act(norm2(fc1(act(norm1(h))) + shift)))."""
        # Written with functional calls, not submodule calls: between its matmuls sampling is bound by
        # per-op cost (measured: module-call overhead alone cost 10%). fc1 + shift and fc2 + residual
        # are single addmm calls (C = A Bᵀ + C in one GEMM), and the activations are in place: each
        # intermediate is fresh and not saved for backward, so this is autograd-safe.
        return torch.addmm(h, self._pre_fc2(h, shift), self.fc2.weight.t())

    def forward_in_place(self, h: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """``forward`` that adds to h itself (no (B, W) copy of the residual): inference only."""
        return h.addmm_(self._pre_fc2(h, shift), self.fc2.weight.t())

    def _pre_fc2(self, h: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """act(norm2(fc1(act(norm1(h))) + shift)), (B, W)."""
        out = torch.addmm(shift, norm_act(h, self.norm1), self.fc1.weight.t())
        return norm_act(out, self.norm2)


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

    @property
    def residual_blocks(self) -> list[ResidualBlock]:
        """``blocks`` with their type (a ModuleList only knows it holds modules)."""
        return cast(list[ResidualBlock], list(self.blocks))

    def time_shifts(self, time_features: torch.Tensor) -> list[torch.Tensor]:
        """One (B or 1, W) shift per block; tied blocks share one, computed once."""
        blocks = self.residual_blocks
        shifts: dict[int, torch.Tensor] = {}
        for block in blocks:
            if id(block) not in shifts:
                shifts[id(block)] = block.time_shift(time_features)
        return [shifts[id(block)] for block in blocks]

    def forward_with_shifts(self, x: torch.Tensor, shifts: list[torch.Tensor]) -> torch.Tensor:
        """ε̂ for x (B, D) given the blocks' time shifts (``time_shifts``)."""
        h = F.linear(x, self.in_fc.weight)  # (B, W), fresh: ours to update in place when no grad is taken
        in_place = not torch.is_grad_enabled()
        for block, shift in zip(self.residual_blocks, shifts, strict=True):
            # Direct calls (no hooks are used here): module-call overhead is measurable at this size.
            h = block.forward_in_place(h, shift) if in_place else block.forward(h, shift)
        return F.linear(layer_norm(h, self.out_norm), self.out_fc.weight, self.out_fc.bias)  # (B, D)

    def forward_with_time(self, x: torch.Tensor, time_features: torch.Tensor) -> torch.Tensor:
        """ε̂ for x (B, D) given time features (B, W) or one shared row (1, W)."""
        return self.forward_with_shifts(x, self.time_shifts(time_features))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.forward_with_time(x, self.time_features(t))
