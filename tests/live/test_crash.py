"""kill -9 of a real server process in the middle of training, then a restart on the same data dir.

The run must show as failed (and can be queued again under the same id), the permalink of a result
stored before the crash must still replay, and SQLite must pass its own integrity check.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from server.settings import REPO_ROOT
from server.store import CRASH_MESSAGE
from tests.support import free_port, parse_sse

LONG_TRAINING = {"data": {"dataset": "1d-123"}, "schedule": {"T": 100}, "train": {"steps": 20_000, "batch": 64}}


@contextmanager
def server_process(data_dir: Path, models_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``uvicorn server.app:app`` on 127.0.0.1 in a child process; killed (if still alive) on exit."""
    port = free_port()
    env = {**os.environ, "MODELAB_DATA_DIR": str(data_dir), "MODELAB_MODELS_DIR": str(models_dir),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "server.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"], cwd=REPO_ROOT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.mark.slow
def test_kill_9_mid_training_then_restart(tmp_path: Path) -> None:
    data_dir, models_dir = tmp_path / "data", tmp_path / "models"
    models_dir.mkdir()
    with server_process(data_dir, models_dir) as (process, base), httpx.Client(base_url=base, timeout=30) as client:
        oracle = client.post("/api/runs", json={"kind": "oracle", "config": {"schedule": {"T": 30}}}).json()["run_id"]
        with client.stream("GET", f"/api/runs/{oracle}/sample?n=50&frames=5") as response:
            stream = list(parse_sse(response.iter_lines()))
        result_id = stream[0][1]["result_id"]
        run_id = client.post("/api/runs", json={"config": LONG_TRAINING}).json()["run_id"]
        deadline = time.monotonic() + 30
        while client.get(f"/api/runs/{run_id}").json()["metrics"]["train_seconds"] < 0.5:
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)  # no lifespan, no cleanup: as a power cut would leave it
        process.wait(10)

    with sqlite3.connect(data_dir / "runs.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    with server_process(data_dir, models_dir) as (_, base), httpx.Client(base_url=base, timeout=30) as client:
        run = client.get(f"/api/runs/{run_id}").json()
        assert run["status"] == "failed" and run["error"] == CRASH_MESSAGE
        with client.stream("GET", f"/api/results/{result_id}/events") as response:
            assert list(parse_sse(response.iter_lines())) == stream  # the permalink outlived the crash
        retried = client.post("/api/runs", json={"config": LONG_TRAINING})
        assert retried.status_code == 202 and retried.json()["run_id"] == run_id  # queued again, same id
        assert client.delete(f"/api/runs/{run_id}/job").status_code == 200

    with sqlite3.connect(data_dir / "runs.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert not list((data_dir / "runs").glob("*/*.tmp"))
