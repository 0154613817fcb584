"""``modelab``: bad input gives exit status 2 and one line on stderr; help documents every option; a tiny
train → sample round trip writes the documented .npz; printed JSON is strict (no NaN)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.cli.commands import build_parser, main

from .cli_support import assert_bad_input, assert_help_documents_every_option, run_cli, subcommand

REPO = Path(__file__).resolve().parents[2]
TINY_TRAIN = ["--steps", "30", "--batch", "64", "--width", "16", "--blocks", "1", "--T", "60", "--n-train", "200",
              "--threads", "1", "--quiet"]


def _strict_json(text: str) -> Any:
    def reject(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    return run_cli(main, capsys, argv)


def _mixture_file(tmp_path: Path, content: object) -> str:
    path = tmp_path / f"mixture{len(list(tmp_path.glob('mixture*.json')))}.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


L_SHAPE = {"means": [[0, 0], [1, 0], [0, 1]], "sigma": 0.03, "n": 300}


def _bad_inputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    model = str(tmp_path / "m.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all")
    return [
        (["train", "--dataset", "grid36", "--out", model], "--dataset"),
        (["train", "--mixture", _mixture_file(tmp_path, "{oops"), "--out", model], "not valid JSON"),
        (["train", "--mixture", _mixture_file(tmp_path, {"means": [0, 1], "sigma": -0.1}), "--out", model], "sigma"),
        (["train", "--mixture", _mixture_file(tmp_path, {"means": [[0, 0, 0]], "sigma": 0.1}), "--out", model],
         "means"),
        (["train", "--mixture", str(tmp_path / "absent.json"), "--out", model], "no such file"),
        (["train", "--dataset", "grid25", "--T", "0", "--out", model], "--T"),
        (["train", "--dataset", "grid25", "--steps", "0", "--out", model], "--steps"),
        (["train", "--dataset", "grid25", "--n-train", "5", "--out", model], "--n-train"),
        (["train", "--dataset", "grid25", "--width", "4", "--out", model], "--width"),
        (["train", "--dataset", "grid25", "--out", str(tmp_path / "m.pt")], "--out"),
        (["train", "--dataset", "grid25"], "--out"),
        (["train", "--out", model], "--dataset"),
        (["train", "--dataset", "grid25", "--mixture", "x.json", "--out", model], "not allowed with"),
        (["train", "--dataset", "grid25", "--steps", "ten", "--out", model], "--steps"),
        (["train", "--dataset", "grid25", "--threads", "0", "--out", model], "--threads"),
        (["sample", "--model", str(tmp_path / "absent.safetensors"), "--out", str(tmp_path / "s.npz")],
         "no such checkpoint"),
        (["sample", "--model", str(garbage), "--out", str(tmp_path / "s.npz")], "not a readable safetensors"),
        (["sample", "--model", "oracle", "--dataset", "grid25", "--out", str(tmp_path / "s.csv")], "--out"),
        (["sample", "--model", "oracle", "--out", str(tmp_path / "s.npz")], "--dataset or --mixture"),
        (["sample", "--model", "oracle", "--dataset", "grid25", "--eta", "0.5", "--out", str(tmp_path / "s.npz")],
         "eta"),
        (["sample", "--model", "oracle", "--dataset", "grid25", "--n", "0", "--out", str(tmp_path / "s.npz")], "--n"),
        (["sample", "--model", str(garbage), "--dataset", "grid25", "--out", str(tmp_path / "s.npz")], "--dataset"),
        (["sample", "--model", str(garbage), "--n-train", "500", "--out", str(tmp_path / "s.npz")], "--n-train"),
        (["sample", "--model", "oracle", "--dataset", "1d-123", "--T", "5", "--n", "3",
          "--out", "/proc/modelab-cannot-write/s.npz", "--threads", "1"], "modelab-cannot-write"),
        (["reproduce", "grid99"], "invalid choice"),
        (["fly"], "invalid choice"),
        ([], "required"),
    ]


def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, fragment in _bad_inputs(tmp_path):
        err = assert_bad_input(main, capsys, argv, fragment)
        assert "Traceback" not in err
    assert not (tmp_path / "m.safetensors").exists()


def test_bad_input_in_a_real_process(tmp_path: Path) -> None:
    """The installed entry point's behaviour: nothing but one line on stderr, no traceback."""
    bad = _mixture_file(tmp_path, {"means": [[0, 0], [1, 1]], "sigma": -1})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "train", "--mixture", bad, "--out", str(tmp_path / "m.safetensors")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "sigma" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["train", "sample", "reproduce", "serve"])
def test_help_documents_every_option(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, [command, "--help"])
    assert code == 0
    assert_help_documents_every_option(subcommand(build_parser(), command), out)
    if command in ("train", "sample"):
        assert "--dataset" in out and "--mixture" in out and "--out" in out and "--seed" in out
        assert "grid25" in out and "(default" in out


def test_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, ["--help"])
    assert code == 0
    for command in ("train", "sample", "reproduce", "serve"):
        assert command in out


def test_train_then_sample_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mixture = _mixture_file(tmp_path, L_SHAPE)
    model = tmp_path / "models" / "tiny.safetensors"
    code, out, err = _run(capsys, ["train", "--mixture", mixture, "--seed", "3", "--out", str(model), *TINY_TRAIN])
    assert code == 0, err
    report = _strict_json(out)
    assert report["out"] == str(model) and report["steps"] == 30 and len(report["run_id"]) == 16
    assert model.is_file()

    npz = tmp_path / "out" / "samples.npz"
    argv = ["sample", "--model", str(model), "--n", "64", "--seed", "5", "--window", "5", "--threads", "1",
            "--out", str(npz)]
    code, out, err = _run(capsys, argv)
    assert code == 0, err
    headline = _strict_json(out)
    assert headline["n_samples"] == 64 and headline["out"] == str(npz)
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    assert arrays["samples"].shape == (64, 2)
    assert arrays["x0_pred_last"].shape == (64, 5, 2)
    for key in ("variance", "label", "nearest_mode", "distance_sigma"):
        assert arrays[key].shape == (64,), key
    assert arrays["means"].shape == (3, 2)
    assert "trajectory" not in arrays
    assert set(np.unique(arrays["label"])) <= {0, 1, 2}
    np.testing.assert_allclose(arrays["variance"], arrays["x0_pred_last"].var(axis=1).mean(axis=1), rtol=1e-5)

    # Same checkpoint, same seed: the same particles.
    again = tmp_path / "again.npz"
    code, _, err = _run(capsys, [*argv[:-1], str(again), "--trajectories"])
    assert code == 0, err
    with np.load(again) as data:
        np.testing.assert_array_equal(data["samples"], arrays["samples"])
        assert data["trajectory"].shape == (61, 64, 2) and data["x0_trajectory"].shape == (60, 64, 2)


def test_oracle_sample_prints_null_not_nan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The exact denoiser on the paper's 1D mixture makes no hallucinations here, so the AUROC is undefined.
    npz = tmp_path / "oracle.npz"
    code, out, err = _run(capsys, ["sample", "--model", "oracle", "--dataset", "1d-123", "--n", "200", "--seed", "0",
                                   "--threads", "1", "--out", str(npz)])
    assert code == 0, err
    assert "NaN" not in out and "Infinity" not in out
    headline = _strict_json(out)
    assert headline["share_in_support"] == 1.0
    assert headline["variance_auroc"] is None
    assert headline["removed_at_96_kept"] is None


def test_finite_helper_handles_nested_values() -> None:
    from server.cli.options import _finite

    value = {"a": float("nan"), "b": [1.0, float("inf"), {"c": -float("inf")}], "d": (2, "x"), "e": None}
    assert _finite(value) == {"a": None, "b": [1.0, None, {"c": None}], "d": [2, "x"], "e": None}
