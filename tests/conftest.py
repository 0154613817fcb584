"""Shared fixtures: settings on a temporary data dir, an in-process client, and a live uvicorn.

``live_server`` (used by the browser tests too) serves ``live_app`` on 127.0.0.1 at a free port and
yields its base URL. Override ``live_settings`` in a test module to change limits; by default the
"quick" presets train 200 steps at batch 256 so a browser test can train one in a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from tests.support import TINY_CONFIG, register_run, serve_in_thread


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", progress_interval=0.02)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:  # runs the lifespan: store, job threads, plotly.js
        yield test_client


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "live-data", quick_steps=200, quick_batch=256, progress_interval=0.05)


@pytest.fixture
def live_app(live_settings: Settings) -> FastAPI:
    return create_app(live_settings)


@pytest.fixture
def live_server(live_app: FastAPI) -> Iterator[str]:
    """A real uvicorn on loopback in a background thread; yields ``http://127.0.0.1:<port>``."""
    server, thread, base = serve_in_thread(live_app, name="live-uvicorn", lifespan="on", timeout_graceful_shutdown=5)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(15)


# ---------------------------------------------------------------------------- a finished trained run


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Train ``TINY_CONFIG`` once per session with the engine itself; (config json, checkpoint path)."""
    import torch

    from server.diffusion.training import train_steps
    from server.gaussian.checkpoint import save_checkpoint
    from server.gaussian.config import ExperimentConfig
    from server.gaussian.training import TrainingSetup

    torch.set_num_threads(1)
    config = ExperimentConfig.model_validate(TINY_CONFIG)
    setup = TrainingSetup.create(config)
    for _ in train_steps(setup, report_every=100):
        pass
    path = tmp_path_factory.mktemp("tiny") / "model.safetensors"
    save_checkpoint(path, setup.net, config)
    return config.canonical_json(), path


@pytest.fixture
def trained_run(client: TestClient, app: FastAPI, tiny_checkpoint: tuple[str, Path]) -> str:
    """A done trained run in the app's store (as if trained through the API); returns its run id."""
    return register_run(app.state.store, *tiny_checkpoint)
