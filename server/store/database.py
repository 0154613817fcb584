"""The SQLite index file: schema, opening and upgrading it, and moving a damaged one aside.

The index is not the only copy of what is stored: a damaged database file is moved aside at open
(``runs.sqlite3.corrupt-<time>``, see ``DatabaseDamaged``) and a fresh one started; the artifacts stay
where they are for ``server.catalog.reindex`` to index again or move to ``quarantine/``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from .base import QUARANTINE_DIR
from .records import RESULT_COLUMNS, RUN_COLUMNS, file_stamp

log = logging.getLogger(__name__)

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


class DatabaseDamaged(Exception):
    """The index file is not a readable SQLite database (or fails its integrity check)."""


def connect(db_path: Path) -> sqlite3.Connection:
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
    for table, wanted in (("runs", RUN_COLUMNS), ("results", RESULT_COLUMNS)):
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        missing = [c for c in wanted.replace(" ", "").split(",") if c not in present and c not in added]
        if present and missing:
            raise DatabaseDamaged(f"table {table} lacks the columns {', '.join(missing)}: not this lab's index")


def move_damaged(db_path: Path, exc: DatabaseDamaged, data_dir: Path) -> Path:
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
