"""Shapes U-Net checkpoints: the core's file format (server/diffusion/checkpoint.py: safetensors, atomic writes,
versions in the metadata) with ``family`` = "shapes", the ``ShapesConfig`` and its run id as the identity.

Weights are stored as float16 by default, which keeps the default U-Net (2.1M parameters) under 5 MB; they come
back as float32. Loading reads tensors and JSON strings only; nothing is ever unpickled.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from pydantic import ValidationError

from server.diffusion.checkpoint import CheckpointError, load_weights, read_weights, save_weights
from server.diffusion.config import describe_validation_error

from .config import ShapesConfig
from .unet import UNet

FAMILY = "shapes"
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
    stored = copy.deepcopy(net).to(device="cpu", dtype=DTYPES[dtype])
    identity = {"family": FAMILY, "config": config.canonical_json(), "run_id": config.run_id(), "dtype": dtype}
    save_weights(path, stored, identity, **extra)


def load_unet_checkpoint(path: Path) -> ShapesCheckpoint:
    """Rebuild the U-Net from the file alone."""
    metadata, tensors = read_weights(path)
    if metadata.get("family") != FAMILY:
        raise CheckpointError(f"{path}: not a Simple Shapes checkpoint (family {metadata.get('family')!r})")
    try:
        config = ShapesConfig.model_validate_json(metadata["config"])
    except (KeyError, ValidationError) as exc:
        detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else "missing config"
        raise CheckpointError(f"{path}: bad config in metadata ({detail})") from exc
    net = UNet(config.unet, config.data.resolution)
    load_weights(net, tensors, path)
    return ShapesCheckpoint(config=config, net=net.eval(), metadata=metadata)
