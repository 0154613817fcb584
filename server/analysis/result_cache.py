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


def evict_least_recent(root: Path, max_bytes: int, keep: Path | None = None) -> None:
    """Delete the least recently used ``*.json`` files under ``root`` (any depth) until they hold at most
    ``max_bytes``; ``keep`` (the file just written) is never chosen.

    "Used" is the file's modification time, which ``JsonDirCache.get`` refreshes on every hit."""
    files = []
    for path in root.rglob("*.json"):
        try:
            stat = path.stat()
        except OSError:  # deleted meanwhile
            continue
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files, key=lambda f: f[0]):
        if total <= max_bytes:
            break
        if path == keep:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        total -= size


class JsonDirCache:
    """One JSON file per key under ``directory``; written atomically; unreadable files count as misses.

    With ``max_bytes``, every ``put`` then deletes the least recently used files until the JSON files under
    ``budget_root`` (default ``directory``; several caches may share one root, hence one budget) fit."""

    def __init__(self, directory: Path, *, max_bytes: int | None = None, budget_root: Path | None = None):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.budget_root = Path(budget_root) if budget_root is not None else self.directory

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"cache key must be 16 hex digits, got {key!r}")
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            value = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if not isinstance(value, dict):
            return None
        if self.max_bytes is not None:
            try:
                os.utime(path)  # a hit makes it recent: eviction goes by modification time
            except OSError:
                pass
        return value

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
        if self.max_bytes is not None:
            evict_least_recent(self.budget_root, self.max_bytes, keep=self._path(key))
