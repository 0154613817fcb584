"""Shapes U-Net checkpoints: safetensors weights (float16 by default, which keeps the default U-Net under 5 MB) with
the ``ShapesConfig`` and versions in the metadata, as server/diffusion/checkpoint.py writes the Gaussian ones.

Loading reads tensors and a JSON string only; nothing is ever unpickled. Weights come back as float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from server.diffusion.checkpoint import load_weights, parse_config, provenance, read_safetensors, write_safetensors

from .config import ShapesConfig
from .unet import UNet

FORMAT = "mode-interpolation-lab/shapes-unet/1"
DTYPES = {"float16": torch.float16, "float32": torch.float32}


@dataclass(frozen=True)
class ShapesCheckpoint:
    config: ShapesConfig
    net: UNet
    metadata: dict[str, str]


def save_unet_checkpoint(
    path: Path, net: UNet, config: ShapesConfig, *, dtype: Literal["float16", "float32"] = "float16", **extra: str
) -> None:
    """Write atomically; ``net`` must be built from ``config`` (the weights sampled: the EMA copy when there is one)."""
    metadata = {"format": FORMAT, "config": config.canonical_json(), "run_id": config.run_id(), "dtype": dtype,
                **provenance(), **extra}
    state = {k: v.detach().cpu().to(DTYPES[dtype]).contiguous() for k, v in net.state_dict().items()}
    write_safetensors(path, state, metadata)


def load_unet_checkpoint(path: Path) -> ShapesCheckpoint:
    """Rebuild the U-Net from the file alone."""
    tensors, metadata = read_safetensors(path, FORMAT)
    config = parse_config(path, metadata, ShapesConfig)
    net = UNet(config.unet, config.data.resolution)
    load_weights(path, net, tensors)
    return ShapesCheckpoint(config=config, net=net.eval(), metadata=metadata)
