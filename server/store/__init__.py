"""Run and result metadata in SQLite (stdlib, WAL); artifacts as files next to it.

records   ids, kinds and statuses, the row dataclasses (``RunRecord``, ``ResultRecord``, ``EvictedRun``)
database  the index file: schema, opening and upgrading it, moving a damaged one aside (``DatabaseDamaged``)
base      the shared state and the file layout (``runs/{run_id}/model.safetensors``, ``results/{id}.npz``)
cap       what is in use (``hold``), and evicting the least recently used artifacts over the size cap
store     ``Store``: opening, crash recovery and sweeping at open, the run and result rows
"""

from .base import MODEL_FILE, QUARANTINE_DIR, RESULT_SUFFIX
from .database import DatabaseDamaged
from .records import (
    ACTIVE_STATUSES,
    RUN_ID_PATTERN,
    EvictedRun,
    ResultRecord,
    RunKind,
    RunRecord,
    RunStatus,
    file_stamp,
    is_run_id,
    utc_now,
)
from .store import CRASH_MESSAGE, Store

__all__ = [
    "ACTIVE_STATUSES",
    "CRASH_MESSAGE",
    "MODEL_FILE",
    "QUARANTINE_DIR",
    "RESULT_SUFFIX",
    "RUN_ID_PATTERN",
    "DatabaseDamaged",
    "EvictedRun",
    "ResultRecord",
    "RunKind",
    "RunRecord",
    "RunStatus",
    "Store",
    "file_stamp",
    "is_run_id",
    "utc_now",
]
