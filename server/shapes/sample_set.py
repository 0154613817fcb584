"""A bundled sample set (``models/<name>-samples.npz``, written by bench/sample_shapes_set.py) read back.

The file holds bit-packed binarised images, the counter's per-column counts and labels and the detector scores
(``reproduce.analyse_samples``'s ``arrays``). It is read with ``allow_pickle=False``; anything missing or of the
wrong shape is a ``SampleSetError`` naming the key.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .counting import KINDS, LABELS
from .geometry import RESOLUTIONS, SHAPES

VARIANCE_KEY = "trajectory_variance_k{k}"
MAP_WINDOW = 10  # the trajectory-variance window the page shows (the paper's K = 10)


class SampleSetError(ValueError):
    """The sample set is missing, unreadable or not shaped as bench/sample_shapes_set.py writes it."""


@dataclass(frozen=True)
class SampleSet:
    images: np.ndarray  # (N, H·W) bool, x_0 > 0
    counts: np.ndarray  # (N, 3, 4) int64 per column (SHAPES) and kind (KINDS)
    labels: np.ndarray  # (N,) int64 index into LABELS
    variance: np.ndarray  # (N,) float64 trajectory variance over the last MAP_WINDOW steps
    resolution: int

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def load_sample_set(path: Path, window: int = MAP_WINDOW) -> SampleSet:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise SampleSetError(f"{path.name}: unreadable sample set ({exc})") from exc
    variance_key = VARIANCE_KEY.format(k=window)
    for key in ("images", "resolution", "counts", "labels", variance_key):
        if key not in arrays:
            raise SampleSetError(f"{path.name}: no {key!r} array")
    resolution = int(arrays["resolution"]) if arrays["resolution"].size == 1 else 0
    if resolution not in RESOLUTIONS:
        raise SampleSetError(f"{path.name}: resolution must be one of {RESOLUTIONS}, got {arrays['resolution']}")
    packed, labels = arrays["images"], arrays["labels"]
    n, dim = labels.shape[0], resolution * resolution
    expected = {"images": (n, dim // 8), "counts": (n, len(SHAPES), len(KINDS)), "labels": (n,), variance_key: (n,)}
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise SampleSetError(f"{path.name}: {key!r} must have shape {shape}, got {arrays[key].shape}")
    if packed.dtype != np.uint8 or n == 0:
        raise SampleSetError(f"{path.name}: 'images' must be a non-empty bit-packed uint8 array")
    if labels.max(initial=0) >= len(LABELS):
        raise SampleSetError(f"{path.name}: 'labels' must index {LABELS}")
    return SampleSet(images=np.unpackbits(packed, axis=1, count=dim).astype(bool),
                     counts=arrays["counts"].astype(np.int64), labels=labels.astype(np.int64),
                     variance=arrays[variance_key].astype(np.float64), resolution=resolution)
