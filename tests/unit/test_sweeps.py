"""Sweep plumbing on tiny configs: each parameter changes the right field, a repeated sweep is all cache
hits and trains nothing, a sampler sweep trains one model per seed, and the aggregate has error bars."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from server.analysis.result_cache import JsonDirCache, MemoryCache
from server.analysis.sweeps import (
    PointDone,
    PointStarted,
    PointTraining,
    SweepDone,
    TrainedModel,
    aggregate,
    parse_value,
    point_config,
    run_sweep,
)
from server.diffusion.config import SamplerConfig
from server.gaussian.datasets import NAMED_MIXTURES
from server.gaussian.nets import ResidualMLP

from .conftest import tiny_experiment

TINY = tiny_experiment("1d-123", n=60, steps=8)
SAMPLER = SamplerConfig(n=40, window=3)


def test_point_config_changes_one_field() -> None:
    config, _ = point_config(TINY, SAMPLER, "n_train", 100, seed=3)
    assert config.data.n == 100 and config.train.seed == 3
    config, _ = point_config(TINY, SAMPLER, "spacing", 2.0, seed=0)
    assert config.data.dataset == "custom" and config.data.mixture is not None
    assert config.data.mixture.means == ((2.0,), (4.0,), (6.0,)) and config.data.mixture.n == 60
    assert config.data.mixture.sigma == NAMED_MIXTURES["1d-123"].sigma
    assert point_config(TINY, SAMPLER, "T", 50, 0)[0].schedule.T == 50
    assert point_config(TINY, SAMPLER, "steps", 5, 0)[0].train.steps == 5
    assert point_config(TINY, SAMPLER, "width", 32, 0)[0].net.width == 32
    config, sampler = point_config(TINY, SAMPLER, "sampler", "ddim:0.5", 0)
    assert config == TINY.model_copy(update={"train": TINY.train.model_copy(update={"seed": 0})})
    assert sampler.sampler == "ddim" and sampler.eta == 0.5 and sampler.n == 40
    with pytest.raises(ValueError):
        point_config(TINY, SAMPLER, "n_train", 5, 0)  # below the config's minimum of 10


def test_n_train_at_fixed_epochs_scales_the_steps() -> None:
    """TINY trains 8 steps on 60 points: the same passes over 120 points take 16 steps, over 15 points 2."""
    for n, steps in [(120, 16), (15, 2), (60, 8), (10, 1)]:
        config, _ = point_config(TINY, SAMPLER, "n_train_epochs", n, seed=1)
        assert (config.data.n, config.train.steps, config.train.batch) == (n, steps, TINY.train.batch)
    assert point_config(TINY, SAMPLER, "n_train", 120, 1)[0].train.steps == TINY.train.steps
    long = TINY.model_copy(update={"train": TINY.train.model_copy(update={"steps": 100_000})})
    with pytest.raises(ValueError, match="steps"):
        point_config(long, SAMPLER, "n_train_epochs", 200, 0)  # 333,333 steps > the config's 200,000


def test_parse_value() -> None:
    assert parse_value("n_train", "1000") == 1000
    assert parse_value("spacing", "1.5") == 1.5
    assert parse_value("sampler", "ddim:0.3") == "ddim:0.3"
    for param, text in [("n_train", "ten"), ("spacing", "-1"), ("sampler", "ddpm:0.5"), ("sampler", "ddim:2"),
                        ("sampler", "euler")]:
        with pytest.raises(ValueError, match="values"):
            parse_value(param, text)
    with pytest.raises(ValueError, match="param"):
        parse_value("lr", "1")


def _run(param: str, values: list, seeds: list[int], cache: MemoryCache | JsonDirCache) -> tuple[list, dict]:  # type: ignore[type-arg]
    events = list(run_sweep(TINY, SAMPLER, param, values, seeds, cache=cache, report_every=4))
    assert isinstance(events[-1], SweepDone)
    return events, events[-1].result


def test_second_sweep_is_all_cache_hits_and_trains_nothing() -> None:
    cache = MemoryCache()
    events, first = _run("n_train", [30, 60], [0, 1], cache)
    started = [e for e in events if isinstance(e, PointStarted)]
    assert len(started) == 4 and not any(e.cached for e in started)
    assert {e.index for e in events if isinstance(e, PointTraining)} == {0, 1, 2, 3}
    assert len(cache.items) == 4

    events, second = _run("n_train", [30, 60], [0, 1], cache)
    assert not any(isinstance(e, PointTraining) for e in events)
    assert all(e.cached for e in events if isinstance(e, PointStarted))
    assert second["series"] == first["series"]
    # Adding a seed trains only the new points.
    events, third = _run("n_train", [30, 60], [0, 1, 2], cache)
    assert {e.index for e in events if isinstance(e, PointTraining)} == {4, 5}
    series = third["series"][0]
    assert [r["seed"] for r in series["per_seed"]] == [0, 1, 2] and series["std"] >= 0.0
    assert len([e for e in events if isinstance(e, PointDone)]) == 6


class DictModels:
    """A ``ModelStore`` in a dict, keeping copies (as a file would)."""

    def __init__(self) -> None:
        self.saved: dict[str, tuple[dict, float, float | None]] = {}  # type: ignore[type-arg]

    def load(self, config):  # type: ignore[no-untyped-def]
        if config.run_id() not in self.saved:
            return None
        state, seconds, loss = self.saved[config.run_id()]
        net = ResidualMLP(config.net, 1, torch.Generator().manual_seed(99))  # other weights until loaded
        net.load_state_dict(state)
        return TrainedModel(net, seconds, loss)

    def save(self, config, model: TrainedModel) -> None:  # type: ignore[no-untyped-def]
        state = {k: v.clone() for k, v in model.net.state_dict().items()}
        self.saved[config.run_id()] = (state, model.train_seconds, model.final_loss)


def test_stored_models_are_sampled_again_without_training() -> None:
    """Figures evicted, models kept: the second sweep trains nothing and gets the same figures."""
    models = DictModels()
    events = list(run_sweep(TINY, SAMPLER, "n_train", [30, 60], [0], cache=MemoryCache(), models=models))
    assert any(isinstance(e, PointTraining) for e in events) and len(models.saved) == 2
    first = events[-1].result  # type: ignore[union-attr]
    again = list(run_sweep(TINY, SAMPLER, "n_train", [30, 60], [0], cache=MemoryCache(), models=models))
    assert not any(isinstance(e, PointTraining) for e in again)
    second = again[-1].result  # type: ignore[union-attr]
    drop = ("sample_seconds",)
    assert [{k: v for k, v in p.items() if k not in drop} for p in second["points"]] == \
        [{k: v for k, v in p.items() if k not in drop} for p in first["points"]]


def test_sampler_sweep_trains_once_per_seed(tmp_path: Path) -> None:
    cache = JsonDirCache(tmp_path / "cache")
    events, result = _run("sampler", ["ddpm", "ddim", "ddim:1"], [0], cache)
    trained_points = {e.index for e in events if isinstance(e, PointTraining)}
    assert trained_points == {0}
    run_ids = {p["run_id"] for p in result["points"]}
    assert len(run_ids) == 1 and len({p["key"] for p in result["points"]}) == 3
    assert len(list((tmp_path / "cache").glob("*.json"))) == 3
    events, _ = _run("sampler", ["ddpm", "ddim", "ddim:1"], [0], cache)
    assert not any(isinstance(e, PointTraining) for e in events)


def test_json_cache_round_trip_and_bad_files(tmp_path: Path) -> None:
    cache = JsonDirCache(tmp_path)
    assert cache.get("0123456789abcdef") is None
    cache.put("0123456789abcdef", {"a": 1.5, "b": [1, 2]})
    assert cache.get("0123456789abcdef") == {"a": 1.5, "b": [1, 2]}
    (tmp_path / "fedcba9876543210.json").write_text("{broken")
    assert cache.get("fedcba9876543210") is None
    with pytest.raises(ValueError, match="16 hex"):
        cache.get("../../etc/passwd")
    assert json.loads((tmp_path / "0123456789abcdef.json").read_text())["a"] == 1.5


def test_json_caches_sharing_a_budget_evict_the_least_recently_used(tmp_path: Path) -> None:
    """Two caches under one root, 3 KB between them: a put evicts the files used longest ago, in either
    cache; a hit counts as a use; the file just written survives even when it alone is over the budget."""
    budget = {"max_bytes": 3000, "budget_root": tmp_path}
    views, points = JsonDirCache(tmp_path / "views", **budget), JsonDirCache(tmp_path / "points", **budget)
    blob = {"x": "." * 900}  # ≈ 910 bytes on disk
    keys = [f"{i:016x}" for i in range(4)]
    for i, key in enumerate(keys[:3]):
        (views if i % 2 == 0 else points).put(key, blob)
        os.utime((tmp_path / ("views" if i % 2 == 0 else "points") / f"{key}.json"), (i, i))  # distinct ages
    assert views.get(keys[0]) == blob  # used now: the oldest is keys[1]
    points.put(keys[3], blob)  # 4 × 910 > 3000: one must go
    assert points.get(keys[1]) is None
    assert views.get(keys[0]) == blob and views.get(keys[2]) == blob and points.get(keys[3]) == blob
    views.put("f" * 16, {"x": "." * 5000})  # over the budget by itself: everything else goes, it stays
    assert views.get("f" * 16) is not None
    assert sorted(p.name for p in tmp_path.rglob("*.json")) == ["ffffffffffffffff.json"]


def test_aggregate_mean_std_per_seed() -> None:
    rows = [{"value": 1, "seed": s, "run_id": str(s), "share_between_modes": v} for s, v in [(0, 0.1), (1, 0.3)]]
    out = aggregate("n_train", [1], [0, 1], rows)
    assert out["series"][0]["mean"] == pytest.approx(0.2)
    assert out["series"][0]["std"] == pytest.approx(0.1414213, rel=1e-5)
