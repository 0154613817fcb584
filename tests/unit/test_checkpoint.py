"""safetensors checkpoints: exact round trip, metadata, tied weights, and refusing anything else."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from server.diffusion.checkpoint import FORMAT, CheckpointError
from server.diffusion.config import ALGO_VERSION
from server.diffusion.layers import parameter_count
from server.gaussian.checkpoint import load_checkpoint, save_checkpoint
from server.gaussian.config import DataConfig, ExperimentConfig, MixtureSpec, NetConfig
from server.gaussian.nets import ResidualMLP

from .conftest import generator


def _trained_like(config: ExperimentConfig, dim: int = 2) -> ResidualMLP:
    net = ResidualMLP(config.net, dim, generator(5))
    with torch.no_grad():  # move every parameter off its init so a silent re-init would be caught
        for p in net.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=generator(6)))
    return net


def _eps(net: ResidualMLP) -> torch.Tensor:
    x = torch.randn(64, net.dim, generator=generator(7))
    return net(x, torch.arange(64) * 15)


@pytest.mark.parametrize("tied", [True, False])
def test_round_trip_gives_identical_outputs(tmp_path: Path, tied: bool) -> None:
    config = ExperimentConfig(net=NetConfig(width=32, blocks=3, tied=tied))
    net = _trained_like(config)
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, net, config, note="hello")
    loaded = load_checkpoint(path)
    assert loaded.config == config
    assert torch.equal(_eps(loaded.net), _eps(net))
    assert not loaded.net.training
    meta = loaded.metadata
    assert meta["format"] == FORMAT and meta["algo_version"] == ALGO_VERSION
    assert meta["config"] == config.canonical_json() and meta["run_id"] == config.run_id()
    assert meta["torch_version"] == torch.__version__ and meta["python_version"] and meta["note"] == "hello"
    assert parameter_count(loaded.net) == parameter_count(net)
    # Tied blocks stay one module; untied blocks stay separate.
    blocks = loaded.net.blocks
    assert (blocks[0] is blocks[2]) is tied
    assert (blocks[0].fc1.weight.data_ptr() == blocks[1].fc1.weight.data_ptr()) is tied
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left nothing behind


def test_paper_network_size_and_tied_storage(tmp_path: Path) -> None:
    config = ExperimentConfig()
    net = ResidualMLP(config.net, 2, generator(0))
    assert parameter_count(net) == 67_074  # paper.md §5.1 (2D)
    assert parameter_count(ResidualMLP(config.net, 1, generator(0))) == 66_817  # (1D)
    path = tmp_path / "paper.safetensors"
    save_checkpoint(path, net, config)
    # Tied weights are stored once: one block's tensors, not three.
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        keys = list(handle.keys())
    assert not any(k.startswith(("blocks.1.", "blocks.2.")) for k in keys)
    assert sum(torch.Size(load_checkpoint(path).net.state_dict()[k].shape).numel() for k in keys) == 67_074


def test_custom_mixture_checkpoint_rebuilds_a_1d_net(tmp_path: Path) -> None:
    config = ExperimentConfig(
        data=DataConfig(dataset="custom", mixture=MixtureSpec(means=(0.0, 1.0), sigma=0.1, n=100)),
        net=NetConfig(width=16, blocks=1),
    )
    net = _trained_like(config, dim=1)
    save_checkpoint(tmp_path / "c.safetensors", net, config)
    loaded = load_checkpoint(tmp_path / "c.safetensors")
    assert loaded.net.dim == 1 and torch.equal(_eps(loaded.net), _eps(net))


def _expect_error(path: Path, *fragments: str) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "absent.safetensors", "no such checkpoint")
    _expect_error(tmp_path, "no such checkpoint")  # a directory is not a checkpoint


def test_pickle_is_never_loaded(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (pytest.fail, ("unpickled!",))

    for name, payload in [("pickled.safetensors", pickle.dumps(Boom())), ("empty.safetensors", b"")]:
        path = tmp_path / name
        path.write_bytes(payload)
        _expect_error(path, "not a readable safetensors file")
    path = tmp_path / "torch.safetensors"
    torch.save({"w": torch.zeros(2)}, path)
    _expect_error(path, "not a readable safetensors file")


def test_truncated_and_corrupted(tmp_path: Path) -> None:
    config = ExperimentConfig(net=NetConfig(width=16, blocks=1))
    good = tmp_path / "good.safetensors"
    save_checkpoint(good, _trained_like(config), config)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    _expect_error(truncated, "not a readable safetensors file")
    header_len = struct.unpack("<Q", data[:8])[0]
    garbled = tmp_path / "garbled.safetensors"
    garbled.write_bytes(data[:8] + b"{" * header_len + data[8 + header_len :])
    _expect_error(garbled, "not a readable safetensors file")


def test_foreign_safetensors_rejected(tmp_path: Path) -> None:
    path = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3)}, str(path))
    _expect_error(path, "not a Mode Interpolation Lab checkpoint", "None")
    save_file({"weight": torch.zeros(3)}, str(path), metadata={"format": "something/else"})
    _expect_error(path, "not a Mode Interpolation Lab checkpoint", "something/else")


def _resave(path: Path, out: Path, *, metadata: dict[str, str] | None = None, drop: str | None = None,
            reshape: str | None = None) -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    meta.update(metadata or {})
    if drop:
        del tensors[drop]
    if reshape:
        tensors[reshape] = torch.zeros(1, 1)
    save_file(tensors, str(out), metadata=meta)


def test_bad_metadata_and_weights(tmp_path: Path) -> None:
    config = ExperimentConfig(net=NetConfig(width=16, blocks=1))
    good = tmp_path / "good.safetensors"
    save_checkpoint(good, _trained_like(config), config)
    bad = tmp_path / "bad.safetensors"
    _resave(good, bad, metadata={"config": "{not json"})
    _expect_error(bad, "bad config in metadata")
    wrong = json.loads(config.canonical_json())
    wrong["net"]["width"] = 3
    _resave(good, bad, metadata={"config": json.dumps(wrong)})
    _expect_error(bad, "bad config in metadata", "net.width")
    wider = json.loads(config.canonical_json())
    wider["net"]["width"] = 32
    _resave(good, bad, metadata={"config": json.dumps(wider)})
    _expect_error(bad, "shape")
    _resave(good, bad, drop="out_fc.bias")
    _expect_error(bad, "weights do not match the config", "out_fc.bias")
    _resave(good, bad, reshape="out_fc.bias")
    _expect_error(bad, "out_fc.bias has shape (1, 1)")
