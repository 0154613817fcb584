"""A sampling chunk ends on time as well as on steps, so a client that left is noticed within a step or so."""

from __future__ import annotations

import torch

from server.diffusion.config import SamplerConfig
from server.gaussian.config import ExperimentConfig
from server.gaussian.denoisers import OracleDenoiser
from server.gaussian.experiment import ExperimentRun
from server.shapes.unet import UNet
from server.store import RunRecord, utc_now
from server.streaming.denoisers import ImageModel, LoadedModel
from server.streaming.image_session import ImageSession
from server.streaming.sample_session import SampleRequest, SampleSession
from server.streaming.sharing import new_session
from tests.shapes_support import RES, TINY_SHAPES


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


def test_an_image_stream_uses_at_most_the_image_threads() -> None:
    """The server may offer a lone stream every core; a small U-Net's chunks take at most ``image_threads``
    (Settings.image_sample_threads: two OpenMP threads made the bundled model's streams slower)."""
    net = UNet(TINY_SHAPES.unet, RES, torch.Generator().manual_seed(0))
    record = RunRecord("1" * 16, "trained", TINY_SHAPES.canonical_json(), "done", utc_now(), None, None, None, None,
                       None)
    request = SampleRequest(SamplerConfig(n=2), frames=2, steps=10)
    before = torch.get_num_threads()
    try:
        for offered, cap, used in ((2, 1, 1), (2, 2, 2), (1, 2, 1)):
            session = new_session("0" * 16, record, ImageModel(TINY_SHAPES, net, None), request, lambda o=offered: o,
                                  image_threads=cap)
            assert isinstance(session, ImageSession)
            session.advance(1)
            assert torch.get_num_threads() == used, (offered, cap)
    finally:
        torch.set_num_threads(before)
