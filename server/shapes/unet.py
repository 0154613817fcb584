"""A small time-conditioned U-Net for ε-prediction on one-channel images (the DDPM U-Net of Ho et al. 2020, pared
down for a CPU: one attention block, few channels).

    x (B, 1, H, W) → conv 3×3 → [ResBlock × blocks, downsample] per level → ResBlock, attention, ResBlock
      → [ResBlock × (blocks + 1) on the concatenated skip, upsample] per level → GroupNorm, SiLU, conv 3×3 → ε̂
    ResBlock(h, e) = skip(h) + conv(SiLU(GN(conv(SiLU(GN(h))) + Linear(e))))
    e = MLP(sinusoid(t))                                                          time features (B or 1, 4·C₀)

Sampling moves every image with the same t, so ``forward`` takes t of shape (1,) too and broadcasts the time
features. Weights are drawn only from the generator passed in; each block's last conv and the output conv start at
zero, so a fresh network predicts ε̂ = 0 and every block starts as the identity.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from server.diffusion.layers import sinusoidal_embedding
from server.diffusion.schedule import NoiseSchedule

from .config import UNetConfig


def _groups(channels: int) -> int:
    """GroupNorm groups: 8 where the channel count allows (the usual 32 is too many for 32-channel layers)."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, time_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(time_dim, c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """h (B, C_in, H, W), emb (B or 1, time_dim) already through SiLU → (B, C_out, H, W)."""
        out = self.conv1(F.silu(self.norm1(h)))
        out = out + self.time(emb)[:, :, None, None]
        out = self.conv2(F.silu(self.norm2(out)))
        return self.skip(h) + out


class Attention(nn.Module):
    """Single-head self-attention over the H·W positions, with a residual connection."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = h.shape
        q, k, v = self.qkv(self.norm(h)).reshape(b, 3, c, hh * ww).transpose(2, 3).unbind(1)  # (B, HW, C) each
        out = F.scaled_dot_product_attention(q, k, v)  # (B, HW, C)
        return h + self.proj(out.transpose(1, 2).reshape(b, c, hh, ww))


class UNet(nn.Module):
    def __init__(self, config: UNetConfig, resolution: int, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        self.resolution = resolution
        ch = config.channels
        self.time_dim = 4 * ch[0]
        self.time_mlp = nn.Sequential(
            nn.Linear(ch[0], self.time_dim), nn.SiLU(), nn.Linear(self.time_dim, self.time_dim)
        )
        self.stem = nn.Conv2d(1, ch[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips, c = [ch[0]], ch[0]
        for level, c_out in enumerate(ch):
            for _ in range(config.blocks):
                self.down.append(ResBlock(c, c_out, self.time_dim))
                c = c_out
                skips.append(c)
            if level < len(ch) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid1 = ResBlock(c, c, self.time_dim)
        self.attention = Attention(c) if config.attention else nn.Identity()
        self.mid2 = ResBlock(c, c, self.time_dim)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(ch))):
            for _ in range(config.blocks + 1):
                self.up.append(ResBlock(c + skips.pop(), ch[level], self.time_dim))
                c = ch[level]
            if level > 0:
                self.upsample.append(nn.Conv2d(c, c, 3, padding=1))
        self.out_norm = nn.GroupNorm(_groups(c), c)
        self.out_conv = nn.Conv2d(c, 1, 3, padding=1)
        self.reset_parameters(generator or torch.Generator().manual_seed(0))

    @property
    def dim(self) -> int:
        return self.resolution * self.resolution

    def reset_parameters(self, generator: torch.Generator) -> None:
        """PyTorch's default conv/linear init (uniform ±1/√fan_in), drawn from ``generator``; zero-init as above."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                bound = 1.0 / math.sqrt(module.weight[0].numel())  # 1 / √fan_in
                with torch.no_grad():
                    module.weight.uniform_(-bound, bound, generator=generator)
                    if module.bias is not None:
                        module.bias.uniform_(-bound, bound, generator=generator)
        zeroed = [self.out_conv] + [b.conv2 for b in self.res_blocks()]
        if isinstance(self.attention, Attention):
            zeroed.append(self.attention.proj)
        for conv in zeroed:
            nn.init.zeros_(conv.weight)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def res_blocks(self) -> list[ResBlock]:
        return [m for m in self.modules() if isinstance(m, ResBlock)]

    def time_features(self, t: torch.Tensor) -> torch.Tensor:
        """(B,) or (1,) timesteps → (B or 1, 4·C₀), through the SiLU every block applies first."""
        return F.silu(self.time_mlp(sinusoidal_embedding(t, self.config.channels[0])))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """ε̂ (B, 1, H, W) for x (B, 1, H, W) at timesteps t (B,), or (1,) shared by all."""
        return self.forward_with_time(x, self.time_features(t))

    def forward_with_time(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """ε̂ (B, 1, H, W) given time features (B, 4·C₀) or one shared row (1, 4·C₀)."""
        h, skips = self._encode(x, emb)
        return self._decode(h, skips, emb)

    def bottleneck(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(B, C_last) features at the U-Net's lowest level, averaged over positions (for embeddings)."""
        h, _ = self._encode(x, self.time_features(t))
        return h.mean(dim=(2, 3))

    def _encode(self, x: torch.Tensor, emb: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = self.stem(x)
        skips = [h]
        blocks = iter(self.down)
        for level in range(len(self.config.channels)):
            for _ in range(self.config.blocks):
                h = next(blocks)(h, emb)
                skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
                skips.append(h)
        h = self.mid1(h, emb)
        h = self.attention(h)
        return self.mid2(h, emb), skips

    def _decode(self, h: torch.Tensor, skips: list[torch.Tensor], emb: torch.Tensor) -> torch.Tensor:
        blocks = iter(self.up)
        for i in range(len(self.config.channels)):
            for _ in range(self.config.blocks + 1):
                h = next(blocks)(torch.cat([h, skips.pop()], dim=1), emb)
            if i < len(self.upsample):
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out_conv(F.silu(self.out_norm(h)))


class UNetDenoiser:
    """The core's ``Denoiser`` (server/diffusion/sampling.py) over flattened images: x_t (N, H·W) → ε̂ (N, H·W).

    Images go through the network ``chunk`` at a time, which bounds the activations' memory (a 64-channel map of
    64×64 floats is 1 MB per image); the time features are computed once per step for all of them.

    ``stride`` > 1 samples a network trained on a T-step chain with a T / stride-step ``continuous`` schedule: step
    t of the short chain sits at τ = (t + 1) / (T / stride), i.e. at step stride·(t + 1) − 1 of the long one, which is
    the t the network is asked about (the strided DDIM of Song et al. 2021, with no change to the core sampler).

    With ``clip_schedule`` (the chain being sampled) ε̂ is replaced by the ε consistent with x̂0 clipped to the data
    range [−1, 1] (``clip_denoised`` of the DDPM image code): a small network's ε error, divided by √ᾱ_t ≈ 0.01 early
    in the chain, otherwise sends whole images to ±20 and the counter sees them all white or empty.
    """

    def __init__(self, net: UNet, *, chunk: int = 64, stride: int = 1, clip_schedule: NoiseSchedule | None = None):
        # channels-last (NHWC) weights and inputs let oneDNN skip a layout reorder around every convolution: 15% off
        # a 32×32 forward on a 2-core CPU, same numbers (the net is converted in place; training never uses this class)
        self.net = net.eval().to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # documented; missing from the stubs
        self.dim = net.dim
        self.chunk = chunk
        self.stride = stride
        self.clip_schedule = clip_schedule

    @torch.inference_mode()
    def predict_eps(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        res = self.net.resolution
        t_net = self.stride * (t + 1) - 1
        emb = self.net.time_features(torch.tensor([t_net], device=x_t.device))  # (1, 4·C₀), broadcast over images
        eps = torch.empty_like(x_t)
        for start in range(0, x_t.shape[0], self.chunk):
            rows = slice(start, start + self.chunk)
            images = x_t[rows].reshape(-1, 1, res, res).contiguous(memory_format=torch.channels_last)
            eps[rows] = self.net.forward_with_time(images, emb).reshape(-1, res * res)
        if self.clip_schedule is not None:
            a, s = self.clip_schedule.signal_scale(t), self.clip_schedule.noise_scale(t)
            x0 = ((x_t - s * eps) / a).clamp(-1.0, 1.0)
            eps = (x_t - a * x0) / s
        return eps
