"""Strict, frozen configs: types, bounds, unknown keys, canonical JSON and content-addressed run ids."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from server.diffusion.config import SamplerConfig, ScheduleConfig, TrainConfig
from server.gaussian.config import MAX_MODES, DataConfig, ExperimentConfig, MixtureSpec, NetConfig


def test_defaults_are_the_paper_setup() -> None:
    c = ExperimentConfig()
    assert c.data.dataset == "grid25"
    assert (c.schedule.kind, c.schedule.T, c.schedule.beta_start, c.schedule.beta_end) == ("linear", 1000, 0.001, 0.2)
    assert (c.net.width, c.net.blocks, c.net.tied) == (128, 3, True)
    assert SamplerConfig().window == 10 and SamplerConfig().sampler == "ddpm"


@pytest.mark.parametrize(
    ("model", "values", "field"),
    [
        (TrainConfig, {"steps": True}, "steps"),  # bool is not an int
        (TrainConfig, {"steps": 10.0}, "steps"),
        (TrainConfig, {"steps": "10"}, "steps"),
        (TrainConfig, {"steps": 0}, "steps"),
        (TrainConfig, {"batch": 20_001}, "batch"),
        (TrainConfig, {"lr": 0.0}, "lr"),
        (TrainConfig, {"low_t_share": 1.0}, "low_t_share"),
        (TrainConfig, {"seed": -1}, "seed"),
        (TrainConfig, {"lr_schedule": "linear"}, "lr_schedule"),
        (TrainConfig, {"epochs": 3}, "epochs"),  # unknown key
        (ScheduleConfig, {"T": 0}, "T"),
        (ScheduleConfig, {"T": 4001}, "T"),
        (ScheduleConfig, {"kind": "cosine"}, "kind"),
        (ScheduleConfig, {"beta_start": 0.3, "beta_end": 0.2}, "beta_start"),
        (ScheduleConfig, {"beta_end": 1.0}, "beta_end"),
        (NetConfig, {"width": 7}, "width"),
        (NetConfig, {"tied": 1}, "tied"),  # int is not a bool
        (NetConfig, {"blocks": 9}, "blocks"),
        (DataConfig, {"dataset": "grid36"}, "dataset"),
        (DataConfig, {"dataset": "custom"}, "mixture"),
        (DataConfig, {"dataset": "grid25", "mixture": {"means": [1, 2], "sigma": 0.1}}, "mixture"),
        (DataConfig, {"n": 9}, "n"),
        (SamplerConfig, {"sampler": "ddpm", "eta": 0.5}, "eta"),
        (SamplerConfig, {"sampler": "ddim", "eta": 1.5}, "eta"),
        (SamplerConfig, {"window": 1}, "window"),
        (SamplerConfig, {"n": 0}, "n"),
        (MixtureSpec, {"means": [[0.0]] * (MAX_MODES + 1), "sigma": 0.1}, "means"),
        (MixtureSpec, {"means": [1.0, 2.0], "sigma": 11.0}, "sigma"),
    ],
)
def test_invalid_values_are_rejected_naming_the_field(model: Any, values: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(values)
    assert field in str(info.value)


def test_configs_are_frozen() -> None:
    c = ExperimentConfig()
    with pytest.raises(ValidationError):
        c.train.steps = 5  # type: ignore[misc]


def test_canonical_json_is_sorted_compact_and_complete() -> None:
    c = ExperimentConfig()
    text = c.canonical_json()
    assert " " not in text and "\n" not in text
    parsed = json.loads(text)
    assert list(parsed) == sorted(parsed) == ["data", "net", "schedule", "train"]
    assert parsed["train"]["steps"] == TrainConfig().steps  # defaults are written out
    assert ExperimentConfig.model_validate_json(text) == c


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def test_run_id_is_stable_under_key_order_and_defaults() -> None:
    c = ExperimentConfig(train=TrainConfig(steps=123, seed=4), data=DataConfig(dataset="diamond25", n=500))
    rid = c.run_id()
    assert len(rid) == 16 and int(rid, 16) >= 0
    full = json.loads(c.canonical_json())
    for seed in range(5):
        text = json.dumps(_shuffled(full, random.Random(seed)), indent=seed)
        assert ExperimentConfig.model_validate_json(text).run_id() == rid
    # Only the non-default values given: same config, same id.
    sparse = {"train": {"seed": 4, "steps": 123}, "data": {"n": 500, "dataset": "diamond25"}}
    assert ExperimentConfig.model_validate(sparse).run_id() == rid
    # Any change of value changes the id.
    assert ExperimentConfig(train=TrainConfig(steps=123, seed=5), data=c.data).run_id() != rid
    assert ExperimentConfig().run_id() == ExperimentConfig().run_id() != rid


# ----------------------------------------------------------------------------- Hypothesis round trip

finite = {"allow_nan": False, "allow_infinity": False}
coordinate = st.floats(-100, 100, **finite)
positive_sigma = st.floats(1e-6, 10, **finite)


@st.composite
def mixtures(draw: st.DrawFn) -> MixtureSpec:
    k = draw(st.integers(1, 6))
    d = draw(st.sampled_from([1, 2]))
    means = tuple(tuple(draw(coordinate) for _ in range(d)) for _ in range(k))
    sigma = draw(st.one_of(positive_sigma, st.tuples(*[positive_sigma] * k)))
    weights = draw(st.one_of(st.none(), st.tuples(*[st.floats(1e-6, 1e6, **finite)] * k)))
    return MixtureSpec(means=means, sigma=sigma, weights=weights, n=draw(st.integers(10, 200_000)))


@st.composite
def data_configs(draw: st.DrawFn) -> DataConfig:
    n = draw(st.one_of(st.none(), st.integers(10, 200_000)))
    if draw(st.booleans()):
        return DataConfig(dataset="custom", mixture=draw(mixtures()), n=n)
    return DataConfig(dataset=draw(st.sampled_from(["1d-123", "1d-1245", "grid25", "diamond25"])), n=n)


@st.composite
def schedule_configs(draw: st.DrawFn) -> ScheduleConfig:
    lo = draw(st.floats(1e-6, 0.5, **finite))
    hi = draw(st.floats(lo, 0.999, **finite))
    return ScheduleConfig(kind=draw(st.sampled_from(["linear", "continuous"])), T=draw(st.integers(1, 4000)),
                          beta_start=lo, beta_end=hi)


experiment_configs = st.builds(
    ExperimentConfig,
    data=data_configs(),
    schedule=schedule_configs(),
    net=st.builds(NetConfig, width=st.integers(8, 512), blocks=st.integers(1, 8), tied=st.booleans()),
    train=st.builds(
        TrainConfig,
        steps=st.integers(1, 200_000),
        batch=st.integers(1, 20_000),
        lr=st.floats(1e-9, 0.1, **finite).filter(lambda v: v > 0),
        lr_schedule=st.sampled_from(["constant", "cosine"]),
        warmup=st.integers(0, 10_000),
        low_t_share=st.floats(0, 0.999, **finite),
        low_t_frac=st.floats(1e-6, 1, **finite),
        seed=st.integers(0, 2**31 - 1),
    ),
)


@settings(max_examples=150, deadline=None)
@given(experiment_configs)
def test_experiment_config_json_round_trip(config: ExperimentConfig) -> None:
    text = config.canonical_json()
    again = ExperimentConfig.model_validate_json(text)
    assert again == config
    assert again.canonical_json() == text
    assert again.run_id() == config.run_id()
    # The python-mode path (JSON parsed to lists first, as the API and files do) agrees too.
    assert ExperimentConfig.model_validate(json.loads(text)) == config
