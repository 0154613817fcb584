"""The shapes page's two views of a bundled sample set, as JSON, each computed once per run.

* statistics: ``shapes.set_statistics`` (about a second; kept in memory);
* bottleneck map: ``shapes.bottleneck_map`` (about ten seconds; also kept as a file in ``cache_dir``, so a restart
  replays it; the file names the sample set's sha256 and the map settings it was made with, and a file that does
  not match, or cannot be read, is computed again and replaced).

However many requests arrive together, one computation runs (in a worker thread, off the event loop) and every
request awaits it; a client that leaves does not cancel it. A failed computation is not remembered: the next
request tries again. Arrays are typed-array specs (``streaming.encode.typed_array``).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..diffusion.checkpoint import write_atomic
from ..shapes.bottleneck_map import SOURCES, BottleneckMap, MapSettings, bottleneck_map
from ..shapes.checkpoint import load_unet_checkpoint
from ..shapes.counting import LABELS
from ..shapes.sample_set import MAP_WINDOW, load_sample_set
from ..shapes.set_statistics import CATEGORIES, set_statistics
from ..shapes.training import training_set
from ..streaming.encode import finite_or_none, typed_array
from .compressed import Compressed
from .shapes_sets import BundledShapesSet

log = logging.getLogger(__name__)

MAP_FORMAT = "mode-interpolation-lab/shapes-bottleneck-map/1"
STATISTICS, MAP = "statistics", "bottleneck-map"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def statistics_view(found: BundledShapesSet) -> dict[str, Any]:
    """The statistics of ``found``'s sample set against its training set (blocking)."""
    stats = set_statistics(load_sample_set(found.samples_path, MAP_WINDOW), training_set(found.config.data),
                           window=MAP_WINDOW)
    return {
        "run_id": found.run_id, "name": found.name, **finite_or_none(stats.figures),
        "variance": typed_array(stats.variance, "f4"), "label": typed_array(stats.labels, "u1"),
        "category": typed_array(stats.categories, "u1"),
        "roc": {name: typed_array(values, "f4") for name, values in stats.roc.items()},
    }


def map_view(found: BundledShapesSet, result: BottleneckMap, settings: MapSettings) -> dict[str, Any]:
    return {
        "run_id": found.run_id, "name": found.name, "resolution": result.resolution, "sources": list(SOURCES),
        "categories": list(CATEGORIES), "labels": list(LABELS), "settings": settings.model_dump(),
        "points": int(result.source.size), "between_modes": finite_or_none(result.figures()),
        "coords": typed_array(result.coords, "f4"), "source": typed_array(result.source, "u1"),
        "index": typed_array(result.index, "i4"), "category": typed_array(result.category, "u1"),
        "label": typed_array(result.label, "u1"), "between": typed_array(result.between, "u1"),
        "thumbnails": typed_array(result.thumbnails, "u1"),
    }


def read_map_cache(path: Path, samples_sha256: str, settings: MapSettings) -> BottleneckMap | None:
    """The cached map, or None when there is none, it is damaged, or it was made from other inputs."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
        if (str(arrays["format"]) != MAP_FORMAT or str(arrays["samples_sha256"]) != samples_sha256
                or str(arrays["settings"]) != settings.model_dump_json()):
            log.info("bottleneck map cache %s was made from other inputs: computing it again", path.name)
            return None
        return BottleneckMap.from_arrays(arrays)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("bottleneck map cache %s is unreadable (%s): computing it again", path.name, exc)
        return None


def write_map_cache(path: Path, result: BottleneckMap, samples_sha256: str, settings: MapSettings) -> None:
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {**result.arrays(), "format": np.array(MAP_FORMAT),
                              "samples_sha256": np.array(samples_sha256),
                              "settings": np.array(settings.model_dump_json())}
    np.savez_compressed(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


class ShapesViews:
    """Per run and view: the answer's JSON bytes, computed once (see the module docstring)."""

    def __init__(self, cache_dir: Path, threads: int, map_settings: MapSettings | None = None) -> None:
        self.cache_dir = cache_dir
        self.threads = threads
        self.map_settings = map_settings or MapSettings()
        self.computations: Counter[str] = Counter()  # view → computations started (tests and benches read it)
        self.joined: Counter[str] = Counter()  # view → requests that awaited a computation already running
        self._answers: dict[tuple[str, str, str], Compressed] = {}
        self._running: dict[tuple[str, str, str], asyncio.Future[Compressed]] = {}

    def map_cache_path(self, run_id: str) -> Path:
        return self.cache_dir / f"{run_id}-bottleneck-map.npz"

    async def statistics(self, found: BundledShapesSet) -> Compressed:
        return await self._once(STATISTICS, found, lambda _sha: statistics_view(found))

    async def bottleneck_map(self, found: BundledShapesSet) -> Compressed:
        return await self._once(MAP, found, lambda sha: self._map(found, sha))

    async def _once(self, view: str, found: BundledShapesSet,
                    compute: Callable[[str], dict[str, Any]]) -> Compressed:
        """``compute`` gets the sample set's sha256 (read once here: it keys the answer and names the map's cache)."""
        sha = await asyncio.to_thread(_sha256, found.samples_path)
        key = (view, found.run_id, sha)
        if key in self._answers:
            return self._answers[key]
        running = self._running.get(key)
        if running is None:
            self.computations[view] += 1
            running = asyncio.ensure_future(asyncio.to_thread(lambda: _render(compute(sha))))
            self._running[key] = running
            running.add_done_callback(lambda done: self._settle(key, done))
        else:
            self.joined[view] += 1
        return await asyncio.shield(running)  # a request that is cancelled leaves the computation running

    def _settle(self, key: tuple[str, str, str], done: asyncio.Future[Compressed]) -> None:
        self._running.pop(key, None)
        if not done.cancelled() and done.exception() is None:
            self._answers[key] = done.result()

    def _map(self, found: BundledShapesSet, sha: str) -> dict[str, Any]:
        """Blocking: the cached file when it matches, else compute it and write the file."""
        settings, path = self.map_settings, self.map_cache_path(found.run_id)
        result = read_map_cache(path, sha, settings)
        if result is None:
            self.computations["bottleneck-map-compute"] += 1  # t-SNE runs (a cache replay does not count)
            net = load_unet_checkpoint(found.model_path).net
            result = bottleneck_map(net, training_set(found.config.data), load_sample_set(found.samples_path),
                                    settings, threads=self.threads)
            write_map_cache(path, result, sha, settings)
            log.info("bottleneck map of %s (%s): %d points in %.1f s", found.name, found.run_id,
                     result.source.size, result.seconds)
        return map_view(found, result, settings)


def _render(view: dict[str, Any]) -> Compressed:
    """The view's JSON, and gzipped (the bundled map: 3.5 MB of JSON, 69 KB gzipped: its thumbnails are mostly
    zeros)."""
    return Compressed.of(json.dumps(view, separators=(",", ":"), allow_nan=False).encode())
