"""Run metadata in SQLite (stdlib, WAL) and run artifacts as files under ``{data_dir}/runs/{run_id}/``.

One connection guarded by a lock: every statement is a tiny single-row read or write, so
serialising them costs less than juggling per-thread connections. Artifacts are safetensors
written atomically by ``save_checkpoint``; nothing here ever unpickles.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

RunKind = Literal["trained", "oracle"]
RunStatus = Literal["queued", "running", "done", "failed", "cancelled"]
ACTIVE_STATUSES = ("queued", "running")
_COLUMNS = "run_id, kind, config_json, status, created_at, finished_at, metrics_json, error, torch_version, threads"
RUN_ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
MODEL_FILE = "model.safetensors"
CRASH_MESSAGE = "server stopped during training"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id       TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    config_json  TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    finished_at  TEXT,
    metrics_json TEXT,
    error        TEXT,
    torch_version TEXT,
    threads      INTEGER
)
"""


def is_run_id(value: str) -> bool:
    return RUN_ID_PATTERN.fullmatch(value) is not None


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    kind: RunKind
    config_json: str
    status: RunStatus
    created_at: str
    finished_at: str | None
    metrics: dict[str, Any] | None
    error: str | None
    torch_version: str | None
    threads: int | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class Store:
    def __init__(self, data_dir: Path, connection: sqlite3.Connection):
        self.data_dir = data_dir
        self._db = connection
        self._lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: Path, db_path: Path | None = None) -> Store:
        """Open (creating) the database and mark runs a crash left queued/running as failed."""
        (data_dir / "runs").mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the lock serialises use across the loop, threadpool and job threads.
        db = sqlite3.connect(db_path or data_dir / "runs.sqlite3", isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute(_SCHEMA)
        store = cls(data_dir, db)
        store.recover()
        return store

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def recover(self) -> int:
        """Runs that were queued or running when the process died can never finish: fail them."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE runs SET status='failed', error=?, finished_at=? WHERE status IN ('queued', 'running')",
                (CRASH_MESSAGE, utc_now()),
            )
        return cursor.rowcount

    # ------------------------------------------------------------------ paths

    def run_dir(self, run_id: str) -> Path:
        if not is_run_id(run_id):  # the only gate between a request string and the file system
            raise ValueError(f"not a run id: {run_id[:40]!r}")
        return self.data_dir / "runs" / run_id

    def model_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / MODEL_FILE

    # ------------------------------------------------------------------ rows

    def get(self, run_id: str) -> RunRecord | None:
        if not is_run_id(run_id):
            return None
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return _record(row) if row else None

    def recent(self, limit: int = 50) -> list[RunRecord]:
        with self._lock:
            query = f"SELECT {_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?"
            return [_record(row) for row in self._db.execute(query, (limit,)).fetchall()]

    def put(self, run_id: str, kind: RunKind, config_json: str, status: RunStatus, *,
            metrics: dict[str, Any] | None = None) -> RunRecord:
        """Insert a run, or reset an existing one (a failed/cancelled run being retried)."""
        now = utc_now()
        finished = now if status not in ACTIVE_STATUSES else None
        with self._lock:
            self._db.execute(
                "INSERT INTO runs (run_id, kind, config_json, status, created_at, finished_at, metrics_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET status=excluded.status,"
                " finished_at=excluded.finished_at, metrics_json=excluded.metrics_json, error=NULL",
                (run_id, kind, config_json, status, now, finished, _dumps(metrics)),
            )
        record = self.get(run_id)
        assert record is not None
        return record

    def set_status(self, run_id: str, status: RunStatus) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET status=? WHERE run_id=?", (status, run_id))

    def finish(self, run_id: str, status: RunStatus, *, metrics: dict[str, Any] | None = None,
               error: str | None = None, torch_version: str | None = None, threads: int | None = None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status=?, finished_at=?, metrics_json=?, error=?, torch_version=?, threads=?"
                " WHERE run_id=?",
                (status, utc_now(), _dumps(metrics), error, torch_version, threads, run_id),
            )


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, allow_nan=False)


def _record(row: tuple[Any, ...]) -> RunRecord:
    run_id, kind, config_json, status, created, finished, metrics_json, error, torch_version, threads = row
    metrics = json.loads(metrics_json) if metrics_json else None
    return RunRecord(run_id, kind, config_json, status, created, finished, metrics, error, torch_version, threads)
