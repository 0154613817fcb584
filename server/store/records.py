"""What the rows hold: ids, kinds and statuses, times, the record dataclasses and the decoding of a run row."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

RunKind = Literal["trained", "oracle"]
RunStatus = Literal["queued", "running", "done", "failed", "cancelled"]
ACTIVE_STATUSES = ("queued", "running")
# The columns every query selects, in the order ``record`` (runs) and ``ResultRecord`` (results) take them.
RUN_COLUMNS = ("run_id, kind, config_json, status, created_at, finished_at, metrics_json, error, torch_version,"
               " threads, pinned, last_access, size_bytes")
RESULT_COLUMNS = "result_id, run_id, params_json, created_at, last_access, size_bytes, evicted_at"
RUN_ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")  # run ids and result ids alike


def is_run_id(value: str) -> bool:
    return RUN_ID_PATTERN.fullmatch(value) is not None


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_stamp() -> str:
    """A UTC time usable in a file name (no colons), e.g. ``20261128T205030Z``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


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


def dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, allow_nan=False)


def record(row: tuple[Any, ...]) -> RunRecord:
    (run_id, kind, config_json, status, created, finished, metrics_json, error, torch_version, threads,
     pinned, last_access, size_bytes) = row
    metrics = json.loads(metrics_json) if metrics_json else None
    return RunRecord(run_id, kind, config_json, status, created, finished, metrics, error, torch_version, threads,
                     bool(pinned), last_access, size_bytes)
