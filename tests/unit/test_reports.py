"""The JSON of the analyses' typed results: rounding happens here, once, and the keys stay as published."""

from __future__ import annotations

import json

import numpy as np

from server.analysis.recursive import GenerationResult, RecursiveResult, Shares
from server.jobs.reports import generation_json, recursive_json, rounded


def _generation(name: str, g: int, between: float) -> GenerationResult:
    return GenerationResult(
        generation=g, filter=name, run_id="0" * 16, n_trained_on=10, n_drawn=11, n_kept=10,
        train_seconds=1.23456, drawn=Shares(1 - between, between, 0.0), kept=Shares(1.0, 0.0, 0.0),
        between_removed=1, between_drawn=1, per_mode_counts=np.array([4, 6]), filter_seconds=0.00049,
        scatter_points=np.array([[0.123456, -1.0000049]], dtype=np.float32), scatter_label=np.array([0], np.uint8))


def test_generation_json_rounds_seconds_and_points() -> None:
    out = generation_json(_generation("random", 0, 0.1))
    assert (out["train_seconds"], out["filter_seconds"]) == (1.235, 0.0)
    assert out["scatter"] == {"points": [[0.1235, -1.0]], "label": [0]}
    assert out["share_between_modes"] == 0.1 and out["kept"]["share_between_modes"] == 0.0
    json.dumps(out, allow_nan=False)  # plain Python numbers only


def test_recursive_json_compares_filters_only_when_both_ran() -> None:
    history = {"random": (_generation("random", 0, 0.2), _generation("random", 1, 0.3))}
    alone = recursive_json(RecursiveResult(2, 10, 11, history, None, None))
    assert alone["curves"]["random"]["share_between_modes"] == [0.2, 0.3]
    assert "variance_below_random_kept" not in alone
    both = recursive_json(RecursiveResult(2, 10, 11, history, True, False))
    assert (both["variance_below_random_kept"], both["variance_below_random_drawn_after_gen0"]) == (True, False)
    assert list(both)[:5] == ["generations", "n_keep", "n_drawn", "curves", "history"]


def test_rounded_keeps_shape() -> None:
    assert rounded(np.array([[1.23456789, 2.0]]), 3) == [[1.235, 2.0]]
    assert rounded(0.1234567) == 0.123457
