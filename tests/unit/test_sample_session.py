"""A sampling chunk ends on time as well as on steps, so a client that left is noticed within a step or so."""

from __future__ import annotations

from server.diffusion.config import SamplerConfig
from server.gaussian.config import ExperimentConfig
from server.gaussian.denoisers import OracleDenoiser
from server.gaussian.experiment import ExperimentRun
from server.streaming.denoisers import LoadedModel
from server.streaming.sample_session import SampleRequest, SampleSession


def test_a_chunk_stops_after_its_time_but_never_before_one_step() -> None:
    run = ExperimentRun.from_config(ExperimentConfig.model_validate({"data": {"dataset": "1d-123"},
                                                                     "schedule": {"T": 50}}))
    model = LoadedModel(run, OracleDenoiser(run.mixture, run.schedule))
    request = SampleRequest(SamplerConfig(n=50), frames=2)
    session = SampleSession("0" * 16, "0" * 16, "oracle", model, request, threads=1)
    assert len(session.advance(1000, max_seconds=0)) == 1 and session.steps_done == 0  # the x_T frame
    assert session.advance(1000, max_seconds=0) == [] and session.steps_done == 1
    assert session.advance(3, max_seconds=60) == [] and session.steps_done == 4
    assert len(session.advance(1000, max_seconds=60)) == 1 and session.steps_done == 50 and session.finished
