"""One source of defaults and limits: the API's request models take ``SamplerConfig``'s, and the caps of
server/settings.py reach the models, the URL codec and both pages' bootstraps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from server import settings as caps
from server.api.request_fields import sampler_field
from server.api.routes.analysis_jobs import JobSampler
from server.api.routes.analysis_views import DetectorQuery
from server.api.schemas import SampleQuery
from server.catalog.url_state import build_spec
from server.diffusion.config import SamplerConfig


def _bounds(model: type[BaseModel], name: str) -> dict[str, Any]:
    schema = model.model_json_schema()["properties"][name]
    return {k: schema[k] for k in ("minimum", "maximum", "enum") if k in schema}


@pytest.mark.parametrize("name", list(SamplerConfig.model_fields))
def test_sample_query_takes_the_sampler_config(name: str) -> None:
    assert SampleQuery.model_fields[name].default == SamplerConfig.model_fields[name].default
    expected = _bounds(SamplerConfig, name)
    if name == "n":  # the API's cap narrows the engine's
        assert expected["maximum"] > caps.MAX_SAMPLE_N
        expected["maximum"] = caps.MAX_SAMPLE_N
    assert _bounds(SampleQuery, name) == expected


def test_analysis_requests_narrow_the_sampler_config_only_where_they_say() -> None:
    assert _bounds(DetectorQuery, "n") == {"minimum": 20, "maximum": caps.MAX_BENCH_N}
    assert _bounds(JobSampler, "n") == {"minimum": 20, "maximum": caps.MAX_JOB_SAMPLES}
    for model in (DetectorQuery, JobSampler):
        assert _bounds(model, "eta") == _bounds(SamplerConfig, "eta")
        assert _bounds(model, "seed") == _bounds(SamplerConfig, "seed")
        assert _bounds(model, "window") == {**_bounds(SamplerConfig, "window"), "maximum": caps.MAX_BENCH_WINDOW}


@pytest.mark.parametrize("bound", [{"ge": 0}, {"le": 300_000}])
def test_a_request_field_cannot_widen_the_engine_bounds(bound: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="may only narrow"):
        sampler_field("n", **bound)


def test_frames_and_page_limits_come_from_the_settings(tmp_path: Path) -> None:
    settings = caps.Settings(data_dir=tmp_path, max_frames=50)
    frames = next(f for f in build_spec(settings.limits())["fields"] if f["path"] == "frames")
    assert (frames["ge"], frames["le"], frames["default"]) == (caps.MIN_FRAMES, 50, caps.DEFAULT_FRAMES)
    assert _bounds(SampleQuery, "frames") == {"minimum": caps.MIN_FRAMES, "maximum": caps.MAX_FRAMES}
    assert SampleQuery.model_fields["frames"].default == caps.DEFAULT_FRAMES
    limits = settings.analysis_limits()
    assert (limits["max_bench_n"], limits["max_job_samples"], limits["max_sweep_points"]) == (
        caps.MAX_BENCH_N, caps.MAX_JOB_SAMPLES, caps.MAX_SWEEP_POINTS)
