"""Checkpoints: safetensors weights, with what rebuilds the network and the versions in the metadata.

Generic over the network: a data family writes its config into the metadata and rebuilds its network
from it (``server/gaussian/checkpoint.py``). Loading reads tensors and strings only; nothing is ever unpickled.
"""

from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .config import ALGO_VERSION

FORMAT = "mode-interpolation-lab/checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says why."""


def save_weights(path: Path, net: nn.Module, identity: dict[str, str], **extra: str) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a checkpoint.

    ``identity``: what the data family needs to rebuild ``net`` (its config, its run id), written after
    ``format`` and before the versions; ``extra``: anything else worth keeping (training time, say)."""
    metadata = {
        "format": FORMAT,
        **identity,
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


def _unique_state(net: nn.Module) -> dict[str, torch.Tensor]:
    seen: set[int] = set()
    state: dict[str, torch.Tensor] = {}
    for name, tensor in net.state_dict(keep_vars=False).items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        state[name] = tensor
    return state


def read_weights(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The metadata and tensors of a lab checkpoint; a file that is not one raises ``CheckpointError``."""
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
    return metadata, tensors


def load_weights(net: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Copy ``tensors`` into ``net``, which the caller built from the metadata; names and shapes must match."""
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
