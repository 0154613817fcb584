"""Training runs in a job thread: the event loop keeps answering while a model trains."""

from __future__ import annotations

import statistics
import time

import httpx
import pytest


@pytest.mark.slow
def test_requests_stay_fast_while_training(live_server: str) -> None:
    config = {"data": {"dataset": "grid25"}, "schedule": {"T": 100}, "train": {"steps": 20_000, "batch": 1024}}
    with httpx.Client(base_url=live_server, timeout=10) as client:
        client.get("/healthz")  # warm the connection
        run_id = client.post("/api/runs", json={"config": config}).json()["run_id"]
        deadline = time.monotonic() + 10
        while client.get(f"/api/runs/{run_id}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        latencies = []
        for _ in range(60):
            start = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - start)
            time.sleep(0.02)
        assert client.get(f"/api/runs/{run_id}").json()["metrics"]["train_seconds"] > 1  # it really trained
        client.delete(f"/api/runs/{run_id}/job")
    p50, worst = statistics.median(latencies), max(latencies)
    assert p50 < 0.05 and worst < 0.5, f"/healthz while training: p50 {p50 * 1000:.1f} ms, max {worst * 1000:.1f} ms"
