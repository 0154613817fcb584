"""The mixture experiment's checkpoints: a ``ResidualMLP`` with its ``ExperimentConfig`` in the metadata.

The file format (safetensors, atomic writes, versions in the metadata) is the core's
(``server/diffusion/checkpoint.py``); here the config is written, read back and validated, and the
network rebuilt from it. Loading reads tensors and a JSON string only; nothing is ever unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import ValidationError

from ..diffusion.checkpoint import (
    CheckpointError,
    load_weights,
    parse_weights,
    read_weights,
    save_weights,
    weights_bytes,
)
from ..diffusion.config import describe_validation_error
from .config import ExperimentConfig
from .datasets import mixture_spec
from .nets import ResidualMLP


@dataclass(frozen=True)
class Checkpoint:
    config: ExperimentConfig
    net: ResidualMLP
    metadata: dict[str, str]


def save_checkpoint(path: Path, net: ResidualMLP, config: ExperimentConfig, **extra: str) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a checkpoint."""
    save_weights(path, net, _identity(config), **extra)


def checkpoint_bytes(net: ResidualMLP, config: ExperimentConfig, **extra: str) -> bytes:
    """What ``save_checkpoint`` writes, as bytes (models cross a Ray cluster's object store as these)."""
    return weights_bytes(net, _identity(config), **extra)


def _identity(config: ExperimentConfig) -> dict[str, str]:
    return {"config": config.canonical_json(), "run_id": config.run_id()}


def load_checkpoint(path: Path) -> Checkpoint:
    """Rebuild the network from the file alone."""
    return _rebuild(*read_weights(path), path)


def load_checkpoint_bytes(data: bytes, source: str = "checkpoint bytes") -> Checkpoint:
    """``load_checkpoint`` of a checkpoint's bytes (``checkpoint_bytes``, or a file's content)."""
    return _rebuild(*parse_weights(data, source), source)


def _rebuild(metadata: dict[str, str], tensors: dict[str, torch.Tensor], path: Path | str) -> Checkpoint:
    try:
        config = ExperimentConfig.model_validate_json(metadata["config"])
    except (KeyError, ValidationError) as exc:
        detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else "missing config"
        raise CheckpointError(f"{path}: bad config in metadata ({detail})") from exc
    net = ResidualMLP(config.net, mixture_spec(config.data).dim)
    load_weights(net, tensors, path)
    return Checkpoint(config=config, net=net.eval(), metadata=metadata)
