"""The store under a small cap and after losing its index, through the app and a real SQLite file.

What a client is using keeps its run; a result evicted with its run says how to get both back; an
empty, recreated or damaged ``runs.sqlite3`` costs no artifact: every readable model and result is
indexed again at start-up, and unreadable files are moved aside, never deleted.
"""

from __future__ import annotations

import logging
import random
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from server.store import Store
from tests.support import read_events, register_run

QUERY = "n=60&frames=6&window=4&seed=3"


def tiny_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, models_dir=data_dir.parent / "no-bundled-models", **overrides)  # type: ignore[arg-type]


def oracle_run(client: TestClient, dataset: str = "grid25") -> str:
    body = {"kind": "oracle", "config": {"data": {"dataset": dataset}, "schedule": {"T": 30}}}
    return client.post("/api/runs", json=body).json()["run_id"]


def sample(client: TestClient, run_id: str, query: str = QUERY) -> list:
    """A whole sample stream, once its request has let go of what it held (its dependencies' exit may run
    just after the client read the last byte)."""
    events = read_events(client, f"/api/runs/{run_id}/sample?{query}")
    assert events[-1][0] == "done", events[-1]
    state = client.app.state  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        remembered = {i for c in state.computations._done.values() for i in (c.result_id, c.run_id)}
        if set(state.store._held) <= remembered:  # only the memory's holds are left
            break
        time.sleep(0.01)
    return events


# ---------------------------------------------------------------------------- the size cap


def test_a_fresh_result_keeps_its_just_trained_model_under_a_tiny_cap(
        tmp_path: Path, tiny_checkpoint: tuple[str, Path]) -> None:
    settings = tiny_settings(tmp_path / "data", max_store_mb=0.001)  # 1 kB: less than one model or one result
    with TestClient(create_app(settings)) as client:
        run_id = register_run(client.app.state.store, *tiny_checkpoint)  # type: ignore[attr-defined]
        rid = sample(client, run_id)[0][1]["result_id"]
        assert client.get(f"/api/runs/{run_id}").status_code == 200
        assert client.get(f"/api/results/{rid}").status_code == 200
        assert (settings.data_dir / "runs" / run_id / "model.safetensors").is_file()
        assert (settings.data_dir / "results" / f"{rid}.npz").is_file()
        # The same run sampled again: the run is in use, so neither it nor its results go.
        sample(client, run_id, QUERY.replace("seed=3", "seed=4"))
        assert client.get(f"/api/runs/{run_id}").status_code == 200
        assert client.get(f"/api/runs/{run_id}/sample?{QUERY}").status_code == 200


def test_an_evicted_result_never_points_to_a_run_that_is_gone(tmp_path: Path) -> None:
    # One result in memory: what is there (just produced, or just viewed) is held, the rest may go.
    settings = tiny_settings(tmp_path / "data", max_store_mb=0.001, result_memory_size=1)
    with TestClient(create_app(settings)) as client:
        first = oracle_run(client, "grid25")
        rid = sample(client, first)[0][1]["result_id"]
        second = oracle_run(client, "diamond25")
        sample(client, second)  # over the cap, but the first result was still in memory: nothing goes yet
        assert client.get(f"/api/runs/{first}").status_code == 200
        third = oracle_run(client, "1d-123")
        sample(client, third)  # now the least recently used run goes, with its result
        assert client.get(f"/api/runs/{first}").status_code == 404
        assert client.get(f"/api/runs/{second}").status_code == 200  # its result is the one in memory
        gone = client.get(f"/api/results/{rid}")
        assert gone.status_code == 410
        message = gone.json()["detail"]
        assert "so was the model" in message and f"/run/{first}" in message and "seed=3" in message
        page = client.get(f"/r/{rid}")
        assert page.status_code == 410 and f"/run/{first}" in page.text
        # The link it gives opens the evicted run's config in the lab, which makes the same run again.
        opened = client.get(f"/run/{first}", follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"].startswith("/#")
        assert oracle_run(client, "grid25") == first
        assert sample(client, first)[0][1]["result_id"] == rid


def test_an_evicted_result_of_a_kept_run_points_to_that_run(tmp_path: Path) -> None:
    """A pinned run stays while its results go one by one: the message sends the reader to the run."""
    settings = tiny_settings(tmp_path / "data", max_store_mb=0.001, result_memory_size=1)
    with TestClient(create_app(settings)) as client:
        pinned = client.app.state.default_run  # type: ignore[attr-defined]  # the grid25 exact denoiser here
        rid = sample(client, pinned)[0][1]["result_id"]
        for seed in (4, 5):
            sample(client, pinned, QUERY.replace("seed=3", f"seed={seed}"))
        gone = client.get(f"/api/results/{rid}")
        assert gone.status_code == 410
        assert f"open its run at /run/{pinned}" in gone.json()["detail"] and "seed=3" in gone.json()["detail"]
        assert client.get(f"/run/{pinned}", follow_redirects=False).status_code == 303


# ---------------------------------------------------------------------------- a lost or damaged index


def _populate(settings: Settings, tiny_checkpoint: tuple[str, Path]) -> dict[str, list]:
    """A trained run and an exact-denoiser run, one stored result each: {result id: its events}."""
    with TestClient(create_app(settings)) as client:
        trained = register_run(client.app.state.store, *tiny_checkpoint)  # type: ignore[attr-defined]
        oracle = oracle_run(client)
        streams = [sample(client, trained), sample(client, oracle)]
    return {events[0][1]["result_id"]: events for events in streams}


def _check_everything_is_back(client: TestClient, streams: dict[str, list]) -> None:
    for rid, events in streams.items():
        assert read_events(client, f"/api/results/{rid}/events") == events  # the permalink still replays
        assert client.get(f"/r/{rid}").status_code == 200
        run_id = events[0][1]["run_id"]
        run = client.get(f"/api/runs/{run_id}").json()
        assert run["status"] == "done" and run["kind"] == events[0][1]["kind"]
        sample(client, run_id, QUERY.replace("seed=3", "seed=5"))  # and the run still samples


@pytest.mark.parametrize("loss", ["deleted", "empty file", "recreated"])
def test_a_lost_index_is_rebuilt_from_the_files(tmp_path: Path, tiny_checkpoint: tuple[str, Path],
                                                 loss: str) -> None:
    settings = tiny_settings(tmp_path / "data")
    streams = _populate(settings, tiny_checkpoint)
    files = sorted(p.relative_to(settings.data_dir) for p in settings.data_dir.rglob("*") if p.is_file()
                   and "sqlite3" not in p.name)
    for suffix in ("", "-wal", "-shm"):
        settings.db_path.with_name(settings.db_path.name + suffix).unlink(missing_ok=True)
    if loss == "empty file":
        settings.db_path.write_bytes(b"")
    elif loss == "recreated":  # a fresh index of the lab's own schema, with no rows (an empty backup restored)
        Store.open(settings.data_dir / "elsewhere").close()
        (settings.data_dir / "elsewhere" / "runs.sqlite3").replace(settings.db_path)
        shutil.rmtree(settings.data_dir / "elsewhere")
    with TestClient(create_app(settings)) as client:
        assert sorted(p.relative_to(settings.data_dir) for p in settings.data_dir.rglob("*") if p.is_file()
                      and "sqlite3" not in p.name) == files  # nothing deleted, nothing moved
        _check_everything_is_back(client, streams)
        assert client.get("/healthz").json()["computations_started"] == 2  # the two new seeds only


@pytest.mark.parametrize("damage", ["random bytes", "garbled pages", "another program's tables"])
def test_a_damaged_index_is_moved_aside_with_a_message(tmp_path: Path, tiny_checkpoint: tuple[str, Path],
                                                       caplog: pytest.LogCaptureFixture, damage: str) -> None:
    settings = tiny_settings(tmp_path / "data")
    streams = _populate(settings, tiny_checkpoint)
    rng = random.Random(7)
    if damage == "random bytes":
        settings.db_path.write_bytes(rng.randbytes(16_384))
    elif damage == "garbled pages":  # a valid header, then noise where the schema and the rows were
        data = settings.db_path.read_bytes()
        settings.db_path.write_bytes(data[:100] + rng.randbytes(len(data) - 100))
    else:
        settings.db_path.unlink()
        foreign = sqlite3.connect(settings.db_path)
        foreign.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, owner TEXT)")
        foreign.commit()
        foreign.close()
    damaged = settings.db_path.read_bytes()
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings)) as client:
        _check_everything_is_back(client, streams)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(messages) == 1 and "is damaged" in messages[0] and "moved aside" in messages[0]
    aside = [p for p in settings.data_dir.glob("runs.sqlite3.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].name in messages[0]
    assert aside[0].read_bytes() == damaged  # kept as it was, for salvage


def test_damaged_artifacts_do_not_stop_start_up(tmp_path: Path, tiny_checkpoint: tuple[str, Path]) -> None:
    """With no index to vouch for them, unreadable files go to quarantine/ and the rest is indexed."""
    settings = tiny_settings(tmp_path / "data")
    streams = _populate(settings, tiny_checkpoint)
    extra_run = settings.data_dir / "runs" / "00000000000000d1" / "model.safetensors"
    extra_run.parent.mkdir()
    extra_run.write_bytes(tiny_checkpoint[1].read_bytes()[:300])  # truncated
    extra_result = settings.data_dir / "results" / "00000000000000e1.npz"
    extra_result.write_bytes(next(iter((settings.data_dir / "results").glob("*.npz"))).read_bytes()[:2000])
    settings.db_path.unlink()
    with TestClient(create_app(settings)) as client:
        _check_everything_is_back(client, streams)
    quarantined = sorted(p.relative_to(settings.data_dir).parts[2:] for p in
                         (settings.data_dir / "quarantine").rglob("*") if p.is_file())
    assert quarantined == [("results", "00000000000000e1.npz"), ("runs", "00000000000000d1", "model.safetensors")]
    assert not extra_run.exists() and not extra_result.exists()


def test_damaged_indexed_artifacts_do_not_stop_start_up(tmp_path: Path, tiny_checkpoint: tuple[str, Path]) -> None:
    """With the index intact, damaged files are only found when used: a 409 or 410 naming the problem."""
    settings = tiny_settings(tmp_path / "data")
    streams = _populate(settings, tiny_checkpoint)
    trained = next(e[0][1] for e in streams.values() if e[0][1]["kind"] == "trained")
    model = settings.data_dir / "runs" / trained["run_id"] / "model.safetensors"
    model.write_bytes(model.read_bytes()[:300])
    result = settings.data_dir / "results" / f"{trained['result_id']}.npz"
    result.write_bytes(result.read_bytes()[:2000])
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        answer = client.get(f"/api/runs/{trained['run_id']}/sample?{QUERY.replace('seed=3', 'seed=6')}")
        assert answer.status_code == 409 and "no usable model file" in answer.json()["detail"]
        gone = client.get(f"/api/results/{trained['result_id']}")
        assert gone.status_code == 410 and "cannot be replayed" in gone.json()["detail"]
    assert model.exists() and result.exists() and not (settings.data_dir / "quarantine").exists()
