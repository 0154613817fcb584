"""The ``Store`` itself: opening the index, crash recovery at open, and the run and result rows.

One connection guarded by a lock: every statement is a tiny read or write, so serialising them
costs less than juggling per-thread connections. Artifacts are written atomically (temp file +
rename) and nothing here ever unpickles, so a ``kill -9`` leaves at worst a stray ``*.tmp`` file,
swept at the next open. Artifacts no row points to are left in place for ``server.catalog.reindex``;
only crash leftovers (``*.tmp``) and the files of an eviction a crash interrupted are ever deleted here.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .base import QUARANTINE_DIR, RESULT_SUFFIX
from .cap import CappedStore
from .database import DatabaseDamaged, connect, move_damaged
from .records import (
    ACTIVE_STATUSES,
    RESULT_COLUMNS,
    RUN_COLUMNS,
    EvictedRun,
    ResultRecord,
    RunKind,
    RunRecord,
    RunStatus,
    dumps,
    is_run_id,
    record,
    utc_now,
)

log = logging.getLogger(__name__)

CRASH_MESSAGE = "server stopped during training"
TOUCH_INTERVAL = 10.0  # seconds: uses closer together than this are recorded once


class Store(CappedStore):
    @classmethod
    def open(cls, data_dir: Path, db_path: Path | None = None, *, max_bytes: int | None = None) -> Store:
        """Open (creating or upgrading) the database, fail runs a crash left active, sweep crash leftovers.

        A damaged database file is moved aside and replaced by an empty one (logged: see
        ``move_damaged``); artifacts are never deleted for want of a row (``server.catalog.reindex`` indexes them).
        With ``max_bytes`` the cap is enforced at once; the server passes it later, through ``set_cap``,
        once the bundled models are pinned again (a rebuilt index does not know them yet)."""
        (data_dir / "runs").mkdir(parents=True, exist_ok=True)
        (data_dir / "results").mkdir(parents=True, exist_ok=True)
        db_path = db_path or data_dir / "runs.sqlite3"
        try:
            db = connect(db_path)
        except DatabaseDamaged as exc:
            move_damaged(db_path, exc, data_dir)
            db = connect(db_path)
        store = cls(data_dir, db, max_bytes)
        store.recover()
        store.sweep()
        store.enforce_cap()
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

    def sweep(self) -> int:
        """Delete what a crash left half done; returns how many paths. Only called at open, before any
        job or stream can be writing.

        * ``*.tmp``: a write that never reached its rename.
        * the files of an eviction whose rows were already updated (a run with a tombstone and no row,
          a result file whose row says evicted).
        * empty run directories with no row.

        Artifacts that no row mentions at all are left alone: ``server.catalog.reindex`` decides about them."""
        with self._lock:
            runs = {row[0] for row in self._db.execute("SELECT run_id FROM runs")}
            gone = {row[0] for row in self._db.execute("SELECT run_id FROM evicted_runs")} - runs
            evicted = {row[0] for row in self._db.execute("SELECT result_id FROM results WHERE evicted_at IS NOT NULL")}
        removed = 0
        for path in (self.data_dir / "runs").iterdir():
            if not path.is_dir():
                continue
            for tmp in path.glob("*.tmp"):
                tmp.unlink(missing_ok=True)
                removed += 1
            if path.name in gone:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
            elif path.name not in runs and not any(path.iterdir()):
                path.rmdir()
                removed += 1
        for path in (self.data_dir / "results").iterdir():
            if path.is_file() and (path.suffix == ".tmp" or (path.suffix == RESULT_SUFFIX and path.stem in evicted)):
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("swept %d crash leftover(s) from %s", removed, self.data_dir)
        return removed

    def unindexed(self) -> tuple[list[Path], list[Path]]:
        """(run directories, files in results/) that no row mentions: what ``server.catalog.reindex`` looks at."""
        with self._lock:
            runs = {row[0] for row in self._db.execute("SELECT run_id FROM runs")}
            results = {row[0] for row in self._db.execute("SELECT result_id FROM results")}
        run_dirs = sorted(p for p in (self.data_dir / "runs").iterdir() if p.name not in runs)
        files = sorted(p for p in (self.data_dir / "results").iterdir()
                       if not (p.suffix == RESULT_SUFFIX and p.stem in results))
        return run_dirs, files

    def quarantine(self, path: Path, stamp: str) -> Path:
        """Move an artifact nothing can use into ``quarantine/<stamp>/<runs|results>/`` (never deleted here)."""
        target = self.data_dir / QUARANTINE_DIR / stamp / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        return target

    # ------------------------------------------------------------------ rows

    def get(self, run_id: str) -> RunRecord | None:
        if not is_run_id(run_id):
            return None
        with self._lock:
            row = self._db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return record(row) if row else None

    def recent(self, limit: int = 50) -> list[RunRecord]:
        with self._lock:
            query = f"SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?"
            return [record(row) for row in self._db.execute(query, (limit,)).fetchall()]

    def put(self, run_id: str, kind: RunKind, config_json: str, status: RunStatus, *,
            metrics: dict[str, Any] | None = None, pinned: bool = False) -> RunRecord:
        """Insert a run, or reset an existing one (a failed/cancelled run being retried).

        ``pinned`` only ever adds the pin: a bundled run stays pinned whatever is posted later."""
        now = utc_now()
        finished = now if status not in ACTIVE_STATUSES else None
        with self._lock:
            self._db.execute(
                "INSERT INTO runs (run_id, kind, config_json, status, created_at, finished_at, metrics_json, pinned,"
                " last_access, size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET"
                " status=excluded.status, finished_at=excluded.finished_at, metrics_json=excluded.metrics_json,"
                " error=NULL, pinned=max(pinned, excluded.pinned), last_access=excluded.last_access,"
                " size_bytes=excluded.size_bytes",
                (run_id, kind, config_json, status, now, finished, dumps(metrics), int(pinned), time.time(),
                 self._file_size(self.model_path(run_id))),
            )
            self._db.execute("DELETE FROM evicted_runs WHERE run_id=?", (run_id,))
            record = self.get(run_id)
            self.enforce_cap(keep=run_id)
        assert record is not None
        return record

    def restore_run(self, run_id: str, kind: RunKind, config_json: str, metrics: dict[str, Any] | None,
                    created: float) -> bool:
        """Index, as a finished run, a model found on disk without a row or the exact-denoiser run a stored
        result names (``server.catalog.reindex``); False if the run has a row already."""
        stamp = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO runs (run_id, kind, config_json, status, created_at, finished_at, metrics_json, pinned,"
                " last_access, size_bytes) VALUES (?, ?, ?, 'done', ?, ?, ?, 0, ?, ?)"
                " ON CONFLICT(run_id) DO NOTHING",
                (run_id, kind, config_json, stamp, stamp, dumps(metrics), created,
                 self._file_size(self.model_path(run_id))),
            )
            self._db.execute("DELETE FROM evicted_runs WHERE run_id=?", (run_id,))
        return cursor.rowcount == 1

    def evicted_run(self, run_id: str) -> EvictedRun | None:
        """The config an evicted run left behind (None if it exists or never did)."""
        if not is_run_id(run_id):
            return None
        with self._lock:
            row = self._db.execute("SELECT run_id, kind, config_json, evicted_at FROM evicted_runs WHERE run_id=?",
                                   (run_id,)).fetchone()
        return EvictedRun(*row) if row else None

    def touch(self, run_id: str) -> None:
        """Record a use of the run (LRU eviction keeps recently used runs).

        At most one write per id every ``TOUCH_INTERVAL`` seconds: thirty students opening one link
        are one use for eviction purposes, and should not queue thirty writes."""
        now = time.time()
        with self._lock:
            if now - self._touched.get(run_id, 0.0) < TOUCH_INTERVAL:
                return
            self._touched[run_id] = now
            self._db.execute("UPDATE runs SET last_access=? WHERE run_id=?", (now, run_id))

    def set_status(self, run_id: str, status: RunStatus) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET status=? WHERE run_id=?", (status, run_id))

    def finish(self, run_id: str, status: RunStatus, *, metrics: dict[str, Any] | None = None,
               error: str | None = None, torch_version: str | None = None, threads: int | None = None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status=?, finished_at=?, metrics_json=?, error=?, torch_version=?, threads=?,"
                " last_access=?, size_bytes=? WHERE run_id=?",
                (status, utc_now(), dumps(metrics), error, torch_version, threads, time.time(),
                 self._file_size(self.model_path(run_id)), run_id),
            )
            self.enforce_cap(keep=run_id)

    # ------------------------------------------------------------------ results

    def get_result(self, result_id: str) -> ResultRecord | None:
        if not is_run_id(result_id):
            return None
        with self._lock:
            row = self._db.execute(f"SELECT {RESULT_COLUMNS} FROM results WHERE result_id=?", (result_id,)).fetchone()
        return ResultRecord(*row) if row else None

    def add_result(self, result_id: str, run_id: str, params_json: str, *, created: float | None = None) -> bool:
        """Record the result file just written at ``result_path(result_id)`` (or, with ``created``, one found
        on disk by ``server.catalog.reindex``: its file time orders it for eviction, and the cap waits for ``set_cap``).

        False (and a new file removed) when its run no longer exists: it was evicted while sampling."""
        path = self.result_path(result_id)
        when = time.time() if created is None else created
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO results (result_id, run_id, params_json, created_at, last_access, size_bytes)"
                " SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM runs WHERE run_id=?)"
                " ON CONFLICT(result_id) DO UPDATE SET last_access=excluded.last_access,"
                " size_bytes=excluded.size_bytes, evicted_at=NULL",
                (result_id, run_id, params_json, datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 when, self._file_size(path), run_id),
            )
            if cursor.rowcount == 0:
                if created is None:
                    path.unlink(missing_ok=True)
                return False
            if created is None:
                self.enforce_cap(keep=(result_id, run_id))  # the result just made and the run behind it
        return True

    def touch_result(self, result_id: str) -> None:
        """A replay uses the result and its run: both count as recently used (throttled as ``touch``)."""
        now = time.time()
        with self._lock:
            if now - self._touched.get(result_id, 0.0) < TOUCH_INTERVAL:
                return
            self._touched[result_id] = now
            row = self._db.execute("UPDATE results SET last_access=? WHERE result_id=? RETURNING run_id",
                                   (now, result_id)).fetchone()
            if row:
                self._db.execute("UPDATE runs SET last_access=? WHERE run_id=?", (now, row[0]))

    def forget_result(self, result_id: str) -> None:
        """Drop a damaged result file and its row (it will be computed again when asked for)."""
        with self._lock:
            self._db.execute("DELETE FROM results WHERE result_id=?", (result_id,))
        self.result_path(result_id).unlink(missing_ok=True)
