"""Against a real uvicorn on loopback: a client that leaves mid-stream stops the server's work."""

from __future__ import annotations

import time

import httpx
from fastapi import FastAPI

from tests.support import parse_sse


def wait_for(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``predicate()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)
    return time.monotonic() - start


def test_disconnect_stops_sampling_within_a_second(live_server: str, live_app: FastAPI) -> None:
    gate = live_app.state.gate
    with httpx.Client(base_url=live_server, timeout=30) as client:
        run_id = client.post("/api/runs", json={"kind": "oracle", "config": {}}).json()["run_id"]
        # 10,000 particles × 1,000 steps of the exact 25-mode denoiser: many seconds of work if left running.
        with client.stream("GET", f"/api/runs/{run_id}/sample?n=10000&frames=200") as response:
            assert response.status_code == 200
            events = parse_sse(response.iter_lines())
            names = [next(events)[0] for _ in range(4)]
            assert names == ["meta", "frame", "frame", "frame"]
            assert gate.open_streams == 1 and gate.steps_computed > 0
        # Leaving the block closed the socket.
        wait_for(lambda: gate.open_streams == 0 and gate.busy_chunks == 0, timeout=1.0)
        steps = gate.steps_computed
        time.sleep(0.3)
        assert gate.steps_computed == steps, "the sampler kept running after the client left"
        assert steps < 1000
        assert client.get("/healthz").json()["sample_streams"] == 0


def test_disconnect_from_training_events_leaves_the_job_running(live_server: str, live_app: FastAPI) -> None:
    """A training job outlives its viewers: closing the progress stream only unsubscribes."""
    config = {"data": {"dataset": "1d-123"}, "schedule": {"T": 100}, "train": {"steps": 20_000, "batch": 64}}
    with httpx.Client(base_url=live_server, timeout=30) as client:
        run_id = client.post("/api/runs", json={"config": config}).json()["run_id"]
        with client.stream("GET", f"/api/runs/{run_id}/events") as response:
            events = parse_sse(response.iter_lines())
            assert next(events)[0] == "progress"
        job = live_app.state.runner.job(run_id)
        wait_for(lambda: not job.subscribers, timeout=1.0)
        assert client.get(f"/api/runs/{run_id}").json()["status"] in ("queued", "running")
        assert client.delete(f"/api/runs/{run_id}/job").status_code == 200
