"""Simple Shapes models: config bounds, the U-Net, the exact denoiser against a brute-force sum, the training generator,
checkpoints, and the core's reverse process driving both denoisers on flattened images."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import save_file

from server.diffusion.checkpoint import FORMAT, CheckpointError
from server.diffusion.config import SamplerConfig
from server.diffusion.detectors import trajectory_variance
from server.diffusion.layers import parameter_count
from server.diffusion.sampling import reverse_process, run_sampler
from server.diffusion.schedule import NoiseSchedule
from server.diffusion.training import ema_decay, learning_rate
from server.shapes.checkpoint import FAMILY, load_unet_checkpoint, save_unet_checkpoint
from server.shapes.config import ShapesConfig, ShapesDataConfig, UNetConfig
from server.shapes.counting import DUPLICATE, VALID, count_shapes
from server.shapes.oracle import ImageOracle
from server.shapes.training import ShapesTrainingSetup, train_steps, training_set
from server.shapes.unet import UNet, UNetDenoiser


def _tiny(steps: int = 4, **train: object) -> ShapesConfig:
    """32×32, channels 4/8, batch 8: trains in well under a second."""
    return ShapesConfig.model_validate({
        "data": {"resolution": 32, "n": 64, "seed": 3},
        "unet": {"channels": [4, 8]},
        "train": {"steps": steps, "batch": 8, "warmup": 1, "lr": 1e-3, **train},
    })


def _schedule(config: ShapesConfig) -> NoiseSchedule:
    s = config.schedule
    return NoiseSchedule.create(s.kind, s.T, s.beta_start, s.beta_end)


def test_config_defaults_and_bounds() -> None:
    config = ShapesConfig()
    assert (config.data.resolution, config.data.n, config.schedule.T) == (64, 5000, 1000)
    assert (config.schedule.beta_start, config.schedule.beta_end) == (1e-4, 0.02)
    assert learning_rate(config.train, 10_000) == config.train.lr == 2e-4  # the shared helper takes it
    assert ShapesConfig.model_validate_json(config.canonical_json()) == config
    assert config.run_id() != _tiny().run_id()
    with pytest.raises(ValidationError, match="resolution"):
        ShapesDataConfig.model_validate({"resolution": 48})
    with pytest.raises(ValidationError, match="extra"):
        ShapesConfig.model_validate({"unet": {"width": 3}})
    with pytest.raises(ValidationError, match="lowest level needs at least 4"):
        ShapesConfig.model_validate({"data": {"resolution": 32}, "unet": {"channels": [8, 8, 8, 8, 8]}})
    with pytest.raises(ValidationError, match="channels"):
        UNetConfig.model_validate({"channels": [2, 8]})


def test_default_unet_fits_the_checkpoint_budget(tmp_path: Path) -> None:
    config = ShapesConfig()
    net = UNet(config.unet, 64)
    assert 1_000_000 < parameter_count(net) < 2_500_000  # fp16 under 5 MB
    save_unet_checkpoint(tmp_path / "default.safetensors", net, config)
    assert (tmp_path / "default.safetensors").stat().st_size < 5_000_000


def test_unet_shapes_zero_start_and_shared_time() -> None:
    net = UNet(UNetConfig(channels=(4, 8, 8), blocks=2), 16, torch.Generator().manual_seed(0))
    x = torch.randn(3, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    assert torch.equal(net(x, torch.tensor([5, 5, 5])), torch.zeros(3, 1, 16, 16))  # zero-initialised output
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    per_image = net(x, torch.tensor([7, 7, 7]))
    shared = net(x, torch.tensor([7]))  # one t for all, as in sampling
    assert per_image.shape == (3, 1, 16, 16) and torch.allclose(per_image, shared, atol=1e-6)
    assert not torch.allclose(per_image, net(x, torch.tensor([700])))  # t matters
    assert net.bottleneck(x, torch.tensor([7])).shape == (3, 8)
    same = UNet(UNetConfig(channels=(4, 8, 8), blocks=2), 16, torch.Generator().manual_seed(0))
    other = UNet(UNetConfig(channels=(4, 8, 8), blocks=2), 16, torch.Generator().manual_seed(9))
    assert torch.equal(same.stem.weight, UNet(same.config, 16, torch.Generator().manual_seed(0)).stem.weight)
    assert not torch.equal(same.stem.weight, other.stem.weight)


def test_oracle_matches_brute_force_sum() -> None:
    data = training_set(ShapesDataConfig(resolution=32, n=40, seed=1))
    images = data.model_input()  # (40, 1024)
    schedule = NoiseSchedule.create("linear", 1000, 1e-4, 0.02)
    oracle = ImageOracle(images, schedule)
    g = torch.Generator().manual_seed(0)
    for t in (0, 20, 150, 600):
        a, s = schedule.signal_scale(t), schedule.noise_scale(t)
        # Points near a training image, between two of them, and far from all.
        x0 = torch.stack([images[3], 0.5 * (images[5] + images[6]), torch.zeros(1024)])
        x_t = a * x0 + s * torch.randn(x0.shape, generator=g)
        got = oracle.predict_eps(x_t, t).double()
        for row in range(3):
            xr = x_t[row].double()
            log_w = [-float(((xr - a * images[i].double()) ** 2).sum()) / (2 * s * s) for i in range(40)]
            top = max(log_w)
            w = [math.exp(v - top) for v in log_w]
            mean = sum(wi * images[i].double() for i, wi in enumerate(w)) / sum(w)
            assert torch.allclose(got[row], (xr - a * mean) / s, atol=1e-4), (t, row)


def test_oracle_reproduces_training_images_and_never_duplicates() -> None:
    data = training_set(ShapesDataConfig(resolution=32, n=100, seed=2))
    images = data.model_input()
    # The paper's chain (DDPM, 1,000 steps) and a short deterministic one on the same ᾱ curve.
    for kind, T, sampler in (("linear", 1000, "ddpm"), ("continuous", 100, "ddim")):
        schedule = NoiseSchedule.create(kind, T, 1e-4, 0.02)  # type: ignore[arg-type]
        result = run_sampler(ImageOracle(images, schedule), schedule, SamplerConfig(n=16, seed=4, sampler=sampler))
        samples = torch.from_numpy(result.samples)
        nearest = images[torch.cdist(samples, images).argmin(dim=1)]
        assert float((samples - nearest).abs().max()) < 5e-3  # every sample is a training image, to rounding
        counts = count_shapes(result.samples, 32)
        assert (counts.labels == VALID).all() and not (counts.labels == DUPLICATE).any()
        assert result.x0_pred_last.shape == (16, 10, 1024)
        assert float(trajectory_variance(result.x0_pred_last).max()) < 1e-6  # decided long before the end


def test_training_generator_runs_and_is_deterministic() -> None:
    config = _tiny(steps=4)
    setup = ShapesTrainingSetup.create(config)
    assert setup.images.shape == (64, 1, 32, 32) and setup.ema is not None
    progress = list(train_steps(setup, report_every=3))
    assert [p.step for p in progress] == [3, 4] and all(math.isfinite(p.loss) for p in progress)
    assert not torch.equal(setup.net.out_conv.weight, torch.zeros_like(setup.net.out_conv.weight))  # it learned
    ema_w, raw_w = setup.ema.out_conv.weight, setup.net.out_conv.weight
    assert not torch.equal(ema_w, raw_w) and float(ema_w.abs().sum()) > 0  # the average trails the raw weights
    again = ShapesTrainingSetup.create(config)
    assert [p.loss for p in train_steps(again, report_every=3)] == [p.loss for p in progress]
    stopped = ShapesTrainingSetup.create(config)
    assert [p.step for p in itertools.islice(train_steps(stopped, report_every=1), 1)] == [1]  # stops between steps
    assert ema_decay(0.999, 0) == pytest.approx(0.1) and ema_decay(0.999, 100_000) == 0.999


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    config = _tiny(steps=2, ema=0.0)
    setup = ShapesTrainingSetup.create(config)
    list(train_steps(setup))
    assert setup.sampling_net is setup.net
    x = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([10])
    for dtype, atol in (("float32", 0.0), ("float16", 1e-2)):
        path = tmp_path / f"tiny-{dtype}.safetensors"
        save_unet_checkpoint(path, setup.net, config, dtype=dtype, note="test")
        loaded = load_unet_checkpoint(path)
        assert loaded.config == config and loaded.metadata["run_id"] == config.run_id()
        assert loaded.metadata["note"] == "test" and loaded.net.state_dict()["stem.weight"].dtype == torch.float32
        with torch.no_grad():
            assert torch.allclose(loaded.net(x, t), setup.net(x, t), atol=atol, rtol=0)
    wrong = str(tmp_path / "wrong.safetensors")
    ours = {"format": FORMAT, "family": FAMILY}
    save_file({"stem.weight": torch.zeros(1)}, wrong, {**ours, "config": config.canonical_json()})
    with pytest.raises(CheckpointError, match="do not match"):
        load_unet_checkpoint(Path(wrong))
    save_file({"w": torch.zeros(1)}, wrong, {**ours, "config": '{"data": {"resolution": 48}}'})
    with pytest.raises(CheckpointError, match="resolution"):
        load_unet_checkpoint(Path(wrong))
    save_file({"w": torch.zeros(1)}, wrong, {"format": FORMAT, "config": "{}"})  # a Gaussian model's file
    with pytest.raises(CheckpointError, match="not a Simple Shapes checkpoint"):
        load_unet_checkpoint(Path(wrong))


def test_core_reverse_process_drives_the_unet() -> None:
    config = _tiny()
    net = UNet(config.unet, 32, torch.Generator().manual_seed(0))
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    denoiser = UNetDenoiser(net, chunk=3)  # chunks smaller than the batch, so several passes are stitched
    assert denoiser.dim == 1024
    schedule = _schedule(config)
    steps = list(itertools.islice(
        reverse_process(denoiser, schedule, n=5, generator=torch.Generator().manual_seed(0)), 4))
    assert [s.t for s in steps] == [1000, 999, 998, 997]
    x = steps[2].x
    eps = denoiser.predict_eps(x, 998)
    with torch.no_grad():
        direct = net(x.reshape(5, 1, 32, 32), torch.tensor([998] * 5)).reshape(5, 1024)
    assert torch.allclose(eps, direct, atol=1e-5) and eps.abs().sum() > 0
    strided = UNetDenoiser(net, stride=10).predict_eps(x, 4)  # step 4 of 100 is step 49 of the 1,000 trained
    with torch.no_grad():
        assert torch.allclose(strided, net(x.reshape(5, 1, 32, 32), torch.tensor([49])).reshape(5, 1024), atol=1e-5)
    assert all(s.x.shape == (5, 1024) and torch.isfinite(s.x).all() for s in steps)
    short = NoiseSchedule.create("linear", 12, 1e-4, 0.02)
    result = run_sampler(denoiser, short, SamplerConfig(n=5, seed=1, window=4))
    assert result.samples.shape == (5, 1024) and result.x0_pred_last.shape == (5, 4, 1024)
    assert np.isfinite(trajectory_variance(result.x0_pred_last)).all()


def test_clipped_denoiser_keeps_x0_in_the_data_range() -> None:
    """With a clip schedule, the x̂0 implied by ε̂ lies in [−1, 1] and equals the unclipped x̂0 where that already
    did; without one, a perturbed network's x̂0 leaves the range at a high-noise step."""
    config = _tiny()
    net = UNet(config.unet, 32, torch.Generator().manual_seed(0))
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    schedule = NoiseSchedule.create("continuous", 100, 1e-4, 0.02)
    x = torch.randn(4, 1024, generator=torch.Generator().manual_seed(2))
    t = 90
    a, s = schedule.signal_scale(t), schedule.noise_scale(t)
    raw = (x - s * UNetDenoiser(net, stride=10).predict_eps(x, t)) / a
    clipped = (x - s * UNetDenoiser(net, stride=10, clip_schedule=schedule).predict_eps(x, t)) / a
    assert raw.abs().max() > 1.5
    assert clipped.abs().max() <= 1 + 1e-4
    inside = raw.abs() <= 1
    assert torch.allclose(clipped[inside], raw[inside], atol=1e-3)
    assert torch.allclose(clipped[~inside], raw[~inside].sign(), atol=1e-3)
