"""Results of image sample streams (Simple Shapes): their arrays, events, npz format and CSV table.

The image counterpart of ``server.streaming.results`` (points), with the same contract: the live stream and every
replay build their events from one ``ImageResultArrays`` through the same functions, so a replay is byte-identical.
Pixels travel quantised to bytes for display (``to_u1``); the npz keeps the final samples and the x̂0 window in
float32, so scores can be recomputed from the file; the frames are stored as the bytes that were sent.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..shapes.counting import KINDS, LABELS
from ..shapes.geometry import SHAPES
from ..shapes.reasons import image_reasons
from .encode import Dtype, typed_array
from .results import (
    ResultArrays,
    ResultDamaged,
    StoredArrays,
    StoredRun,
    content_bytes,
    npz_content,
    read_npz,
    write_npz,
)

IMAGE_RESULT_FORMAT = "mode-interpolation-lab/image-result/1"
IMAGE_CSV_TABLE = "images"

# name → (dtype, rank) of every array in the file; shapes are cross-checked on load.
_ARRAYS: dict[str, tuple[str, int]] = {
    "frame_t": ("<i4", 1), "frame_x": ("|u1", 3), "frame_x0": ("|u1", 3),
    "samples": ("<f4", 2), "label": ("|u1", 1), "counts": ("|u1", 3), "variance": ("<f4", 1),
    "x0_last": ("<f4", 3), "x0_last_t": ("<i4", 1),
    "comp_image": ("<i2", 1), "comp_column": ("|u1", 1), "comp_kind": ("|u1", 1), "comp_box": ("<i2", 2),
    "roc_fpr": ("<f4", 1), "roc_tpr": ("<f4", 1), "roc_thresholds": ("<f4", 1),
}


def to_u1(values: np.ndarray) -> np.ndarray:
    """Model units (−1 … 1; x_t reaches ±4 at t = T and is clipped) → display bytes: round(clip((v + 1) / 2) · 255),
    halves rounded up."""
    scaled = np.clip((np.asarray(values, dtype=np.float32) + 1) / 2, 0, 1) * 255
    return np.floor(scaled + 0.5).astype(np.uint8)


@dataclass(frozen=True)
class ImageResultArrays(StoredArrays):
    SPEC: ClassVar[dict[str, tuple[str, int]]] = _ARRAYS
    FRAME_DTYPE: ClassVar[Dtype] = "u1"  # frames travel and are stored as display bytes (N, H·W)
    meta: dict[str, Any]  # the `meta` event, result_id included
    frame_t: np.ndarray  # (F,) chain timesteps of the frames, steps first
    frame_x: np.ndarray  # (F, N, D) u1
    frame_x0: np.ndarray  # (F − 1, N, D) u1: the initial frame has no x̂0
    samples: np.ndarray  # (N, D) float32 x_0
    label: np.ndarray  # (N,) index into counting.LABELS
    counts: np.ndarray  # (N, 3, 4) per column and kind
    variance: np.ndarray  # (N,) trajectory variance over the window
    x0_last: np.ndarray  # (N, K, D) float32 x̂0 at t = K−1 … 0
    x0_last_t: np.ndarray  # (K,)
    comp_image: np.ndarray  # (M,) the counted components: image, column, kind, box (top, left, bottom, right)
    comp_column: np.ndarray
    comp_kind: np.ndarray
    comp_box: np.ndarray  # (M, 4)
    roc_fpr: np.ndarray  # duplicates vs the rest; empty when one class is absent
    roc_tpr: np.ndarray
    roc_thresholds: np.ndarray
    summary: dict[str, Any]

    def reasons(self) -> list[str]:
        return image_reasons(self.counts, self.label)

    def result(self) -> dict[str, Any]:
        """The `result` event."""
        return {
            "images": typed_array(to_u1(self.samples), "u1"),
            "label": typed_array(self.label, "u1"),
            "counts": typed_array(self.counts, "u1"),
            "reasons": self.reasons(),
            "variance": typed_array(self.variance, "f4"),
            "x0_last": typed_array(to_u1(self.x0_last), "u1"),
            "x0_last_ts": [int(t) for t in self.x0_last_t],
            "components": {"image": typed_array(self.comp_image, "i2"), "column": typed_array(self.comp_column, "u1"),
                           "kind": typed_array(self.comp_kind, "u1"), "box": typed_array(self.comp_box, "i2")},
            "roc": {"fpr": typed_array(self.roc_fpr, "f4"), "tpr": typed_array(self.roc_tpr, "f4"),
                    "thresholds": typed_array(self.roc_thresholds, "f4")},
            "summary": self.summary,
        }


StreamResult = ResultArrays | ImageResultArrays


# ---------------------------------------------------------------------------- the npz artifact


def image_npz_content(arrays: ImageResultArrays, run: StoredRun | None = None) -> dict[str, np.ndarray]:
    return npz_content(IMAGE_RESULT_FORMAT, {name: getattr(arrays, name) for name in _ARRAYS}, arrays.meta,
                       arrays.summary, run)


def image_npz_bytes(arrays: ImageResultArrays) -> bytes:
    """The export: what ``save_image_result`` writes, less the run's config."""
    return content_bytes(image_npz_content(arrays))


def save_image_result(path: Path, arrays: ImageResultArrays, run: StoredRun | None = None) -> None:
    write_npz(path, image_npz_content(arrays, run))


def load_image_result(path: Path) -> ImageResultArrays:
    """Read and check a stored image result. Raises ``ResultDamaged``; never unpickles."""
    arrays = ImageResultArrays(**read_npz(path, IMAGE_RESULT_FORMAT, _ARRAYS))
    F, N, D = arrays.frame_x.shape
    K, M = len(arrays.x0_last_t), len(arrays.comp_image)
    expected = {
        "frame_t": (F,), "frame_x0": (F - 1, N, D), "samples": (N, D), "label": (N,), "counts": (N, len(SHAPES),
                                                                                              len(KINDS)),
        "variance": (N,), "x0_last": (N, K, D), "comp_column": (M,), "comp_kind": (M,), "comp_box": (M, 4),
    }
    for name, shape in expected.items():
        if getattr(arrays, name).shape != shape:
            raise ResultDamaged(f"the result file is damaged ({name} has shape {getattr(arrays, name).shape}, "
                                f"expected {shape})")
    if arrays.label.size and int(arrays.label.max()) >= len(LABELS):
        raise ResultDamaged("the result file is damaged (a label out of range)")
    return arrays


# ---------------------------------------------------------------------------- CSV export


def image_csv(a: ImageResultArrays) -> str:
    """The `images` table: per image its label, the reason in words, the counts per column and kind, the variance."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    count_names = [f"{column}_{kind}" for column in SHAPES for kind in KINDS]
    writer.writerow(["image", "label", "reason", *count_names, "variance"])
    for i, reason in enumerate(a.reasons()):
        writer.writerow([i, LABELS[int(a.label[i])], reason, *(int(v) for v in a.counts[i].ravel()),
                         str(np.float32(a.variance[i]))])
    return out.getvalue()
