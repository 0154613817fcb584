"""Run and result metadata in SQLite (stdlib, WAL); artifacts as files next to it.

* ``{data_dir}/runs/{run_id}/model.safetensors``: a trained run's weights (``save_checkpoint``).
* ``{data_dir}/results/{result_id}.npz``: one stored sampling result (``server.results``).

One connection guarded by a lock: every statement is a tiny read or write, so serialising them
costs less than juggling per-thread connections. Artifacts are written atomically (temp file +
rename) and nothing here ever unpickles, so a ``kill -9`` leaves at worst a stray ``*.tmp`` file,
swept at the next open.

Size cap: when artifacts exceed ``max_bytes``, the least recently used are deleted: an unpinned,
finished run goes with all its results; a pinned run (the bundled models) is never deleted, but its
results may be. An evicted result keeps its row (marked ``evicted_at``) so its permalink can say
"no longer stored" (410) instead of "never existed" (404); an evicted run leaves its config behind
(``evicted_runs``) so that link can say how to train it again. What a client is using right now is
never evicted: the artifact just written and its run, and every id held with ``hold`` or ``acquire``
(a run being sampled, a result being replayed, the few results kept in memory for their viewers:
what was just produced) together with the run behind it.

The index is not the only copy of what is stored: a damaged database file is moved aside at open
(``runs.sqlite3.corrupt-<time>``, see ``DatabaseDamaged``) and a fresh one started; artifacts no row
points to are left in place for ``server.catalog.reindex`` to index again or move to ``quarantine/``. Only
crash leftovers (``*.tmp``) and the files of an eviction a crash interrupted are ever deleted here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

RunKind = Literal["trained", "oracle"]
RunStatus = Literal["queued", "running", "done", "failed", "cancelled"]
ACTIVE_STATUSES = ("queued", "running")
_COLUMNS = ("run_id, kind, config_json, status, created_at, finished_at, metrics_json, error, torch_version, threads,"
            " pinned, last_access, size_bytes")
_RESULT_COLUMNS = "result_id, run_id, params_json, created_at, last_access, size_bytes, evicted_at"
RUN_ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")  # run ids and result ids alike
MODEL_FILE = "model.safetensors"
RESULT_SUFFIX = ".npz"
QUARANTINE_DIR = "quarantine"
CRASH_MESSAGE = "server stopped during training"
TOUCH_INTERVAL = 10.0  # seconds: uses closer together than this are recorded once

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
);
CREATE TABLE IF NOT EXISTS results (
    result_id    TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL,
    params_json  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_access  REAL NOT NULL,
    size_bytes   INTEGER NOT NULL,
    evicted_at   TEXT
);
CREATE INDEX IF NOT EXISTS results_by_run ON results (run_id);
CREATE TABLE IF NOT EXISTS evicted_runs (
    run_id       TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    config_json  TEXT NOT NULL,
    evicted_at   TEXT NOT NULL
);
"""
# SQLite's names for "this file is not (or no longer) a database"; any other error (locked, read-only,
# disk full) is not the file's fault and is raised as is.
_DAMAGED_ERRORS = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
# Columns added after the first release: (name, declaration). Added in place to older databases.
_RUN_COLUMNS_V2 = (("pinned", "INTEGER NOT NULL DEFAULT 0"), ("last_access", "REAL"),
                   ("size_bytes", "INTEGER NOT NULL DEFAULT 0"))


def is_run_id(value: str) -> bool:
    return RUN_ID_PATTERN.fullmatch(value) is not None


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_stamp() -> str:
    """A UTC time usable in a file name (no colons), e.g. ``20261128T205030Z``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class DatabaseDamaged(Exception):
    """The index file is not a readable SQLite database (or fails its integrity check)."""


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
    pinned: bool = False
    last_access: float | None = None
    size_bytes: int = 0

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class ResultRecord:
    result_id: str
    run_id: str
    params_json: str
    created_at: str
    last_access: float
    size_bytes: int
    evicted_at: str | None


@dataclass(frozen=True)
class EvictedRun:
    """What is left of an evicted run: enough to train it again."""

    run_id: str
    kind: RunKind
    config_json: str
    evicted_at: str


class Store:
    def __init__(self, data_dir: Path, connection: sqlite3.Connection, max_bytes: int | None = None):
        self.data_dir = data_dir
        self.max_bytes = max_bytes  # None: no cap
        self._db = connection
        # Re-entrant: eviction runs inside the methods that add bytes.
        self._lock = threading.RLock()
        self._touched: dict[str, float] = {}  # id → time of the last last_access write
        # Ids in use (``hold``): a separate small lock, so the event loop never waits on an eviction's deletes.
        self._held: Counter[str] = Counter()
        self._held_lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: Path, db_path: Path | None = None, *, max_bytes: int | None = None) -> Store:
        """Open (creating or upgrading) the database, fail runs a crash left active, sweep crash leftovers.

        A damaged database file is moved aside and replaced by an empty one (logged: see
        ``_move_damaged``); artifacts are never deleted for want of a row (``server.catalog.reindex`` indexes them).
        With ``max_bytes`` the cap is enforced at once; the server passes it later, through ``set_cap``,
        once the bundled models are pinned again (a rebuilt index does not know them yet)."""
        (data_dir / "runs").mkdir(parents=True, exist_ok=True)
        (data_dir / "results").mkdir(parents=True, exist_ok=True)
        db_path = db_path or data_dir / "runs.sqlite3"
        try:
            db = _connect(db_path)
        except DatabaseDamaged as exc:
            _move_damaged(db_path, exc, data_dir)
            db = _connect(db_path)
        store = cls(data_dir, db, max_bytes)
        store.recover()
        store.sweep()
        store.enforce_cap()
        return store

    def set_cap(self, max_bytes: int | None) -> None:
        self.max_bytes = max_bytes
        self.enforce_cap()

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

    # ------------------------------------------------------------------ paths

    def run_dir(self, run_id: str) -> Path:
        if not is_run_id(run_id):  # the only gate between a request string and the file system
            raise ValueError(f"not a run id: {run_id[:40]!r}")
        return self.data_dir / "runs" / run_id

    def model_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / MODEL_FILE

    def result_path(self, result_id: str) -> Path:
        if not is_run_id(result_id):  # result ids have the same shape, and the same gate
            raise ValueError(f"not a result id: {result_id[:40]!r}")
        return self.data_dir / "results" / f"{result_id}{RESULT_SUFFIX}"

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
                (run_id, kind, config_json, status, now, finished, _dumps(metrics), int(pinned), time.time(),
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
                (run_id, kind, config_json, stamp, stamp, _dumps(metrics), created,
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
                (status, utc_now(), _dumps(metrics), error, torch_version, threads, time.time(),
                 self._file_size(self.model_path(run_id)), run_id),
            )
            self.enforce_cap(keep=run_id)

    # ------------------------------------------------------------------ results

    def get_result(self, result_id: str) -> ResultRecord | None:
        if not is_run_id(result_id):
            return None
        with self._lock:
            row = self._db.execute(f"SELECT {_RESULT_COLUMNS} FROM results WHERE result_id=?", (result_id,)).fetchone()
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

    # ------------------------------------------------------------------ in use

    @contextmanager
    def hold(self, *ids: str) -> Iterator[None]:
        """Keep these runs and results (and the runs behind the results) from eviction meanwhile.

        Take it before reading the rows: an eviction either sees the hold or has already finished."""
        self.acquire(*ids)
        try:
            yield
        finally:
            self.release(*ids)

    def acquire(self, *ids: str) -> None:
        """``hold`` without the block, for holds that end elsewhere; every acquire needs one release.
        Cheap and never waits on an eviction: the event loop may call it."""
        with self._held_lock:
            self._held.update(ids)

    def release(self, *ids: str) -> None:
        """Let go of one ``acquire``; the store may stay over its cap until the next write evicts."""
        with self._held_lock:
            self._held.subtract(ids)
            for item in ids:
                if self._held[item] <= 0:
                    del self._held[item]

    def _protected(self, keep: tuple[str, ...]) -> set[str]:
        """Ids held or kept, plus the run of every such result (call with ``_lock`` held)."""
        with self._held_lock:
            ids = set(self._held) | set(keep)
        if not ids:
            return ids
        marks = ",".join("?" * len(ids))
        runs = self._db.execute(f"SELECT DISTINCT run_id FROM results WHERE result_id IN ({marks})",
                                tuple(ids)).fetchall()
        return ids | {row[0] for row in runs}

    # ------------------------------------------------------------------ size cap

    def usage(self) -> int:
        """Bytes of artifacts the rows account for (weights and result files)."""
        with self._lock:
            runs = self._db.execute("SELECT coalesce(sum(size_bytes), 0) FROM runs").fetchone()[0]
            results = self._db.execute(
                "SELECT coalesce(sum(size_bytes), 0) FROM results WHERE evicted_at IS NULL").fetchone()[0]
        return int(runs) + int(results)

    def enforce_cap(self, keep: str | tuple[str, ...] = ()) -> list[str]:
        """Evict least recently used artifacts until under ``max_bytes``; returns the evicted ids.

        ``keep`` (the artifact just written, and its run) and everything held is never chosen, nor is a
        run with such a result: what is in use may leave the store over its cap until it is let go."""
        if self.max_bytes is None:
            return []
        evicted: list[str] = []
        with self._lock:
            total = self.usage()
            if total <= self.max_bytes:
                return []
            protected = self._protected((keep,) if isinstance(keep, str) else keep)
            for kind, item_id, size, _last in self._eviction_candidates():
                if total <= self.max_bytes:
                    break
                if item_id in protected:
                    continue
                self._evict_run(item_id) if kind == "run" else self._evict_result(item_id)
                evicted.append(item_id)
                total -= size
        if evicted:
            log.info("store over %d bytes: evicted %s", self.max_bytes, ", ".join(evicted))
        return evicted

    def _eviction_candidates(self) -> list[tuple[str, str, int, float]]:
        """(kind, id, bytes, last use), oldest first: unpinned finished runs with their results, and the
        results of pinned runs one by one. Queued or running runs are never candidates."""
        runs = self._db.execute(
            "SELECT r.run_id, r.size_bytes + coalesce(sum(s.size_bytes), 0),"
            " max(coalesce(r.last_access, 0), coalesce(max(s.last_access), 0))"
            " FROM runs r LEFT JOIN results s ON s.run_id = r.run_id AND s.evicted_at IS NULL"
            " WHERE r.pinned = 0 AND r.status NOT IN ('queued', 'running') GROUP BY r.run_id"
        ).fetchall()
        results = self._db.execute(
            "SELECT s.result_id, s.size_bytes, s.last_access FROM results s JOIN runs r ON r.run_id = s.run_id"
            " WHERE s.evicted_at IS NULL AND r.pinned = 1"
        ).fetchall()
        items = [("run", *row) for row in runs] + [("result", *row) for row in results]
        return sorted(items, key=lambda item: item[3])

    def _evict_run(self, run_id: str) -> None:
        """Rows first (one transaction, leaving the config in ``evicted_runs``), files after: a crash in
        between leaves files whose rows say evicted, which ``sweep`` removes."""
        files = [row[0] for row in self._db.execute(
            "SELECT result_id FROM results WHERE run_id=? AND evicted_at IS NULL", (run_id,))]
        now = utc_now()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("INSERT OR REPLACE INTO evicted_runs (run_id, kind, config_json, evicted_at)"
                             " SELECT run_id, kind, config_json, ? FROM runs WHERE run_id=?", (now, run_id))
            self._db.execute("UPDATE results SET evicted_at=? WHERE run_id=?", (now, run_id))
            self._db.execute("DELETE FROM runs WHERE run_id=?", (run_id,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        for result_id in files:
            self.result_path(result_id).unlink(missing_ok=True)
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    def _evict_result(self, result_id: str) -> None:
        self._db.execute("UPDATE results SET evicted_at=? WHERE result_id=?", (utc_now(), result_id))
        self.result_path(result_id).unlink(missing_ok=True)

    @staticmethod
    def _file_size(path: Path) -> int:
        try:
            return os.stat(path).st_size
        except OSError:
            return 0


def _connect(db_path: Path) -> sqlite3.Connection:
    """Open, configure and upgrade the database; ``DatabaseDamaged`` if the file is not a sound one."""
    # check_same_thread=False: the lock serialises use across the loop, threadpool and job threads.
    db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        check = db.execute("PRAGMA quick_check").fetchall()  # linear in a file of a few hundred kB
        if check != [("ok",)]:
            raise DatabaseDamaged("; ".join(str(row[0]) for row in check[:3]))
        _check_columns(db)  # before any write: another program's file is left exactly as it was
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: in WAL mode a commit is durable across a process crash (kill -9) and the file is never
        # corrupted; only a power cut may lose the last commits. FULL would fsync every tiny write.
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        present = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        for name, declaration in _RUN_COLUMNS_V2:
            if name not in present:
                db.execute(f"ALTER TABLE runs ADD COLUMN {name} {declaration}")
    except sqlite3.DatabaseError as exc:
        db.close()
        if getattr(exc, "sqlite_errorname", None) in _DAMAGED_ERRORS:
            raise DatabaseDamaged(str(exc)) from exc
        raise
    except DatabaseDamaged:
        db.close()
        raise
    return db


def _check_columns(db: sqlite3.Connection) -> None:
    """Tables of the same names but another shape (another program's file): as unusable as a damaged one.
    Tables not there yet are fine (a new file); columns added since the first release are added later."""
    added = {name for name, _ in _RUN_COLUMNS_V2}
    for table, wanted in (("runs", _COLUMNS), ("results", _RESULT_COLUMNS)):
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        missing = [c for c in wanted.replace(" ", "").split(",") if c not in present and c not in added]
        if present and missing:
            raise DatabaseDamaged(f"table {table} lacks the columns {', '.join(missing)}: not this lab's index")


def _move_damaged(db_path: Path, exc: DatabaseDamaged, data_dir: Path) -> Path:
    """Move the damaged file (and its WAL and shared-memory files) aside and say so in one paragraph."""
    target = db_path.with_name(f"{db_path.name}.corrupt-{file_stamp()}")
    for suffix in ("", "-wal", "-shm"):
        source = db_path.with_name(db_path.name + suffix)
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    log.error(
        "The run index %s is damaged and cannot be read (%s). It has been moved aside to %s and a fresh index "
        "started; no model or result file in %s is deleted: the lab indexes every trained model and stored "
        "result it can read again, and moves files it cannot read to %s/. Nothing needs doing to start the lab. "
        "What only the old index held is lost: loss curves, the runs that were training, exact-denoiser runs "
        "without stored results, and the notices of results evicted earlier. Delete %s once you do not need it "
        "(`sqlite3 %s .recover` may salvage rows from it).",
        db_path, exc, target.name, data_dir, QUARANTINE_DIR, target.name, target.name)
    return target


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, allow_nan=False)


def _record(row: tuple[Any, ...]) -> RunRecord:
    (run_id, kind, config_json, status, created, finished, metrics_json, error, torch_version, threads,
     pinned, last_access, size_bytes) = row
    metrics = json.loads(metrics_json) if metrics_json else None
    return RunRecord(run_id, kind, config_json, status, created, finished, metrics, error, torch_version, threads,
                     bool(pinned), last_access, size_bytes)
