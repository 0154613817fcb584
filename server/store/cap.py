"""The size cap: what is in use (``hold``), and evicting the least recently used artifacts over ``max_bytes``.

An unpinned, finished run goes with all its results; a pinned run (the bundled models) is never deleted,
but its results may be. An evicted result keeps its row (marked ``evicted_at``) so its permalink can say
"no longer stored" (410) instead of "never existed" (404); an evicted run leaves its config behind
(``evicted_runs``) so that link can say how to train it again. What a client is using right now is
never evicted: the artifact just written and its run, and every id held with ``hold`` or ``acquire``
(a run being sampled, a result being replayed, the few results kept in memory for their viewers:
what was just produced) together with the run behind it.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from .base import StoreBase
from .records import utc_now

log = logging.getLogger(__name__)


class CappedStore(StoreBase):
    def set_cap(self, max_bytes: int | None) -> None:
        self.max_bytes = max_bytes
        self.enforce_cap()

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
