"""Content-addressed identities, as properties: one config, one run id; one result, one result id.

tests/unit/test_config.py already checks the ExperimentConfig → JSON → ExperimentConfig round trip
with Hypothesis; this adds the properties the API relies on: the id ignores key order and whether
defaults are written out, the oracle id ignores the sections it does not use, and result ids
follow the sampler parameters exactly.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.catalog.presets import run_identity
from server.diffusion.config import SamplerConfig, TrainConfig
from server.gaussian.config import ExperimentConfig, NetConfig
from server.streaming.results import result_id
from tests.unit.test_config import experiment_configs


def _shuffle(value: Any, draw: st.DrawFn) -> Any:
    """The same JSON value with every object's keys in an order Hypothesis picks."""
    if isinstance(value, dict):
        keys = draw(st.permutations(list(value)))
        return {k: _shuffle(value[k], draw) for k in keys}
    if isinstance(value, list):
        return [_shuffle(v, draw) for v in value]
    return value


def _without_defaults(value: dict[str, Any], defaults: dict[str, Any], drop: st.DrawFn) -> dict[str, Any]:
    """Drop some of the keys whose value equals the default (a partial config as the page posts it)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        default = defaults.get(key)
        if isinstance(item, dict) and isinstance(default, dict):
            out[key] = _without_defaults(item, default, drop)
        elif item == default and drop(st.booleans()):
            continue
        else:
            out[key] = item
    return out


@settings(max_examples=100, deadline=None)
@given(experiment_configs, st.data())
def test_run_id_ignores_key_order_and_written_defaults(config: ExperimentConfig, data: st.DataObject) -> None:
    full = json.loads(config.canonical_json())
    shuffled = _shuffle(full, data.draw)
    partial = _without_defaults(shuffled, json.loads(ExperimentConfig().canonical_json()), data.draw)
    again = ExperimentConfig.model_validate_json(json.dumps(partial, indent=data.draw(st.sampled_from([None, 1]))))
    assert again == config
    assert again.canonical_json() == config.canonical_json()
    assert again.run_id() == config.run_id()
    assert run_identity("trained", again) == (config.run_id(), config)


@settings(max_examples=50, deadline=None)
@given(experiment_configs, st.builds(NetConfig, width=st.integers(8, 512)), st.integers(1, 200_000))
def test_oracle_id_depends_on_data_and_schedule_only(config: ExperimentConfig, net: NetConfig, steps: int) -> None:
    other = config.model_copy(update={"net": net, "train": TrainConfig(steps=steps)})
    oracle_id, stored = run_identity("oracle", config)
    assert run_identity("oracle", other)[0] == oracle_id
    assert stored.net == NetConfig() and stored.train == TrainConfig()  # the stored config keeps the defaults
    assert oracle_id != config.run_id()  # an oracle and a trained run never share an id


samplers = st.builds(
    SamplerConfig, sampler=st.just("ddpm"), n=st.integers(1, 10_000), seed=st.integers(0, 2**31 - 1),
    window=st.integers(2, 1000),
) | st.builds(
    SamplerConfig, sampler=st.just("ddim"), eta=st.floats(0, 1, allow_nan=False), n=st.integers(1, 10_000),
    seed=st.integers(0, 2**31 - 1), window=st.integers(2, 1000),
)
run_ids = st.text("0123456789abcdef", min_size=16, max_size=16)


@settings(max_examples=200, deadline=None)
@given(run_ids, samplers, st.integers(2, 200), run_ids, samplers, st.integers(2, 200))
def test_result_id_is_a_function_of_run_and_parameters(run_a: str, sampler_a: SamplerConfig, frames_a: int,
                                                       run_b: str, sampler_b: SamplerConfig, frames_b: int) -> None:
    rid = result_id(run_a, sampler_a, frames_a)
    assert len(rid) == 16 and all(c in "0123456789abcdef" for c in rid)
    # Rebuilt from its JSON (as a link or a stored row would), the same parameters give the same id.
    rebuilt = SamplerConfig.model_validate_json(sampler_a.model_dump_json())
    assert result_id(run_a, rebuilt, frames_a) == rid
    same = (run_a, sampler_a, frames_a) == (run_b, sampler_b, frames_b)
    assert (result_id(run_b, sampler_b, frames_b) == rid) == same
