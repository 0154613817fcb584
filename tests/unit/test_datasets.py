"""The paper's datasets (official toy_data.py geometry) and custom mixture files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from server.gaussian.config import DataConfig, MixtureSpec
from server.gaussian.datasets import (
    GRID_SCALE,
    NAMED_MIXTURES,
    MixtureFileError,
    mixture_spec,
    read_mixture_file,
    training_set,
)
from server.gaussian.mixture import GaussianMixture

from .conftest import generator


def _pairwise(means: np.ndarray) -> np.ndarray:
    d = np.sqrt(((means[:, None] - means[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return d


def test_grid25_geometry(grid25: GaussianMixture) -> None:
    means = grid25.means.numpy()
    assert means.shape == (25, 2)
    assert GRID_SCALE == pytest.approx(2.8289, abs=1e-4)
    np.testing.assert_allclose(grid25.sigmas.numpy(), 0.0177, atol=1e-4)
    d = _pairwise(means)
    np.testing.assert_allclose(d.min(axis=1), 0.707, atol=1e-3)  # every mode has spacing 0.707
    coords = np.unique(np.round(means, 9))
    np.testing.assert_allclose(coords, np.arange(-2, 3) * 2 / GRID_SCALE, atol=1e-12)
    np.testing.assert_allclose(means.mean(axis=0), 0.0, atol=1e-12)


def test_diamond25_geometry(diamond25: GaussianMixture) -> None:
    means = diamond25.means.numpy()
    assert means.shape == (25, 2)
    np.testing.assert_allclose(diamond25.sigmas.numpy(), 0.05 / GRID_SCALE)
    d = _pairwise(means)
    np.testing.assert_allclose(d.min(axis=1), 0.5, atol=1e-3)
    # Nearest neighbours lie along ±45°.
    i, j = np.nonzero(np.isclose(d, d.min(), rtol=1e-6))
    delta = means[j] - means[i]
    np.testing.assert_allclose(np.abs(delta[:, 0]), np.abs(delta[:, 1]), atol=1e-12)
    np.testing.assert_allclose(d.min(), math.sqrt(2) / GRID_SCALE, rtol=1e-12)
    # Modes sharing a y value are 0.707 apart (second-nearest, √2 × the nearest spacing).
    same_y = np.isclose(means[:, None, 1], means[None, :, 1], atol=1e-9) & np.isfinite(d)
    assert same_y.any()
    np.testing.assert_allclose(d[same_y].min(), 2 / GRID_SCALE, rtol=1e-12)
    assert d[same_y].min() == pytest.approx(0.707, abs=1e-3)


@pytest.mark.parametrize(("name", "means", "n"), [("1d-123", [1, 2, 3], 20_000), ("1d-1245", [1, 2, 4, 5], 50_000)])
def test_1d_datasets(name: str, means: list[float], n: int) -> None:
    spec = NAMED_MIXTURES[name]
    assert spec.means == tuple((float(m),) for m in means)
    assert spec.sigma == 0.05 and spec.n == n and spec.dim == 1


def test_training_set_is_balanced_and_deterministic() -> None:
    data = DataConfig(dataset="grid25", n=2_500)
    x1, mixture = training_set(data, generator(7))
    x2, _ = training_set(data, generator(7))
    x3, _ = training_set(data, generator(8))
    assert x1.shape == (2_500, 2) and x1.dtype == torch.float32
    assert torch.equal(x1, x2)
    assert not torch.equal(x1, x3)
    nearest = torch.cdist(x1.double(), mixture.means).argmin(dim=1)
    np.testing.assert_array_equal(np.bincount(nearest.numpy(), minlength=25), 100)


def test_n_override_applies_to_named_and_custom() -> None:
    assert mixture_spec(DataConfig(dataset="1d-123")).n == 20_000
    assert mixture_spec(DataConfig(dataset="1d-123", n=50)).n == 50
    spec = MixtureSpec(means=(0.0, 1.0), sigma=0.1, n=100)
    assert mixture_spec(DataConfig(dataset="custom", mixture=spec)).n == 100
    assert mixture_spec(DataConfig(dataset="custom", mixture=spec, n=30)).n == 30


# ----------------------------------------------------------------------------- mixture files


def _write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "mixture.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_mixture_file_2d(tmp_path: Path) -> None:
    spec = read_mixture_file(
        _write(tmp_path, {"means": [[0, 0], [1, 0.5]], "sigma": [0.1, 0.2], "weights": [1, 3], "n": 500})
    )
    assert spec == MixtureSpec(means=((0.0, 0.0), (1.0, 0.5)), sigma=(0.1, 0.2), weights=(1.0, 3.0), n=500)
    m = GaussianMixture.from_spec(spec)
    torch.testing.assert_close(m.weights, torch.tensor([0.25, 0.75], dtype=torch.float64))


def test_mixture_file_1d_shorthand(tmp_path: Path) -> None:
    spec = read_mixture_file(_write(tmp_path, {"means": [1, 2.5, 4], "sigma": 0.05}))
    assert spec.means == ((1.0,), (2.5,), (4.0,)) and spec.dim == 1 and spec.n == 20_000


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ('{"means": [[0, 0], [1, 1]', ["not valid JSON", "line 1"]),
        ("[1, 2]", ["expected a JSON object"]),
        ({"means": [[0, 0], [1, 1]], "sigma": -0.1}, ["sigma", "greater than 0"]),
        ({"means": [[0, 0], [1, 1]], "sigma": 0}, ["sigma", "greater than 0"]),
        ({"means": [[0, 0], [1, 1]], "sigma": [0.1]}, ["sigma", "one per mode (2), got 1"]),
        ({"means": [[0, 0], [1, 1]], "sigma": 0.1, "weights": [1]}, ["weights", "one per mode (2), got 1"]),
        ({"means": [[0, 0], [1, 1]], "sigma": 0.1, "weights": [1, -1]}, ["weights.1", "greater than 0"]),
        ({"means": [[0, 0, 0], [1, 1, 1]], "sigma": 0.1}, ["means", "dimension, 1 or 2"]),
        ({"means": [[0, 0], [1]], "sigma": 0.1}, ["means", "same dimension"]),
        ({"means": [], "sigma": 0.1}, ["means", "1 to 64 modes"]),
        ({"means": [[0, 0], [1, 1]], "sigma": 0.1, "colour": "red"}, ["colour", "Extra inputs"]),
        ({"sigma": 0.1}, ["means", "Field required"]),
        ({"means": [[0, 0], [1, 1]]}, ["sigma", "Field required"]),
        ({"means": [[0, 0], [1, 1]], "sigma": 0.1, "n": 5}, ["n", "greater than or equal to 10"]),
        ({"means": [[0, 0], [1, 1]], "sigma": 0.1, "n": 100.0}, ["n", "valid integer"]),
        ({"means": [[0, 0], [1, 1]], "sigma": 0.1, "n": True}, ["n", "valid integer"]),
        ({"means": [[0, 0], [1, 1000]], "sigma": 0.1}, ["means", "[-100, 100]"]),
        ({"means": [[0, "a"], [1, 1]], "sigma": 0.1}, ["means.0.1", "valid number"]),
        ('{"means": [[0, NaN], [1, 1]], "sigma": 0.1}', ["means.0.1", "finite number"]),
        ('{"means": [[0, 0], [1, 1]], "sigma": [0.1, Infinity]}', ["sigma", "finite number"]),
        ('{"means": [[0, 0], [1, 1]], "sigma": 0.1, "weights": [1e400, 1]}', ["weights.0", "finite number"]),
    ],
)
def test_malformed_mixture_files_name_the_problem(tmp_path: Path, content: object, names: list[str]) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(MixtureFileError) as info:
        read_mixture_file(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "\n" not in message
    for name in names:
        assert name in message


def test_missing_and_unreadable_mixture_files(tmp_path: Path) -> None:
    with pytest.raises(MixtureFileError, match="no such file"):
        read_mixture_file(tmp_path / "absent.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MixtureFileError, match="cannot read|not valid JSON"):
        read_mixture_file(binary)
