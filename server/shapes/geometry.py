"""Where the Simple Shapes go and what they look like (paper.md §3.6, the official generator's layout).

A 64×64 image holds three panels of 21 × 63 px side by side, triangle | square | pentagon, pasted at the top left (the
last row and column stay black). Each shape is a fixed polygon placed at a random integer anchor in its own panel:

* square: an 8×8 block (64 px), top-left corner x ∈ [1, 7], y ∈ [1, 49];
* triangle: side 11, flat top, apex 9 px below the top edge's middle; top-left vertex x ∈ [0, 10], y ∈ [0, 52]
  (65 px; 64 when the right column is cut off by the panel edge at x = 10);
* pentagon: regular, circumradius 5, vertices at 72°, 144°, …, 360° around the centre; centre x ∈ [5, 16],
  y ∈ [5, 58] (70 px; 69 when cut at x = 16).

The reduced 32×32 variant scales every length and range by k = resolution / 64 and rounds down: panels 10 × 31,
square side 3 (a 4×4 block), triangle side 5 and height 4, pentagon circumradius 2.5, anchors in ranges of the same
formulas. Pixels are set by the official drawing's rule (PIL's polygon fill), restated: vertices are truncated to
integers, and row y is filled over every x in the open interval (x_left − ½, x_right + ½), where x_left, x_right
bound the polygon on that row. Both rules were checked pixel for pixel against PIL at every anchor of both sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

SHAPES = ("triangle", "square", "pentagon")  # column order, left to right
RESOLUTIONS = (64, 32)

# The official sizes at 64 px: square side ⌊√60⌋ = 7 (drawn 8×8), triangle side 11 for area 60, pentagon
# circumradius 5 (the generator's "side_length" is used as the radius).
PANEL_WIDTH, PANEL_HEIGHT = 21, 63
SQUARE_SIDE, TRIANGLE_SIDE, PENTAGON_RADIUS = 7, 11, 5.0


@dataclass(frozen=True)
class Stamp:
    """One shape's pixels relative to its anchor, and where the anchor may go in its panel."""

    mask: np.ndarray  # (h, w) bool
    offset: tuple[int, int]  # (dy, dx) of mask[0, 0] from the anchor
    x_range: tuple[int, int]  # anchor x, inclusive, in panel coordinates
    y_range: tuple[int, int]  # anchor y, inclusive

    @property
    def pixels(self) -> int:
        return int(self.mask.sum())


@dataclass(frozen=True)
class Geometry:
    resolution: int
    panel_width: int
    panel_height: int
    stamps: tuple[Stamp, Stamp, Stamp]  # in SHAPES order

    def column_bounds(self, column: int) -> tuple[int, int]:
        """[x0, x1) of a column in the image; the last one also takes the black margin on the right."""
        x0 = column * self.panel_width
        return x0, self.resolution if column == len(SHAPES) - 1 else x0 + self.panel_width


def rasterize(vertices: list[tuple[float, float]], width: int, height: int) -> np.ndarray:
    """(height, width) bool mask of a convex polygon given as (x, y) vertices, clipped to the canvas."""
    pts = [(math.floor(x), math.floor(y)) for x, y in vertices]
    mask = np.zeros((height, width), dtype=bool)
    edges = list(zip(pts, pts[1:] + pts[:1], strict=True))
    for y in range(min(p[1] for p in pts), max(p[1] for p in pts) + 1):
        xs: list[float] = []
        for (xa, ya), (xb, yb) in edges:
            if min(ya, yb) <= y <= max(ya, yb):
                xs.extend([xa, xb] if ya == yb else [xa + (xb - xa) * (y - ya) / (yb - ya)])
        left, right = math.floor(min(xs) - 0.5) + 1, math.ceil(max(xs) + 0.5) - 1  # open interval ends
        if 0 <= y < height:
            mask[y, max(left, 0) : min(right, width - 1) + 1] = True
    return mask


def _stamp(vertices: list[tuple[float, float]], x_range: tuple[int, int], y_range: tuple[int, int]) -> Stamp:
    """Rasterize around the origin (vertices are relative to the anchor; integer moves keep the pixels)."""
    margin = 2 + math.ceil(max(max(abs(x), abs(y)) for x, y in vertices))
    canvas = rasterize([(x + margin, y + margin) for x, y in vertices], 2 * margin + 1, 2 * margin + 1)
    rows, cols = np.flatnonzero(canvas.any(axis=1)), np.flatnonzero(canvas.any(axis=0))
    mask = canvas[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return Stamp(mask=mask, offset=(int(rows[0]) - margin, int(cols[0]) - margin), x_range=x_range, y_range=y_range)


@cache
def geometry(resolution: int) -> Geometry:
    """The layout at 64 px (the paper's) or 32 px (every length scaled by ½, rounded down)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution}")
    k = resolution / 64
    pw, ph = math.floor(PANEL_WIDTH * k), math.floor(PANEL_HEIGHT * k)
    tri = math.floor(TRIANGLE_SIDE * k)
    tri_height = math.floor(tri * math.sqrt(3) / 2)
    triangle = _stamp([(0, 0), (tri, 0), (tri // 2, tri_height)], (0, pw - tri), (0, ph - tri))
    sq = math.floor(SQUARE_SIDE * k)
    square = _stamp([(0, 0), (sq, 0), (sq, sq), (0, sq)], (1, pw - 2 * sq), (1, ph - 2 * sq))
    r = PENTAGON_RADIUS * k
    angles = [math.radians(72 * i) for i in range(1, 6)]
    lo = math.ceil(r)
    pentagon = _stamp(
        [(r * math.cos(a), -r * math.sin(a)) for a in angles], (lo, math.floor(pw - r)), (lo, math.floor(ph - r))
    )
    return Geometry(resolution=resolution, panel_width=pw, panel_height=ph, stamps=(triangle, square, pentagon))
