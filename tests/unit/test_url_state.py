"""The URL hash codec (server/catalog/url_state.py): exact round trips, canonical form, unknown keys ignored,
invalid values reported by field, and byte-identical hashes from the page's JS codec (static/js/hash_codec.js)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.catalog.url_state import CONFIG_KEYS, LAYERS, SAMPLER_KEYS, SPEC, _leaves, build_spec, encode, js_number
from server.diffusion.config import SamplerConfig
from server.gaussian.config import ExperimentConfig
from server.settings import Settings
from tests.url_decode import decode

ROOT = Path(__file__).resolve().parents[2]

floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


def unit(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> st.SearchStrategy[float]:
    nice = [x for x in (0.001, 0.2, 0.05, 0.5, 1e-7, 0.25) if (lo < x or not lo_open and lo <= x) and x < hi]
    drawn = st.floats(lo, hi, exclude_min=lo_open, exclude_max=hi_open, allow_nan=False)
    return drawn | st.sampled_from(nice) if nice else drawn


@st.composite
def mixtures(draw: Any) -> dict[str, Any]:
    k = draw(st.integers(1, 6))
    d = draw(st.sampled_from([1, 2]))
    coord = st.floats(-100, 100, allow_nan=False) | st.integers(-100, 100).map(float)
    means = [[draw(coord) for _ in range(d)] for _ in range(k)]
    sig = st.floats(1e-6, 10, allow_nan=False)
    sigma: Any = draw(sig) if draw(st.booleans()) else [draw(sig) for _ in range(k)]
    weights = draw(st.none() | st.lists(st.floats(1e-6, 1e6, allow_nan=False), min_size=k, max_size=k))
    return {"means": means, "sigma": sigma, "weights": weights, "n": draw(st.integers(10, 200_000))}


@st.composite
def configs(draw: Any) -> ExperimentConfig:
    dataset = draw(st.sampled_from(["1d-123", "1d-1245", "grid25", "diamond25", "custom"]))
    b0 = draw(unit(0, 1, lo_open=True, hi_open=True))
    b1 = draw(unit(b0, 1, hi_open=True))
    return ExperimentConfig.model_validate({
        "data": {"dataset": dataset, "mixture": draw(mixtures()) if dataset == "custom" else None,
                 "n": draw(st.none() | st.integers(10, 200_000))},
        "schedule": {"kind": draw(st.sampled_from(["linear", "continuous"])), "T": draw(st.integers(1, 4000)),
                     "beta_start": b0, "beta_end": b1},
        "net": {"width": draw(st.integers(8, 512)), "blocks": draw(st.integers(1, 8)), "tied": draw(st.booleans())},
        "train": {"steps": draw(st.integers(1, 200_000)), "batch": draw(st.integers(1, 20_000)),
                  "lr": draw(unit(0, 0.1, lo_open=True)), "lr_schedule": draw(st.sampled_from(["constant", "cosine"])),
                  "warmup": draw(st.integers(0, 10_000)), "low_t_share": draw(unit(0, 1, hi_open=True)),
                  "low_t_frac": draw(unit(0, 1, lo_open=True)), "seed": draw(st.integers(0, 2**31 - 1))},
    })


@st.composite
def samplers(draw: Any) -> SamplerConfig:
    kind = draw(st.sampled_from(["ddpm", "ddim"]))
    eta = draw(unit(0, 1)) if kind == "ddim" else 0.0
    return SamplerConfig(sampler=kind, eta=eta, n=draw(st.integers(1, 200_000)), seed=draw(st.integers(0, 2**31 - 1)),
                         window=draw(st.integers(2, 1000)))


@st.composite
def views(draw: Any) -> dict[str, Any]:
    return {
        "kind": draw(st.sampled_from(["trained", "oracle"])),
        "result": draw(st.none() | st.text("0123456789abcdef", min_size=16, max_size=16)),
        "frame": draw(st.none() | st.integers(0, 199)),
        "particle": draw(st.none() | st.integers(0, 9999)),
        "threshold": draw(st.none() | st.floats(1e-12, 1e3, exclude_min=True)),
        "layers": draw(st.lists(st.sampled_from(LAYERS), unique=True)),
        "zoom": draw(st.booleans()),
        "step": draw(st.none() | st.integers(1, 50)),
    }


def test_every_model_field_has_a_short_key() -> None:
    assert {p for p, _ in _leaves(ExperimentConfig)} == set(CONFIG_KEYS)
    assert {p for p, _ in _leaves(SamplerConfig)} == set(SAMPLER_KEYS)
    keys = [f["key"] for f in SPEC["fields"]]
    assert len(keys) == len(set(keys))


def test_defaults_encode_to_nothing() -> None:
    assert encode(ExperimentConfig(), SamplerConfig()) == ""
    config, sampler, view, frames, problems = decode("")
    assert (config, sampler, frames, problems) == (ExperimentConfig(), SamplerConfig(), 100, [])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(configs(), samplers(), views(), st.integers(2, 200))
def test_round_trip_is_exact_and_canonical(config: ExperimentConfig, sampler: SamplerConfig,
                                           view: dict[str, Any], frames: int) -> None:
    text = encode(config, sampler, view, frames)
    back, sampler_back, view_back, frames_back, problems = decode(text)
    assert problems == []
    assert back.canonical_json() == config.canonical_json()  # same run id, not only equal values
    assert sampler_back == sampler and frames_back == frames
    assert view_back == {**view, "layers": [x for x in LAYERS if x in view["layers"]]}
    assert encode(back, sampler_back, view_back, frames_back) == text  # canonical form is stable
    assert decode("#" + text + "&unknown=1&zz")[0] == back  # unknown keys are ignored


@given(floats)
def test_js_number_reads_back(x: float) -> None:
    assert float(js_number(x)) == x


@pytest.mark.parametrize(("text", "field"), [
    ("st=abc", "train.steps"), ("st=0", "train.steps"), ("lr=1", "train.lr"), ("d=nope", "data.dataset"),
    ("tie=yes", "net.tied"), ("n=1.5", "sampler.n"), ("s=ddpm&eta=0.5", "sampler.eta"), ("t=-1", "view.frame"),
    ("r=XYZ", "view.result"), ("ly=support,clouds", "view.layers"), ("b0=0.5&b1=0.1", "schedule"),
    ("d=custom", "data"), ("d=custom&m=1;2&ms=0.1,0.1,0.1", "data.mixture.sigma"), ("lr=nan", "train.lr"),
])
def test_invalid_values_are_reported_by_field(text: str, field: str) -> None:
    config, sampler, view, frames, problems = decode(text)
    assert problems, text
    assert any(p.field.startswith(field) for p in problems), problems
    ExperimentConfig.model_validate(config.model_dump())  # still a valid config (defaults kept)


def test_a_link_is_held_to_the_server_s_sample_limit(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_sample_n=500)
    spec = build_spec(settings.limits())
    n_field = next(f for f in spec["fields"] if f["group"] == "sampler" and f["path"] == "n")
    assert n_field["le"] == settings.max_sample_n
    *_, problems = decode("n=501", spec)
    assert [p.field for p in problems] == ["sampler.n"], problems
    *_, problems = decode("n=500", spec)
    assert problems == []


def test_known_numbers_are_written_as_javascript_does() -> None:
    numbers = (1.0, 0.1, 1e-7, 1e21, 1e20, 123456789012345680000.0, -0.0, 2e-6, 1.5e-6, 0.000001)
    assert [js_number(x) for x in numbers] == [
        "1", "0.1", "1e-7", "1e+21", "100000000000000000000", "123456789012345680000", "-0", "0.000002", "0.0000015",
        "0.000001"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_js_codec_writes_the_same_bytes(tmp_path: Path) -> None:
    cases: list[dict[str, Any]] = []

    @settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None, database=None)
    @given(configs(), samplers(), views(), st.integers(2, 200))
    def collect(config: ExperimentConfig, sampler: SamplerConfig, view: dict[str, Any], frames: int) -> None:
        cases.append({"config": config.model_dump(mode="json"), "sampler": sampler.model_dump(mode="json"),
                      "view": view, "frames": frames, "hash": encode(config, sampler, view, frames)})

    collect()
    # -0.0 and 1-tuples only round-trip when both sides agree on them: include them explicitly
    odd = ExperimentConfig.model_validate({"data": {"dataset": "custom", "mixture": {
        "means": [[-0.0], [1e-7], [99.99999999999999]], "sigma": [0.5, 0.25, 1e-5]}}})
    one = ExperimentConfig.model_validate(
        {"data": {"dataset": "custom", "mixture": {"means": [[0, 1]], "sigma": [0.5]}}})
    for c in (odd, one):
        cases.append({"config": c.model_dump(mode="json"), "sampler": SamplerConfig().model_dump(mode="json"),
                      "view": {}, "frames": 100, "hash": encode(c, SamplerConfig())})
    path = tmp_path / "cases.json"
    path.write_text(json.dumps({"spec": SPEC, "cases": cases}))
    proc = subprocess.run(["node", "--test", "tests/js/url_state.test.mjs"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "URL_STATE_CASES": str(path)})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# pass 2" in proc.stdout
