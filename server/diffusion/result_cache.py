"""Where sweep results are remembered: anything with ``get(key)`` and ``put(key, result)``.

The engine never decides where results live. The web job system passes a store-backed cache; the
CLI passes ``JsonDirCache`` (one ``<key>.json`` per result under a directory); tests pass a dict-backed
``MemoryCache``. Keys are content addresses (16 hex digits) derived from the run id of the training
config plus every setting that changes the result, so a hit is always a valid answer.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

_KEY = re.compile(r"^[0-9a-f]{16}$")


class ResultCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, result: dict[str, Any]) -> None: ...


class MemoryCache:
    """A dict; counts hits and misses (for tests and benchmarks)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        found = self.items.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return None if found is None else json.loads(json.dumps(found))  # a copy, as from disk

    def put(self, key: str, result: dict[str, Any]) -> None:
        self.items[key] = json.loads(json.dumps(result))


class JsonDirCache:
    """One JSON file per key under ``directory``; written atomically; unreadable files count as misses."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"cache key must be 16 hex digits, got {key!r}")
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            value = json.loads(self._path(key).read_text())
        except (OSError, json.JSONDecodeError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, result: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=key, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(result, handle, allow_nan=True)
            os.replace(tmp, self._path(key))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
