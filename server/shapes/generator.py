"""The Simple Shapes data set, drawn as the official generator draws it (paper.md §3.6), with per-image metadata.

Per attempt, each column's shape is present with probability p = 0.5, at a uniform random anchor in its own panel
(``geometry``), so an image holds at most one triangle, one square and one pentagon; attempts with no shape are
discarded until ``n`` images are kept. Of the kept images 3/7 hold one shape, 3/7 two and 1/7 three; each shape is
in 4/7 of them. Randomness comes only from the torch.Generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .geometry import SHAPES, Geometry, geometry

PRESENCE = 0.5


@dataclass(frozen=True)
class ShapesDataset:
    """``n`` binary images and, per image and column (SHAPES order), what was drawn where."""

    images: torch.Tensor  # (N, H, W) bool
    present: torch.Tensor  # (N, 3) bool
    anchors: torch.Tensor  # (N, 3, 2) int64 anchor (x, y) in panel coordinates (geometry's ranges); −1 if absent
    boxes: torch.Tensor  # (N, 3, 4) int64 (top, left, bottom, right) of the drawn pixels, inclusive; −1 if absent
    pixels: torch.Tensor  # (N, 3) int64 pixels drawn; 0 if absent
    resolution: int

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def model_input(self) -> torch.Tensor:
        """(N, H·W) float32 in {−1, 1}: the data space the diffusion models work in (black −1, white +1)."""
        return self.images.reshape(len(self), -1).float() * 2.0 - 1.0


def generate_shapes(
    n: int, resolution: int, generator: torch.Generator, *, presence: float = PRESENCE
) -> ShapesDataset:
    """Draw attempts in batches until ``n`` non-empty images are kept (in attempt order)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    geo = geometry(resolution)
    present_parts, anchor_parts, kept = [], [], 0
    while kept < n:
        attempts = n - kept + (n - kept) // 4 + 16  # 1/8 of attempts are empty: one batch nearly always suffices
        present, anchors = _draw_attempts(geo, attempts, presence, generator)
        keep = present.any(dim=1)
        present_parts.append(present[keep])
        anchor_parts.append(anchors[keep])
        kept += int(keep.sum())
    present = torch.cat(present_parts)[:n]
    anchors = torch.cat(anchor_parts)[:n]
    anchors[~present] = -1
    images, boxes, pixels = _paint(geo, present, anchors)
    return ShapesDataset(images, present, anchors, boxes, pixels, resolution)


def _draw_attempts(
    geo: Geometry, m: int, presence: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(m, 3) presence and (m, 3, 2) anchors (x, y) for m attempts; anchors are drawn for absent shapes too."""
    present = torch.rand((m, len(SHAPES)), generator=generator) < presence
    anchors = torch.empty((m, len(SHAPES), 2), dtype=torch.int64)
    for s, stamp in enumerate(geo.stamps):
        for axis, (lo, hi) in enumerate((stamp.x_range, stamp.y_range)):
            anchors[:, s, axis] = torch.randint(lo, hi + 1, (m,), generator=generator)
    return present, anchors


def _paint(geo: Geometry, present: torch.Tensor, anchors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Stamp every present shape, clipped to its panel; return images, boxes and pixel counts."""
    n, res = present.shape[0], geo.resolution
    images = torch.zeros((n, res, res), dtype=torch.bool)
    boxes = torch.full((n, len(SHAPES), 4), -1, dtype=torch.int64)
    pixels = torch.zeros((n, len(SHAPES)), dtype=torch.int64)
    for s, stamp in enumerate(geo.stamps):
        rows = present[:, s].nonzero().squeeze(1)  # (K,) images holding this shape
        dy, dx = (torch.from_numpy(v) for v in stamp.mask.nonzero())  # (P,) each: the stamp's pixels
        ys = anchors[rows, s, 1, None] + stamp.offset[0] + dy  # (K, P) panel coordinates
        xs = anchors[rows, s, 0, None] + stamp.offset[1] + dx
        inside = (ys >= 0) & (ys < geo.panel_height) & (xs >= 0) & (xs < geo.panel_width)
        xs = xs + s * geo.panel_width  # image coordinates
        images[rows[:, None].expand_as(ys)[inside], ys[inside], xs[inside]] = True
        big = torch.iinfo(torch.int64).max
        boxes[rows, s, 0] = ys.masked_fill(~inside, big).amin(dim=1)
        boxes[rows, s, 1] = xs.masked_fill(~inside, big).amin(dim=1)
        boxes[rows, s, 2] = ys.masked_fill(~inside, -1).amax(dim=1)
        boxes[rows, s, 3] = xs.masked_fill(~inside, -1).amax(dim=1)
        pixels[rows, s] = inside.sum(dim=1)
    return images, boxes, pixels
