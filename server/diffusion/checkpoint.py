"""Checkpoints: safetensors weights with the full experiment config and versions in the metadata.

Loading reads tensors and a JSON string only; nothing is ever unpickled.
"""

from __future__ import annotations

import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..gaussian.config import ExperimentConfig
from ..gaussian.datasets import describe_validation_error, mixture_spec
from ..gaussian.nets import ResidualMLP
from .config import ALGO_VERSION

FORMAT = "mode-interpolation-lab/checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    config: ExperimentConfig
    net: ResidualMLP
    metadata: dict[str, str]


def save_checkpoint(path: Path, net: ResidualMLP, config: ExperimentConfig, **extra: str) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a checkpoint."""
    metadata = {
        "format": FORMAT,
        "config": config.canonical_json(),
        "run_id": config.run_id(),
        "algo_version": ALGO_VERSION,
        "torch_version": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "python_version": platform.python_version(),
        **extra,
    }
    # Tied blocks share tensors; store each distinct tensor once under its first name.
    state = {k: v.detach().cpu().contiguous().clone() for k, v in _unique_state(net).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        save_file(state, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _unique_state(net: ResidualMLP) -> dict[str, torch.Tensor]:
    seen: set[int] = set()
    state: dict[str, torch.Tensor] = {}
    for name, tensor in net.state_dict(keep_vars=False).items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        state[name] = tensor
    return state


def load_checkpoint(path: Path) -> Checkpoint:
    """Rebuild the network from the file alone."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a Mode Interpolation Lab checkpoint (format {metadata.get('format')!r})")
    try:
        config = ExperimentConfig.model_validate_json(metadata["config"])
    except (KeyError, ValidationError) as exc:
        detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else "missing config"
        raise CheckpointError(f"{path}: bad config in metadata ({detail})") from exc
    net = ResidualMLP(config.net, mixture_spec(config.data).dim)
    expected = net.state_dict()
    missing = [k for k in _unique_state(net) if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not match the config (missing {missing}, unexpected {unexpected})")
    with torch.no_grad():
        for name, tensor in tensors.items():
            if expected[name].shape != tensor.shape:
                shapes = f"{tuple(tensor.shape)}, expected {tuple(expected[name].shape)}"
                raise CheckpointError(f"{path}: {name} has shape {shapes}")
            expected[name].copy_(tensor)
    return Checkpoint(config=config, net=net.eval(), metadata=metadata)
