"""The store's shared state and its file layout: where a run's weights and a result's arrays live.

* ``{data_dir}/runs/{run_id}/model.safetensors``: a trained run's weights (``save_checkpoint``).
* ``{data_dir}/results/{result_id}.npz``: one stored sampling result (``server.streaming.results``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import Counter
from pathlib import Path

from .records import is_run_id

MODEL_FILE = "model.safetensors"
RESULT_SUFFIX = ".npz"
QUARANTINE_DIR = "quarantine"


class StoreBase:
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

    @staticmethod
    def _file_size(path: Path) -> int:
        try:
            return os.stat(path).st_size
        except OSError:
            return 0
