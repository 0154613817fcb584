"""The run store: crash recovery on restart, id validation before any path, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from server.store import CRASH_MESSAGE, Store


def test_restart_fails_runs_a_crash_left_behind(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.put("00000000000000a1", "trained", "{}", "queued")
    store.put("00000000000000a2", "trained", "{}", "running")
    store.put("00000000000000a3", "oracle", "{}", "done", metrics={"steps": 0})
    store.close()  # the process "dies" here: nobody finishes the two active runs

    reopened = Store.open(tmp_path)
    for run_id in ("00000000000000a1", "00000000000000a2"):
        record = reopened.get(run_id)
        assert record is not None and record.status == "failed" and record.error == CRASH_MESSAGE
        assert record.finished_at is not None
    done = reopened.get("00000000000000a3")
    assert done is not None and done.status == "done" and done.metrics == {"steps": 0}
    reopened.close()


def test_restarted_app_reports_the_crashed_run(tmp_path: Path, tiny_config_json: str) -> None:
    store = Store.open(tmp_path)
    store.put("0123456789abcdef", "trained", tiny_config_json, "running")
    store.close()
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        run = client.get("/api/runs/0123456789abcdef").json()
        assert run["status"] == "failed" and run["error"] == CRASH_MESSAGE
        assert client.get("/api/runs/0123456789abcdef/sample").status_code == 409
        events = client.get("/api/runs/0123456789abcdef/events").text
        assert "event: error" in events and CRASH_MESSAGE in events


@pytest.mark.parametrize("bad", ["../../etc", "0123456789abcdef/..", "", "0123456789ABCDEF", "a" * 10_000])
def test_paths_are_only_built_from_run_ids(tmp_path: Path, bad: str) -> None:
    store = Store.open(tmp_path)
    with pytest.raises(ValueError):
        store.model_path(bad)
    assert store.get(bad) is None
    store.close()


def test_store_uses_wal(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


@pytest.fixture
def tiny_config_json() -> str:
    from server.diffusion.config import ExperimentConfig
    from tests.support import TINY_CONFIG

    return ExperimentConfig.model_validate(TINY_CONFIG).canonical_json()
