"""The run store: crash recovery on restart, id validation before any path, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.catalog.reindex import reindex
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
    from server.gaussian.config import ExperimentConfig
    from tests.support import TINY_CONFIG

    return ExperimentConfig.model_validate(TINY_CONFIG).canonical_json()


# ---------------------------------------------------------------------------- size cap, pins, LRU


def _done_run(store: Store, run_id: str, size: int, *, pinned: bool = False) -> None:
    """A finished run whose weights file is ``size`` bytes."""
    path = store.model_path(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"w" * size)
    store.put(run_id, "trained", "{}", "done", pinned=pinned)


def _result(store: Store, result_id: str, run_id: str, size: int) -> None:
    store.result_path(result_id).write_bytes(b"r" * size)
    assert store.add_result(result_id, run_id, "{}")


def test_lru_eviction_spares_pinned_active_and_recent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("server.store.store.TOUCH_INTERVAL", 0.0)  # record every use: this test orders them
    store = Store.open(tmp_path, max_bytes=10_000)
    _done_run(store, "00000000000000b1", 3000, pinned=True)  # a bundled model: never evicted
    _done_run(store, "00000000000000a1", 3000)
    _done_run(store, "00000000000000a2", 3000)
    store.put("00000000000000a9", "trained", "{}", "running")  # training: never evicted
    store.touch("00000000000000a1")  # a1 used after a2: a2 is now the least recently used
    assert store.usage() == 9000
    _done_run(store, "00000000000000a3", 3000)  # 12,000 > 10,000: one run must go
    assert store.get("00000000000000a2") is None and not store.run_dir("00000000000000a2").exists()
    for kept in ("00000000000000b1", "00000000000000a1", "00000000000000a3", "00000000000000a9"):
        assert store.get(kept) is not None
    assert store.usage() == 9000

    # A run goes with its results. Adding c2 to a1 is a use of a1, so a3 is now the least recently used.
    _result(store, "00000000000000c1", "00000000000000b1", 500)
    _result(store, "00000000000000c2", "00000000000000a1", 400)
    store.touch_result("00000000000000c1")
    _result(store, "00000000000000c3", "00000000000000b1", 900)  # 10,800 > 10,000
    assert store.get("00000000000000a3") is None and store.get("00000000000000a1") is not None
    assert store.usage() == 7800
    # A pinned run stays, but its results go one by one, least recently used first.
    store.touch("00000000000000a1")
    store.max_bytes = 7500
    assert store.enforce_cap() == ["00000000000000c1"]
    evicted = store.get_result("00000000000000c1")
    assert evicted is not None and evicted.evicted_at is not None  # its permalink can say "no longer stored"
    assert not store.result_path("00000000000000c1").exists()
    assert store.get_result("00000000000000c3").evicted_at is None  # type: ignore[union-attr]
    assert store.get("00000000000000b1") is not None and store.usage() == 7300
    # Evicting a run marks its results evicted too.
    store.max_bytes = 3900
    assert store.enforce_cap() == ["00000000000000c3", "00000000000000a1"]
    assert store.get_result("00000000000000c2").evicted_at is not None  # type: ignore[union-attr]
    assert store.usage() == 3000  # the pinned run alone: never evicted, even over the cap
    store.max_bytes = 100
    assert store.enforce_cap() == [] and store.get("00000000000000b1") is not None
    store.close()


def test_a_result_of_an_evicted_run_is_not_recorded(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.result_path("00000000000000c1").write_bytes(b"r")
    assert not store.add_result("00000000000000c1", "00000000000000a1", "{}")  # no such run (any more)
    assert store.get_result("00000000000000c1") is None and not store.result_path("00000000000000c1").exists()
    store.close()


def test_open_sweeps_crash_leftovers_and_sets_orphans_aside(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    _done_run(store, "00000000000000a1", 10)
    _result(store, "00000000000000c1", "00000000000000a1", 10)
    store.close()
    stray = [tmp_path / "runs" / "00000000000000a1" / "model.safetensorsXYZ.tmp",
             tmp_path / "results" / "00000000000000c2.npzXYZ.tmp"]
    for path in stray:
        path.write_bytes(b"half")
    orphan = tmp_path / "results" / "00000000000000c3.npz"  # no row, and not a result file
    orphan.write_bytes(b"half")
    (tmp_path / "runs" / "00000000000000ff").mkdir()  # an empty run dir with no row: nothing to keep
    reopened = Store.open(tmp_path)
    assert not any(path.exists() for path in stray) and not (tmp_path / "runs" / "00000000000000ff").exists()
    assert reopened.model_path("00000000000000a1").exists() and reopened.result_path("00000000000000c1").exists()
    assert orphan.exists()  # open never deletes an artifact for want of a row
    report = reindex(reopened)
    assert not orphan.exists() and [place.read_bytes() for place, _ in report.quarantined] == [b"half"]
    place = report.quarantined[0][0]
    assert place.relative_to(tmp_path).parts[0] == "quarantine" and place.parent.name == "results"
    reopened.close()


def test_an_interrupted_eviction_is_finished_at_open(tmp_path: Path) -> None:
    store = Store.open(tmp_path, max_bytes=100)
    _done_run(store, "00000000000000a1", 60)
    _result(store, "00000000000000c1", "00000000000000a1", 30)
    _done_run(store, "00000000000000a2", 60)  # a1 and c1 evicted: rows first, then files
    assert store.get("00000000000000a1") is None and store.evicted_run("00000000000000a1") is not None
    store.close()
    # The process died between the rows and the files: both files are still there.
    store.model_path("00000000000000a1").parent.mkdir()
    store.model_path("00000000000000a1").write_bytes(b"w" * 60)
    store.result_path("00000000000000c1").write_bytes(b"r" * 30)
    reopened = Store.open(tmp_path)
    assert not store.run_dir("00000000000000a1").exists() and not store.result_path("00000000000000c1").exists()
    assert reopened.unindexed() == ([], [])
    reopened.close()


def test_what_is_in_use_is_never_evicted_under_it(tmp_path: Path) -> None:
    """A result just made, a result being viewed and a run being sampled keep their run, even over the cap."""
    store = Store.open(tmp_path, max_bytes=1000)
    _done_run(store, "00000000000000a1", 800)  # a model just trained, alone bigger than most of the cap
    _result(store, "00000000000000c1", "00000000000000a1", 700)  # its first result: 1,500 > 1,000
    assert store.get("00000000000000a1") is not None and store.get_result("00000000000000c1").evicted_at is None  # type: ignore[union-attr]
    assert store.usage() == 1500  # over the cap while in use, rather than losing the run under its viewer

    with store.hold("00000000000000c1"):  # someone replays c1: its run stays too
        _done_run(store, "00000000000000a2", 100)
        assert store.get("00000000000000a1") is not None and store.get("00000000000000a2") is not None
    with store.hold("00000000000000a2"):  # a2 is being sampled; nothing holds a1 now
        _done_run(store, "00000000000000a3", 100)
        assert store.get("00000000000000a1") is None and store.evicted_run("00000000000000a1") is not None
        assert store.get_result("00000000000000c1").evicted_at is not None  # type: ignore[union-attr]
        assert store.get("00000000000000a2") is not None and store.get("00000000000000a3") is not None
    # Holds nest and count: the first release does not let go.
    with store.hold("00000000000000a2"), store.hold("00000000000000a2"):
        pass
    assert store._held == {}
    store.close()


def test_an_old_database_is_upgraded_in_place(tmp_path: Path) -> None:
    import sqlite3

    old = sqlite3.connect(tmp_path / "runs.sqlite3")
    old.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, config_json TEXT NOT NULL,"
                " status TEXT NOT NULL, created_at TEXT NOT NULL, finished_at TEXT, metrics_json TEXT, error TEXT,"
                " torch_version TEXT, threads INTEGER)")
    old.execute("INSERT INTO runs VALUES ('00000000000000a1', 'oracle', '{}', 'done', 'now', 'now', NULL, NULL,"
                " NULL, NULL)")
    old.commit()
    old.close()
    store = Store.open(tmp_path)
    record = store.get("00000000000000a1")
    assert record is not None and record.status == "done" and not record.pinned and record.size_bytes == 0
    store.close()


def test_uses_close_together_are_written_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.put("00000000000000a1", "oracle", "{}", "done")
    store.touch("00000000000000a1")
    first = store.get("00000000000000a1").last_access  # type: ignore[union-attr]
    store.touch("00000000000000a1")  # within TOUCH_INTERVAL: no second write
    assert store.get("00000000000000a1").last_access == first  # type: ignore[union-attr]
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    store.close()


def test_store_size_cap_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"MODELAB_DATA_DIR": str(tmp_path), "MODELAB_MAX_STORE_MB": "0.5"})
    assert settings.max_store_bytes == 512 * 1024
    assert Settings.from_env({}).max_store_mb == 2048
