"""``modelab`` on Simple Shapes: bad input exits 2 naming the flag; a tiny train → sample → reproduce round trip
writes the documented files and strict JSON; the Gaussian commands refuse the shapes-only options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.cli.commands import main
from server.shapes.checkpoint import load_unet_checkpoint
from server.shapes.counting import LABELS, count_shapes

from .cli_support import assert_bad_input, run_cli

TINY = ["--dataset", "shapes32", "--channels", "4,8", "--steps", "3", "--batch", "4", "--n-train", "20",
        "--threads", "1", "--quiet"]


def _strict_json(text: str) -> Any:
    def reject(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shapes") / "tiny.safetensors"
    assert main(["train", *TINY, "--out", str(path)]) == 0
    return path


def test_bad_input_names_the_flag(tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "s.npz")
    model = str(tmp_path / "m.safetensors")
    cases = [
        (["train", "--dataset", "shapes32", "--channels", "4,x", "--out", model], "--channels"),
        (["train", "--dataset", "shapes32", "--channels", "4,8,8,8,8", "--out", model], "--channels"),
        (["train", "--dataset", "shapes32", "--width", "16", "--out", model], "--width"),
        (["train", "--dataset", "shapes64", "--steps", "0", "--out", model], "--steps"),
        (["train", "--dataset", "shapes32", "--n-train", "0", "--out", model], "--n-train"),
        (["train", "--dataset", "grid25", "--channels", "4,8", "--out", model], "--channels"),
        (["sample", "--model", "oracle", "--dataset", "shapes32", "--steps", "7", "--out", out], "--steps"),
        (["sample", "--model", str(tiny_model), "--dataset", "shapes32", "--out", out], "--dataset"),
        (["sample", "--model", str(tiny_model), "--n", "0", "--out", out], "--n"),
        (["sample", "--model", str(tiny_model), "--out", str(tmp_path / "s.txt")], "--out"),
        (["sample", "--model", str(tiny_model), "--trajectories", "--out", out], "--trajectories"),
        (["sample", "--model", "oracle", "--dataset", "grid25", "--steps", "10", "--out", out], "--steps"),
        (["reproduce", "shapes32", "--model", str(tmp_path / "absent.safetensors")], "--model"),
        (["reproduce", "shapes32", "--model", str(tiny_model), "--chain-steps", "3"], "--chain-steps"),
        (["reproduce", "shapes32", "--model", str(tiny_model), "--n", "1"], "--n"),
        (["reproduce", "shapes32", "--model", str(tiny_model), "--n", "4", "--oracle-n", "5"], "--oracle-n"),
        (["reproduce", "shapes32", "--steps", "10"], "--steps"),
        (["reproduce", "shapes64", "--model", str(tiny_model)], "--model"),
        (["reproduce", "grid25", "--chain-steps", "10"], "--chain-steps"),
    ]
    for argv, fragment in cases:
        assert_bad_input(main, capsys, argv, fragment)


def test_sample_writes_images_counts_and_scores(tmp_path: Path, tiny_model: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.npz"
    code, stdout, err = run_cli(main, capsys, ["sample", "--model", str(tiny_model), "--n", "6", "--seed", "3",
                                               "--steps", "10", "--window", "4", "--out", str(out), "--threads", "1"])
    assert code == 0, err
    report = _strict_json(stdout)
    with np.load(out) as f:
        assert f["samples"].shape == (6, 32 * 32) and f["images"].shape == (6, 32, 32)
        assert f["x0_pred_last"].shape == (6, 4, 32 * 32) and f["trajectory_variance"].shape == (6,)
        assert list(f["label_names"]) == list(LABELS) and int(f["chain_steps"]) == 10
        recount = count_shapes(f["images"], 32)
        assert (recount.labels == f["labels"]).all() and (recount.counts == f["counts"]).all()
        assert sum(report["labels"].values()) == 6
        assert report["labels"] == {name: int((f["labels"] == i).sum()) for i, name in enumerate(LABELS)}
    again = tmp_path / "again.npz"
    assert run_cli(main, capsys, ["sample", "--model", str(tiny_model), "--n", "6", "--seed", "3", "--steps", "10",
                                  "--window", "4", "--out", str(again), "--threads", "1"])[0] == 0
    with np.load(out) as a, np.load(again) as b:
        assert np.array_equal(a["samples"], b["samples"])  # same seed, same images


def test_oracle_sampling_draws_training_images_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.npz"
    code, stdout, err = run_cli(main, capsys, ["sample", "--model", "oracle", "--dataset", "shapes32",
                                               "--n-train", "20", "--n", "8", "--steps", "20", "--out", str(out),
                                               "--threads", "1"])
    assert code == 0, err
    assert _strict_json(stdout)["labels"]["valid"] == 8


def test_train_writes_a_shapes_checkpoint(tiny_model: Path) -> None:
    checkpoint = load_unet_checkpoint(tiny_model)
    assert checkpoint.config.data.resolution == 32 and checkpoint.config.unet.channels == (4, 8)
    assert checkpoint.config.train.steps == 3 and checkpoint.metadata["steps_done"] == "3"


def test_reproduce_prints_every_figure_and_writes_the_set(tmp_path: Path, tiny_model: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    samples = tmp_path / "set.npz"
    code, stdout, err = run_cli(main, capsys, ["reproduce", "shapes32", "--model", str(tiny_model), "--n", "12",
                                               "--chain-steps", "20", "--oracle-n", "4", "--samples-out",
                                               str(samples), "--threads", "1", "--quiet"])
    assert code == 0, err
    figures = _strict_json(stdout)
    assert figures["training_set"]["labels"]["duplicate"]["count"] == 0
    assert figures["oracle"]["labels"]["duplicate"]["count"] == 0 and figures["oracle"]["n"] == 4
    assert figures["model"]["n"] == 12 and figures["model"]["chain_steps"] == 20
    assert set(figures["window_effect"]) == {"2", "5", "10", "20"}
    assert {"trajectory_variance_k10", "nearest_train_distance", "denoising_error"} <= set(figures["detectors"])
    with np.load(samples) as f:
        images = np.unpackbits(f["images"], axis=1)[:, :32 * 32].astype(bool)
        assert images.shape == (12, 32 * 32) and f["labels"].shape == (12,)
        assert (count_shapes(images, 32).labels == f["labels"]).all()
        assert f["trajectory_variance_k10"].shape == (12,)
