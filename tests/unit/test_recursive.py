"""Recursive training plumbing on a tiny config: generation 0 is shared by every filter, each filter keeps
N of ⌈N·1.025⌉, later generations train on the kept points (with their own run ids), and shares are
labelled against the original mixture."""

from __future__ import annotations

import numpy as np
import pytest

from server.analysis.recursive import (
    GenerationDone,
    GenerationStarted,
    GenerationTraining,
    RecursiveDone,
    keep_lowest,
    run_recursive,
)
from server.diffusion.config import SamplerConfig
from server.gaussian.training_points import points_run_id, setup_from_points

from .conftest import tiny_experiment

TINY = tiny_experiment("grid25", n=80, steps=6)


def test_keep_lowest_skips_non_finite_samples() -> None:
    samples = np.array([[0.0, 0.0], [np.nan, 0.0], [1.0, 1.0], [2.0, 2.0]])
    scores = np.array([3.0, 0.0, np.nan, 1.0])
    assert keep_lowest(scores, samples, 2).tolist() == [0, 3]
    assert keep_lowest(scores, samples, 10).tolist() == [0, 2, 3]


def test_points_run_id_and_setup() -> None:
    points = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    assert points_run_id(TINY, points) != points_run_id(TINY, points[:-1])
    assert points_run_id(TINY, points) != TINY.run_id() and points_run_id(TINY, points) == points_run_id(TINY, points)
    setup = setup_from_points(TINY, points)
    assert setup.data.shape == (20, 2) and setup.mixture.n_modes == 25
    with pytest.raises(ValueError, match="shape"):
        setup_from_points(TINY, points[:, :1])
    with pytest.raises(ValueError, match="finite"):
        setup_from_points(TINY, np.full((3, 2), np.nan))


def test_two_generations_three_filters() -> None:
    events = list(run_recursive(TINY, SamplerConfig(window=3), generations=2, filters=["variance", "random", "none"],
                                report_every=3, scatter_points=10))
    assert isinstance(events[-1], RecursiveDone)
    started = [e for e in events if isinstance(e, GenerationStarted)]
    assert [(e.generation, e.filter) for e in started] == [(0, "variance"), (0, "random"), (0, "none"),
                                                           (1, "variance"), (1, "random"), (1, "none")]
    # Generation 0 trains once for all filters; generation 1 once per filter.
    trained = {(e.generation, e.filter) for e in events if isinstance(e, GenerationTraining)}
    assert trained == {(0, "variance"), (1, "variance"), (1, "random"), (1, "none")}
    done = {(e.generation, e.filter): e.result for e in events if isinstance(e, GenerationDone)}
    gen0 = [done[(0, f)] for f in ("variance", "random", "none")]
    assert len({r["share_between_modes"] for r in gen0}) == 1 and len({r["run_id"] for r in gen0}) == 1
    for r in done.values():
        assert r["n_drawn"] == 82 and r["n_kept"] <= 80 and len(r["per_mode_counts"]) == 25
        assert len(r["scatter"]["points"]) == 10 and len(r["scatter"]["label"]) == 10
        assert r["between_removed"] <= r["between_drawn"]
    assert done[(1, "variance")]["n_trained_on"] == done[(0, "variance")]["n_kept"]
    assert done[(1, "variance")]["run_id"] != done[(1, "random")]["run_id"]
    result = events[-1].result
    assert set(result["curves"]) == {"variance", "random", "none"}
    assert len(result["curves"]["random"]["share_between_modes"]) == 2
    assert isinstance(result["variance_below_random_kept"], bool)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="filter"):
        list(run_recursive(TINY, SamplerConfig(), generations=1, filters=["magic"]))
    with pytest.raises(ValueError, match="generations"):
        list(run_recursive(TINY, SamplerConfig(), generations=0, filters=["random"]))
