"""The mixture experiment's checkpoints: a ``ResidualMLP`` with its ``ExperimentConfig`` in the metadata.

The file format (safetensors, atomic writes, versions in the metadata) is the core's
(``server/diffusion/checkpoint.py``); here the config is written, read back and validated, and the
network rebuilt from it. Loading reads tensors and a JSON string only; nothing is ever unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..diffusion.checkpoint import CheckpointError, load_weights, read_weights, save_weights
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
    save_weights(path, net, {"config": config.canonical_json(), "run_id": config.run_id()}, **extra)


def load_checkpoint(path: Path) -> Checkpoint:
    """Rebuild the network from the file alone."""
    metadata, tensors = read_weights(path)
    try:
        config = ExperimentConfig.model_validate_json(metadata["config"])
    except (KeyError, ValidationError) as exc:
        detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else "missing config"
        raise CheckpointError(f"{path}: bad config in metadata ({detail})") from exc
    net = ResidualMLP(config.net, mixture_spec(config.data).dim)
    load_weights(net, tensors, path)
    return Checkpoint(config=config, net=net.eval(), metadata=metadata)
