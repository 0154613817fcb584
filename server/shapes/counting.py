"""Count and name the shapes in any image (training, generated or drawn by hand) and label the image.

Per column (``Geometry.column_bounds``): threshold, find the 8-connected components, drop those under a size floor
(8 px at 64×64, as the calibration in reference-measurements.md; scaled by k² at 32), and classify each by its
shape features against the generator's own stamps: pixel count, bounding-box fill ratio, aspect ratio and the
height of its centroid in the box (a triangle's flat top puts it at ~1/3, a pentagon's and a square's at ~1/2). A
component that is close to no stamp is ``malformed``.

Image labels, first match wins:

* ``duplicate``: two or more components of one kind in a column: the paper's hallucination;
* ``malformed``: a malformed component, or a shape in another shape's column (never in training either);
* ``empty``: no component (the generator discards such images);
* ``valid``: at most one shape per column, each in its own column: a combination the training set holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch

from .geometry import SHAPES, Geometry, Stamp, geometry

KINDS = (*SHAPES, "malformed")  # component classes; index = kind code
MALFORMED_KIND = len(SHAPES)
LABELS = ("valid", "duplicate", "malformed", "empty")  # image labels; index = label code
VALID, DUPLICATE, MALFORMED, EMPTY = range(len(LABELS))

SIZE_FLOOR_64 = 8  # px at 64×64: smaller specks are noise, not shapes
# Largest accepted deviation from a stamp, per feature, at 64 px. Clipped stamps (one column cut off by the panel
# edge) stay well inside; softer generated shapes (rounded corners, a pixel more or less per edge) too. One pixel
# moves the shape features of a half-size shape twice as much, so at 32 px the last three are doubled (a 4×4 square
# with one extra pixel has fill 0.85 and aspect 1.25).
AREA_TOL = 0.35  # relative pixel count
FILL_TOL = 0.15  # pixels / bounding-box area
ASPECT_TOL = 0.35  # relative height / width
CENTROID_TOL = 0.1  # centroid height in the box, 0 = top row, 1 = bottom row


@dataclass(frozen=True)
class Components:
    """Every component above the floor, one row each, ordered by image, column, then label order."""

    image: np.ndarray  # (M,) int64
    column: np.ndarray  # (M,) int64
    kind: np.ndarray  # (M,) int64, index into KINDS
    area: np.ndarray  # (M,) int64 pixels
    box: np.ndarray  # (M, 4) int64 (top, left, bottom, right) in image coordinates, inclusive


@dataclass(frozen=True)
class ShapeCounts:
    counts: np.ndarray  # (N, 3, 4) int64: per image, column and kind, the number of components
    labels: np.ndarray  # (N,) int64, index into LABELS
    components: Components

    def share(self, label: int) -> float:
        return float((self.labels == label).mean()) if self.labels.size else float("nan")


def count_shapes(images: np.ndarray | torch.Tensor, resolution: int, *, threshold: float = 0.0) -> ShapeCounts:
    """Count images given as (N, H, W), (N, 1, H, W) or flattened (N, H·W); a pixel is on when > threshold.

    Boolean images are used as they are; model outputs live in [−1, 1], hence the default threshold 0.
    """
    geo = geometry(resolution)
    on = images.cpu() if isinstance(images, torch.Tensor) else torch.from_numpy(np.asarray(images))
    if on.dtype != torch.bool:
        on = on > threshold
    on = on.reshape(on.shape[0], resolution, resolution)  # (N, H, W)
    comps = _components(on.contiguous(), geo)
    counts = np.zeros((on.shape[0], len(SHAPES), len(KINDS)), dtype=np.int64)
    np.add.at(counts, (comps.image, comps.column, comps.kind), 1)
    return ShapeCounts(counts=counts, labels=_labels(counts), components=comps)


def _labels(counts: np.ndarray) -> np.ndarray:
    """(N, 3, 4) per-column kind counts → (N,) image labels (module docstring)."""
    own = np.eye(len(SHAPES), len(KINDS), dtype=bool)  # (3, 4): the kind that belongs in each column
    misplaced = (counts[:, :, :MALFORMED_KIND] * ~own[None, :, :MALFORMED_KIND]).sum(axis=(1, 2)) > 0
    labels = np.full(counts.shape[0], VALID, dtype=np.int64)
    labels[counts.sum(axis=(1, 2)) == 0] = EMPTY
    labels[(counts[:, :, MALFORMED_KIND].sum(axis=1) > 0) | misplaced] = MALFORMED
    labels[(counts[:, :, :MALFORMED_KIND] >= 2).any(axis=(1, 2))] = DUPLICATE
    return labels


def size_floor(resolution: int) -> int:
    return max(2, round(SIZE_FLOOR_64 * (resolution / 64) ** 2))


def _components(on: torch.Tensor, geo: Geometry) -> Components:
    """Every component above the floor, in image, column, then scan order."""
    bounds = np.array([geo.column_bounds(c) for c in range(len(SHAPES))], dtype=np.int64)
    stats = _component_stats(on.numpy(), bounds)  # (M, 8)
    stats = stats[stats[:, 2] >= size_floor(geo.resolution)]
    area, box = torch.from_numpy(stats[:, 2]), torch.from_numpy(stats[:, 3:7])
    centroid_y = torch.from_numpy(stats[:, 7]).double() / area
    return Components(image=stats[:, 0].copy(), column=stats[:, 1].copy(),
                      kind=_classify(area, box, centroid_y, geo.stamps, 64 / geo.resolution), area=stats[:, 2].copy(),
                      box=stats[:, 3:7].copy())


@numba.njit(cache=True, nogil=True)
def _component_stats(on: np.ndarray, bounds: np.ndarray) -> np.ndarray:  # pragma: no cover (compiled)
    """Flood-fill the 8-connected components of (N, H, W) bool ``on``, never across the column bounds (C, 2)
    [x0, x1); return (M, 8) int64 rows [image, column, area, top, left, bottom, right, sum of y]."""
    n, h, w = on.shape
    seen = np.zeros((h, w), dtype=np.bool_)
    stack = np.empty((h * w, 2), dtype=np.int64)
    out = np.empty((max(16, n), 8), dtype=np.int64)
    m = 0
    for i in range(n):
        seen[:] = False
        for c in range(bounds.shape[0]):
            x0, x1 = bounds[c, 0], bounds[c, 1]
            for y in range(h):
                for x in range(x0, x1):
                    if not on[i, y, x] or seen[y, x]:
                        continue
                    if m == out.shape[0]:
                        grown = np.empty((2 * m, 8), dtype=np.int64)
                        grown[:m] = out
                        out = grown
                    row = out[m]
                    row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7] = i, c, 0, y, x, y, x, 0
                    seen[y, x] = True
                    stack[0, 0], stack[0, 1] = y, x
                    top = 1
                    while top > 0:
                        top -= 1
                        cy, cx = stack[top, 0], stack[top, 1]
                        row[2] += 1
                        row[3], row[4] = min(row[3], cy), min(row[4], cx)
                        row[5], row[6] = max(row[5], cy), max(row[6], cx)
                        row[7] += cy
                        for ny in range(max(cy - 1, 0), min(cy + 2, h)):
                            for nx in range(max(cx - 1, x0), min(cx + 2, x1)):
                                if on[i, ny, nx] and not seen[ny, nx]:
                                    seen[ny, nx] = True
                                    stack[top, 0], stack[top, 1] = ny, nx
                                    top += 1
                    m += 1
    return out[:m]


def _features(area: torch.Tensor, box: torch.Tensor, centroid_y: torch.Tensor) -> np.ndarray:
    """(M, 4) [area, fill, aspect, centroid height in box] per component."""
    height = (box[:, 2] - box[:, 0] + 1).double()
    width = (box[:, 3] - box[:, 1] + 1).double()
    rel_y = (centroid_y - box[:, 0]) / (height - 1).clamp(min=1)
    return torch.stack([area.double(), area / (height * width), height / width, rel_y], 1).numpy()


def stamp_features(stamp: Stamp) -> np.ndarray:
    """(4,) the reference features of an unclipped stamp."""
    ys, xs = stamp.mask.nonzero()
    h, w = stamp.mask.shape
    return np.array([ys.size, ys.size / (h * w), h / w, ys.mean() / max(h - 1, 1)])


def _classify(
    area: torch.Tensor, box: torch.Tensor, centroid_y: torch.Tensor, stamps: tuple[Stamp, ...], scale: float
) -> np.ndarray:
    """(M,) kind per component: the nearest stamp whose every feature is within tolerance (shape tolerances times
    ``scale``), else malformed."""
    feats = _features(area, box, centroid_y)  # (M, 4)
    refs = np.stack([stamp_features(s) for s in stamps])  # (3, 4)
    dev = np.stack([
        np.abs(feats[:, None, 0] / refs[None, :, 0] - 1) / AREA_TOL,
        np.abs(feats[:, None, 1] - refs[None, :, 1]) / (FILL_TOL * scale),
        np.abs(feats[:, None, 2] / refs[None, :, 2] - 1) / (ASPECT_TOL * scale),
        np.abs(feats[:, None, 3] - refs[None, :, 3]) / (CENTROID_TOL * scale),
    ], axis=2)  # (M, 3, 4) deviations in units of their tolerance
    within: np.ndarray = np.all(dev <= 1, axis=2)  # (M, 3)
    score = np.where(within, dev.sum(axis=2), np.inf)
    return np.where(within.any(axis=1), score.argmin(axis=1), MALFORMED_KIND).astype(np.int64)
