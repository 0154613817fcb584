"""Against a real uvicorn on loopback: a training job nobody watches is cancelled after the grace period.

Watching is an open ``/events`` stream or a read of the run (a poll); the grace here is 1 s (the default is
minutes), so each phase waits a few multiples of it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from server.settings import Settings
from tests.live.test_cancel_latency import wait_for
from tests.support import parse_sse

GRACE = 1.0
# Long enough to be still training at the end of the test (about 3 ms a step here), cancelled long before.
LONG: dict[str, Any] = {"data": {"dataset": "1d-123"}, "train": {"steps": 20_000, "batch": 256}}


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "live-data", progress_interval=0.05, unwatched_job_seconds=GRACE)


def seeded(seed: int) -> dict[str, Any]:
    return {**LONG, "train": {**LONG["train"], "seed": seed}}


def test_watched_jobs_run_on_and_unwatched_ones_are_cancelled_with_a_reason(live_server: str,
                                                                           live_app: FastAPI) -> None:
    runner = live_app.state.runner
    with httpx.Client(base_url=live_server, timeout=30) as client:
        watched = client.post("/api/runs", json={"config": LONG}).json()["run_id"]
        # One training slot: this one waits in the queue, and nobody follows it.
        queued = client.post("/api/runs", json={"config": seeded(1)}).json()["run_id"]
        with client.stream("GET", f"/api/runs/{watched}/events") as response:
            assert response.status_code == 200
            events = parse_sse(response.iter_lines())  # kept: dropping the generator would close the stream
            assert next(events)[0] == "progress"
            waited = wait_for(lambda: runner.job(queued) is None, 4 * GRACE, "the unwatched queued job retired")
            assert waited >= 0.5 * GRACE  # not before its grace (it was created just before the stream opened)
            record = client.get(f"/api/runs/{queued}").json()
            assert record["status"] == "cancelled"
            assert record["error"].startswith("cancelled: nobody watched it for ")
            # The followed job trains on past several grace periods.
            time.sleep(2 * GRACE)
            assert (job := runner.job(watched)) is not None and job.status == "running"
        # The stream closed; polling the run is watching too.
        for _ in range(int(2 * GRACE / 0.25)):
            time.sleep(0.25)
            left = time.monotonic()  # before the server reads the run: the grace counts from a later instant
            assert client.get(f"/api/runs/{watched}").json()["status"] == "running"
        wait_for(lambda: runner.job(watched) is None, 4 * GRACE, "the job nobody polls any more retired")
        assert time.monotonic() - left >= GRACE
        record = client.get(f"/api/runs/{watched}").json()
        assert record["status"] == "cancelled", record
        assert record["error"].startswith("cancelled: nobody watched it for ")
        # A cancel the person asked for still records no such reason.
        asked = client.post("/api/runs", json={"config": seeded(2)}).json()["run_id"]
        assert client.delete(f"/api/runs/{asked}/job").status_code == 200
        wait_for(lambda: runner.job(asked) is None, 5, "the cancelled job retired")
        assert client.get(f"/api/runs/{asked}").json()["error"] is None


def test_the_grace_period_is_a_bounded_setting() -> None:
    assert Settings.from_env({"MODELAB_UNWATCHED_JOB_SECONDS": "90"}).unwatched_job_seconds == 90
    with pytest.raises(ValueError, match="unwatched_job_seconds"):
        Settings.from_env({"MODELAB_UNWATCHED_JOB_SECONDS": "0"})
