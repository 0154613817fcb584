"""GET /api/runs/{run_id}/shapes/statistics and …/bottleneck-map on a bundled tiny shapes model (a real models dir:
an untrained U-Net checkpoint and the planted sample set of tests/shapes_support.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from server.shapes.checkpoint import save_unet_checkpoint
from server.shapes.unet import UNet
from server.streaming.encode import decode_typed_array
from tests.shapes_support import RES, TINY_SHAPES, planted_set, write_sample_set
from tests.support import run_async, serve_in_thread

RUN = TINY_SHAPES.run_id()


@pytest.fixture
def shapes_settings(tmp_path: Path) -> Settings:
    models = tmp_path / "models"
    models.mkdir()
    save_unet_checkpoint(models / "tiny-shapes.safetensors", UNet(TINY_SHAPES.unet, RES, torch.Generator()
                                                                  .manual_seed(0)), TINY_SHAPES)
    write_sample_set(models / "tiny-shapes-samples.npz", planted_set())
    return Settings(data_dir=tmp_path / "data", models_dir=models, warm_shapes=False)


def test_statistics_of_the_bundled_set(shapes_settings: Settings) -> None:
    with TestClient(create_app(shapes_settings)) as client:
        answer = client.get(f"/api/runs/{RUN}/shapes/statistics")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["run_id"] == RUN and body["name"] == "tiny-shapes" and body["n"] == {"training": 200,
                                                                                           "generated": 64}
        assert body["label_shares"]["generated"]["duplicate"]["count"] == 6
        assert body["auroc"]["vs_rest"]["auroc"] == 1.0
        variance, label = decode_typed_array(body["variance"]), decode_typed_array(body["label"])
        assert variance.shape == (64,) and label.tolist() == planted_set().labels.tolist()
        assert np.allclose(variance, planted_set().variance, rtol=1e-6)
        assert decode_typed_array(body["roc"]["tpr"])[-1] == 1.0
        assert client.get(f"/api/runs/{RUN}/shapes/statistics").content == answer.content
        assert client.app.state.shapes_views.computations["statistics"] == 1  # type: ignore[attr-defined]
        # gzipped for a client that accepts it (the client above did, and decoded it), plain for one that does not
        assert answer.headers["content-encoding"] == "gzip" and answer.headers["vary"] == "Accept-Encoding"
        plain = client.get(f"/api/runs/{RUN}/shapes/statistics", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == answer.content


def test_unknown_runs_and_runs_without_a_sample_set(shapes_settings: Settings) -> None:
    with TestClient(create_app(shapes_settings)) as client:
        for view in ("statistics", "bottleneck-map"):
            missing = client.get(f"/api/runs/{'0' * 16}/shapes/{view}")
            assert missing.status_code == 404 and "no run" in missing.json()["detail"]
            assert client.get(f"/api/runs/not-an-id/shapes/{view}").status_code == 404
            state = client.app.state  # type: ignore[attr-defined]
            # The grid25 exact denoiser (no bundled grid25 here) and the shapes model's own exact denoiser.
            for run_id in (state.default_run, state.bundled_shapes[0].oracle_run_id):
                refused = client.get(f"/api/runs/{run_id}/shapes/{view}")
                assert refused.status_code == 409 and "not a bundled Simple Shapes model" in refused.json()["detail"]


def test_a_bundled_model_without_a_sample_set_is_a_409(shapes_settings: Settings) -> None:
    (shapes_settings.models_dir / "tiny-shapes-samples.npz").unlink()
    with TestClient(create_app(shapes_settings)) as client:
        assert client.get(f"/api/runs/{RUN}").json()["status"] == "done"  # registered all the same
        assert client.get(f"/api/runs/{RUN}/shapes/bottleneck-map").status_code == 409


def test_a_damaged_sample_set_is_a_clear_409(shapes_settings: Settings) -> None:
    (shapes_settings.models_dir / "tiny-shapes-samples.npz").write_bytes(b"PK\x03\x04 broken")
    with TestClient(create_app(shapes_settings)) as client:
        answer = client.get(f"/api/runs/{RUN}/shapes/statistics")
        assert answer.status_code == 409 and "unreadable sample set" in answer.json()["detail"]


async def _two_at_once(base: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        return list(await asyncio.gather(*(client.get(f"/api/runs/{RUN}/shapes/bottleneck-map") for _ in range(2))))


def test_the_map_is_computed_once_and_replayed_after_a_restart(shapes_settings: Settings) -> None:
    app = create_app(shapes_settings)
    server, thread, base = serve_in_thread(app, lifespan="on")
    try:
        first, second = run_async(_two_at_once(base))
    finally:
        server.should_exit = True
        thread.join(15)
    assert first.status_code == second.status_code == 200 and first.content == second.content
    views = app.state.shapes_views
    assert views.computations["bottleneck-map-compute"] == 1 and views.joined["bottleneck-map"] == 1
    body = first.json()
    p = body["points"]
    coords, source = decode_typed_array(body["coords"]), decode_typed_array(body["source"])
    index, label = decode_typed_array(body["index"]), decode_typed_array(body["label"])
    assert coords.shape == (p, 2) and decode_typed_array(body["thumbnails"]).shape == (p, RES * RES)
    assert (source == 0).sum() == 200 and (source == 1).sum() == 64  # the tiny sets are taken whole
    assert sorted(index[source == 1].tolist()) == list(range(64)) and (label == 1).sum() == 6
    assert body["between_modes"]["duplicates"] == 6
    cache = shapes_settings.data_dir / "shapes" / f"{RUN}-bottleneck-map.npz"
    assert cache.is_file()

    with TestClient(create_app(shapes_settings)) as client:  # a restart: the file answers, no t-SNE
        replay = client.get(f"/api/runs/{RUN}/shapes/bottleneck-map")
        assert replay.content == first.content
        assert client.app.state.shapes_views.computations["bottleneck-map-compute"] == 0  # type: ignore[attr-defined]

    cache.write_bytes(cache.read_bytes()[:100])  # damaged: computed again, to the same map
    with TestClient(create_app(shapes_settings)) as client:
        again = client.get(f"/api/runs/{RUN}/shapes/bottleneck-map")
        assert again.status_code == 200
        assert client.app.state.shapes_views.computations["bottleneck-map-compute"] == 1  # type: ignore[attr-defined]
        assert np.array_equal(decode_typed_array(again.json()["coords"]), coords)
