"""Cost estimates (server.diffusion.costs and each analysis module's estimate) against the default budgets:
the heaviest requests the API's field bounds allow are over them, the defaults well under them."""

from __future__ import annotations

from typing import Any

import pytest

from server.analysis.detector_bench import bench_cost
from server.analysis.mechanism import mechanism_cost
from server.analysis.recursive import generation_draws, recursive_cost
from server.analysis.sweeps import sweep_cost, sweep_points
from server.diffusion.config import SamplerConfig
from server.gaussian.config import ExperimentConfig, NetConfig
from server.gaussian.costs import duration
from server.gaussian.training import training_cost
from server.settings import MAX_JOB_SECONDS, MAX_STEP_SECONDS, Settings

BUDGET = Settings(data_dir="unused")  # type: ignore[arg-type]
HEAVIEST_NET = {"width": 512, "blocks": 8, "tied": False}


def config(**parts: Any) -> ExperimentConfig:
    return ExperimentConfig.model_validate(parts)


def test_default_training_fits_and_the_issues_heaviest_does_not() -> None:
    default = training_cost(ExperimentConfig())
    assert default.seconds < BUDGET.max_job_seconds / 4 and default.step_seconds < BUDGET.max_step_seconds / 4
    # 20k steps × batch 20k × width 512 × 8 blocks: each step alone is beyond any deployment's step cap.
    heavy = training_cost(config(net=HEAVIEST_NET, train={"steps": 20_000, "batch": 20_000}))
    assert heavy.step_seconds > MAX_STEP_SECONDS and heavy.seconds > MAX_JOB_SECONDS
    assert heavy.detail.startswith("20,000 steps × ")


@pytest.mark.parametrize("change", [
    {"train": {"steps": 6000}}, {"train": {"batch": 4096}}, {"net": {"width": 256}}, {"net": {"blocks": 6}},
    {"net": {"tied": False}},
])
def test_training_cost_grows_with_each_field_that_drives_it(change: dict[str, Any]) -> None:
    assert training_cost(config(**change)).seconds > training_cost(ExperimentConfig()).seconds


def test_step_cost_does_not_depend_on_steps_or_data_size() -> None:
    short, long = training_cost(config(train={"steps": 10})), training_cost(config(train={"steps": 10_000}))
    assert short.step_seconds == long.step_seconds and long.seconds == pytest.approx(1000 * short.seconds)
    assert training_cost(config(data={"dataset": "grid25", "n": 100})).step_seconds == short.step_seconds


def test_recursive_cost_of_the_issue_and_of_the_page_default() -> None:
    issue = config(data={"dataset": "grid25", "n": 200_000}, schedule={"T": 4000})
    assert generation_draws(issue, 1.0) == (200_000, 400_000)
    assert recursive_cost(issue, generations=8, filters=["variance", "random"], oversample=1,
                          lid_draws=8).seconds > 10 * BUDGET.max_job_seconds
    page = config(data={"dataset": "grid25", "n": 2000}, train={"steps": 1000, "batch": 1024})
    assert recursive_cost(page, generations=3, filters=["variance", "random"], oversample=0.25,
                          lid_draws=8).seconds < BUDGET.max_job_seconds / 4


def test_recursive_cost_counts_shared_generation_zero_and_the_lid_filter() -> None:
    base = config(data={"dataset": "1d-123", "n": 1000})
    one = recursive_cost(base, generations=1, filters=["variance", "random"], oversample=0, lid_draws=8)
    two = recursive_cost(base, generations=2, filters=["variance", "random"], oversample=0, lid_draws=8)
    assert one.detail.startswith("1 trainings") and two.detail.startswith("3 trainings")
    lid = recursive_cost(base, generations=2, filters=["variance", "lid"], oversample=0, lid_draws=32)
    assert lid.seconds > two.seconds


def test_sweep_cost_trains_each_point_once_and_a_sampler_sweep_once_per_seed() -> None:
    base = config(data={"dataset": "1d-123"}, train={"steps": 1000, "batch": 1024})
    sampler = SamplerConfig(n=2000)
    n_sweep = sweep_cost(sweep_points(base, sampler, "n_train", [500, 2000, 8000], [0, 1, 2]))
    assert n_sweep.detail == "9 trainings and 9 samplings" and n_sweep.seconds < BUDGET.max_job_seconds / 4
    samplers = sweep_cost(sweep_points(base, sampler, "sampler", ["ddpm", "ddim"], [0, 1]))
    assert samplers.detail == "2 trainings and 4 samplings"
    widest = sweep_cost(sweep_points(base, sampler, "width", [512], [0]))
    assert widest.step_seconds > training_cost(base).step_seconds


def test_views_default_fit_and_the_largest_detector_bench_does_not() -> None:
    net = ExperimentConfig().net
    default = bench_cost(net, 2, 25, 1000, SamplerConfig(n=2000, window=20), lid_draws=8, n_train=100_000)
    assert default.seconds < BUDGET.max_view_seconds / 4
    largest = bench_cost(NetConfig(**HEAVIEST_NET), 2, 25, 4000, SamplerConfig(n=5000, window=50), lid_draws=32,
                         n_train=200_000)
    assert largest.seconds > BUDGET.max_view_seconds
    oracle = bench_cost(None, 2, 25, 1000, SamplerConfig(n=2000, window=20), lid_draws=8, n_train=None)
    assert oracle.seconds > 0 and oracle.step_seconds == 0
    # The mechanism view is bounded by its query caps: even the largest is well within the view budget.
    assert mechanism_cost(NetConfig(**HEAVIEST_NET), 2, 64, 4000, slopes=True, n_curve=1001,
                          n_map=81).seconds < BUDGET.max_view_seconds / 4
    assert mechanism_cost(net, 1, 3, 1000, slopes=False, n_curve=201, n_map=41).seconds < mechanism_cost(
        net, 1, 3, 1000, slopes=True, n_curve=201, n_map=41).seconds


@pytest.mark.parametrize(("seconds", "text"), [(0.0612, "61 ms"), (12.34, "12.3 s"), (600, "10 min"),
                                               (9000, "2.5 h")])
def test_duration_is_readable(seconds: float, text: str) -> None:
    assert duration(seconds) == text
