"""The network's CPU inference path (fused LayerNorm + LeakyReLU, slices, threads) against PyTorch's ops."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from server.diffusion.sampling import reverse_process
from server.diffusion.schedule import NoiseSchedule
from server.gaussian import fused
from server.gaussian.config import NetConfig
from server.gaussian.denoisers import NetworkDenoiser
from server.gaussian.nets import NEGATIVE_SLOPE, ResidualMLP


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_fused_layer_norm_leaky_relu_matches_pytorch() -> None:
    norm = torch.nn.LayerNorm(128)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(128, generator=generator(0)))  # negative scales too
        norm.bias.copy_(torch.randn(128, generator=generator(1)))
    h = 3 * torch.randn(700, 128, generator=generator(2)) + 5  # off-centre rows
    expected = F.leaky_relu(F.layer_norm(h, (128,), norm.weight, norm.bias, norm.eps), NEGATIVE_SLOPE).detach()
    with torch.inference_mode():
        assert fused.applies(h)
        got = fused.layer_norm_leaky_relu(h, norm, NEGATIVE_SLOPE)
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-6)


def test_fused_path_only_where_it_applies() -> None:
    h = torch.randn(4, 8)
    assert not fused.applies(h)  # gradient mode: autograd needs PyTorch's ops
    with torch.inference_mode():
        assert not fused.applies(h.double()) and not fused.applies(h.t()) and not fused.applies(h[None])
    net = ResidualMLP(NetConfig(width=16, blocks=2), dim=2, generator=generator(0))
    x = torch.randn(30, 2, generator=generator(1))
    trained = net(x, torch.full((30,), 7))
    trained.sum().backward()  # the training path still differentiates
    assert net.in_fc.weight.grad is not None
    with torch.inference_mode():
        torch.testing.assert_close(net(x, torch.full((30,), 7)), trained.detach(), rtol=1e-5, atol=2e-6)


def test_sampling_is_bit_identical_at_any_thread_count() -> None:
    net = ResidualMLP(NetConfig(width=32), dim=2, generator=generator(0))
    schedule = NoiseSchedule.create("linear", 20, 0.001, 0.2)
    before = torch.get_num_threads()
    finals = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            steps = list(reverse_process(NetworkDenoiser(net), schedule, n=2500, generator=generator(4)))
            finals.append(steps[-1].x)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(finals[0], finals[1]) and torch.equal(finals[0], finals[2])
