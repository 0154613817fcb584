"""``modelab mechanism | detectors | sweep | recursive``: one-line exit-2 errors, help for every option,
strict JSON from tiny runs, and a repeated cached sweep that trains nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server.cli.commands import build_parser, main

from .cli_support import assert_bad_input, assert_help_documents_every_option, run_cli, subcommand

TINY_TRAIN = ["--steps", "6", "--batch", "32", "--warmup", "2", "--width", "16", "--blocks", "1", "--T", "20",
              "--threads", "1", "--quiet"]


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    return run_cli(main, capsys, argv)


def _strict_json(text: str) -> Any:
    def reject(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def _bad_inputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"nope")
    return [
        (["mechanism", "--model", "oracle", "--dataset", "1d-123"], "--t"),
        (["mechanism", "--model", "oracle", "--t", "0"], "--dataset"),
        (["mechanism", "--dataset", "1d-123", "--model", "oracle", "--t", "1000"], "--t: every timestep"),
        (["mechanism", "--dataset", "1d-123", "--model", "oracle", "--t", "x"], "--t"),
        (["mechanism", "--model", str(garbage), "--t", "0"], "not a readable safetensors"),
        (["mechanism", "--model", str(garbage), "--dataset", "grid25", "--t", "0"], "--dataset"),
        (["mechanism", "--model", "oracle", "--dataset", "grid25", "--t", "0", "--n-map", "1"], "--n-map"),
        (["detectors", "--model", "oracle", "--dataset", "1d-123", "--windows", "20"], "--windows"),
        (["detectors", "--model", "oracle", "--dataset", "1d-123", "--steps", "20"], "do not apply"),
        (["detectors", "--model", "oracle", "--dataset", "1d-123", "--lid-draws", "3"], "--lid-draws"),
        (["detectors", "--model", "oracle", "--dataset", "1d-123", "--lid-t0", "5000"], "--lid-t0"),
        (["detectors", "--model", "oracle", "--dataset", "1d-123", "--n", "0"], "--n"),
        (["sweep", "--param", "lr", "--values", "1", "--dataset", "grid25"], "--param"),
        (["sweep", "--param", "n_train", "--values", "ten", "--dataset", "grid25"], "--values"),
        (["sweep", "--param", "n_train", "--values", "5", "--dataset", "grid25", *TINY_TRAIN], "--values"),
        (["sweep", "--param", "n_train", "--values", "100", "100", "--dataset", "grid25"], "once"),
        (["sweep", "--param", "sampler", "--values", "ddim:7", "--dataset", "grid25"], "--values"),
        (["sweep", "--param", "steps", "--values", "10"], "--dataset"),
        (["recursive", "--dataset", "grid25", "--generations", "0"], "--generations"),
        (["recursive", "--dataset", "grid25", "--filter", "magic"], "--filter"),
        (["recursive", "--dataset", "grid25", "--filter", "random", "random"], "once"),
        (["recursive", "--dataset", "grid25", "--oversample", "2"], "--oversample"),
        (["recursive", "--dataset", "grid25", "--steps", "0"], "--steps"),
    ]


def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, fragment in _bad_inputs(tmp_path):
        assert_bad_input(main, capsys, argv, fragment)


@pytest.mark.parametrize("command", ["mechanism", "detectors", "sweep", "recursive"])
def test_help_documents_every_option(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, [command, "--help"])
    assert code == 0
    assert_help_documents_every_option(subcommand(build_parser(), command), out)


def test_mechanism_oracle_is_exact(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, ["mechanism", "--model", "oracle", "--dataset", "grid25", "--t", "0", "--t", "200",
                                   "--n-curve", "21", "--n-map", "7", "--threads", "1"])
    assert code == 0, err
    report = _strict_json(out)
    assert report["model"] == "oracle" and [e["t"] for e in report["timesteps"]] == [0, 200]
    assert report["summary"]["denoiser_slope_ratio_small_t_min"] == pytest.approx(1.0)
    assert len(report["timesteps"][0]["map"]["abs_eps_error"]) == 7


def test_detectors_trains_then_scores(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, ["detectors", "--dataset", "1d-123", "--n-train", "60", "--n", "80", "--window", "4",
                                   "--windows", "2", "--lid-draws", "2", "--t0-scan", "0", "3", *TINY_TRAIN])
    assert code == 0, err
    report = _strict_json(out)
    assert report["model"] == "network" and report["n_samples"] == 80 and report["window"] == 4
    assert set(report["detectors"]) == {"variance", "lid", "oracle", "oracle_final", "nn_distance", "variance_K2"}
    assert [row["t0"] for row in report["lid_t0_scan"]] == [0, 3]


def test_sweep_cache_dir_second_run_trains_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sweep", "--param", "n_train", "--values", "30", "60", "--seeds", "0", "1", "--dataset", "1d-123",
            "--n", "40", "--window", "3", "--cache-dir", str(tmp_path / "cache"), *TINY_TRAIN]
    code, out, err = _run(capsys, argv)
    assert code == 0, err
    first = _strict_json(out)
    assert [s["value"] for s in first["series"]] == [30, 60] and len(first["series"][0]["per_seed"]) == 2
    code, out, err = _run(capsys, [a for a in argv if a != "--quiet"])
    assert code == 0, err
    assert err.count("(cached)") == 4 and "[train]" not in err and "step" not in err
    assert _strict_json(out)["series"] == first["series"]


def test_recursive_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, ["recursive", "--dataset", "grid25", "--n-train", "50", "--generations", "2",
                                   "--window", "3", "--scatter-points", "5", *TINY_TRAIN])
    assert code == 0, err
    report = _strict_json(out)
    assert set(report["curves"]) == {"variance", "random"} and report["n_keep"] == 50 and report["n_drawn"] == 52
    assert len(report["history"]["variance"]) == 2
