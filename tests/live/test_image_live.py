"""Against a real uvicorn on loopback: image streams are shared like point streams, and the start-up warm-up stores
the shapes page's default grid so that opening it replays at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from server.app import create_app
from server.catalog.warm_up import default_request
from server.settings import Settings
from server.shapes.presets import SHAPES_SAMPLING
from server.streaming.results import result_id
from tests.support import parse_sse, serve_in_thread


def stream(base: str, url: str) -> list[tuple[str, dict]]:
    with httpx.Client(base_url=base, timeout=60) as client, client.stream("GET", url) as response:
        assert response.status_code == 200, response.read()
        return list(parse_sse(response.iter_lines()))


def test_two_viewers_share_one_computation(live_server: str, live_app: FastAPI) -> None:
    run_id = live_app.state.bundled_shapes[0].run_id
    url = f"/api/runs/{run_id}/sample?n=6&steps=20&window=5&frames=21&seed=5"
    got: list[list[tuple[str, dict]]] = []
    with httpx.Client(base_url=live_server, timeout=60) as client, client.stream("GET", url) as first:
        events = parse_sse(first.iter_lines())
        head = [next(events), next(events)]  # meta and x_T: the computation is under way
        second = threading.Thread(target=lambda: got.append(stream(live_server, url)))
        second.start()
        rest = list(events)
        second.join(60)
    assert got and got[0] == head + rest  # the late viewer gets every event, from the first
    assert head[0][0] == "meta" and rest[-1][0] == "done"
    with httpx.Client(base_url=live_server, timeout=10) as client:
        assert client.get("/healthz").json()["computations_started"] == 1


def test_a_viewer_leaving_stops_the_image_computation(live_server: str, live_app: FastAPI) -> None:
    gate = live_app.state.gate
    run_id = live_app.state.bundled_shapes[0].run_id
    with httpx.Client(base_url=live_server, timeout=30) as client:
        # 64 images × 1,000 U-Net steps: minutes of work if left running.
        with client.stream("GET", f"/api/runs/{run_id}/sample?n=64&steps=1000&frames=200") as response:
            events = parse_sse(response.iter_lines())
            assert [next(events)[0] for _ in range(3)] == ["meta", "frame", "frame"]
            assert gate.open_streams == 1
        deadline = time.monotonic() + 3  # the chunk under way finishes (at least one step of 64 images)
        while gate.open_streams or gate.busy_chunks:
            assert time.monotonic() < deadline, "the image computation kept running after its viewer left"
            time.sleep(0.01)
        steps = gate.steps_computed
        time.sleep(0.3)
        assert gate.steps_computed == steps < 1000


@pytest.fixture
def warm_server(tmp_path: Path) -> Iterator[tuple[str, FastAPI]]:
    app = create_app(Settings(data_dir=tmp_path / "data", warm_shapes=True))
    server, thread, base = serve_in_thread(app, name="warm-uvicorn", lifespan="on", timeout_graceful_shutdown=5)
    try:
        yield base, app
    finally:
        server.should_exit = True
        thread.join(15)


def test_warm_up_stores_the_default_grid(warm_server: tuple[str, FastAPI]) -> None:
    base, app = warm_server
    run_id = app.state.bundled_shapes[0].run_id
    request = default_request()
    rid = result_id(run_id, request.sampler, request.frames, request.steps)
    deadline = time.monotonic() + 180  # 16 images × 100 steps of the U-Net on a busy 2-core machine
    with httpx.Client(base_url=base, timeout=10) as client:
        while client.get(f"/api/results/{rid}").json().get("status") != "done":
            assert time.monotonic() < deadline, "the warm-up did not finish"
            time.sleep(0.5)
        assert client.get("/healthz").json()["computations_started"] == 1
    # The page's default request, spelled out or left to the defaults, replays it: nothing is computed.
    query = "&".join(f"{k}={v}" for k, v in SHAPES_SAMPLING.query().items())
    spelled = stream(base, f"/api/runs/{run_id}/sample?{query}")
    bare = stream(base, f"/api/runs/{run_id}/sample")
    assert spelled == bare and spelled[0][1]["result_id"] == rid
    assert spelled[0][1]["n"] == SHAPES_SAMPLING.n and len(spelled[0][1]["frame_ts"]) == SHAPES_SAMPLING.frames
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/healthz").json()["computations_started"] == 1
    # Then its statistics and bottleneck map (the t-SNE): a visitor's first request finds them computed.
    views = app.state.shapes_views
    deadline = time.monotonic() + 240
    while len(views._answers) < 2:
        assert time.monotonic() < deadline, "the warm-up did not compute the shapes views"
        time.sleep(0.5)
    with httpx.Client(base_url=base, timeout=10) as client:
        for view in ("statistics", "bottleneck-map"):
            answer = client.get(f"/api/runs/{run_id}/shapes/{view}")
            assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip"
    assert views.computations["statistics"] == views.computations["bottleneck-map"] == 1
