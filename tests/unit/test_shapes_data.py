"""Simple Shapes data: the geometry of paper.md §3.6, the seeded generator and its metadata, and the shape counter,
which must agree with the metadata on every one of 5,000 generated images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from server.shapes.counting import DUPLICATE, EMPTY, KINDS, LABELS, MALFORMED, MALFORMED_KIND, VALID, count_shapes
from server.shapes.generator import generate_shapes
from server.shapes.geometry import SHAPES, geometry, rasterize


def test_geometry_at_64_is_the_papers() -> None:
    geo = geometry(64)
    assert (geo.panel_width, geo.panel_height) == (21, 63)
    triangle, square, pentagon = geo.stamps
    assert square.pixels == 64 and square.mask.shape == (8, 8) and square.mask.all()
    assert triangle.pixels == 65 and triangle.mask.shape == (10, 12)  # side 11 (12 px wide), apex 9 rows down
    assert triangle.mask[0].all() and triangle.mask[-1].sum() == 1  # flat top, pointing down
    assert pentagon.pixels == 70 and pentagon.mask.shape == (10, 11)
    assert square.x_range == (1, 7) and square.y_range == (1, 49)
    assert triangle.x_range == (0, 10) and triangle.y_range == (0, 52)
    assert pentagon.x_range == (5, 16) and pentagon.y_range == (5, 58)
    assert [geo.column_bounds(c) for c in range(3)] == [(0, 21), (21, 42), (42, 64)]


def test_geometry_at_32_scales_by_half() -> None:
    geo = geometry(32)
    assert (geo.panel_width, geo.panel_height) == (10, 31)
    assert [s.pixels for s in geo.stamps] == [16, 16, 23]
    assert geo.stamps[1].mask.shape == (4, 4)
    with pytest.raises(ValueError, match="resolution"):
        geometry(48)


def test_rasterize_fills_rows_between_rounded_edges() -> None:
    # Rows of the small triangle (3,3)-(8,3)-(5,7): edge crossings at .5 round inwards on both sides.
    mask = rasterize([(3, 3), (8, 3), (5, 7)], 10, 10)
    assert [int(r.sum()) for r in mask[3:8]] == [6, 4, 3, 2, 1]
    assert mask[4, 4:8].all() and not mask[4, 3] and not mask[4, 8]
    clipped = rasterize([(7, 0), (12, 0), (12, 5), (7, 5)], 10, 10)  # half outside the canvas
    assert clipped.sum() == 3 * 6


@pytest.mark.parametrize("resolution", [64, 32])
def test_generator_layout_and_metadata(resolution: int) -> None:
    data = generate_shapes(2000, resolution, torch.Generator().manual_seed(1))
    geo = geometry(resolution)
    assert data.images.shape == (2000, resolution, resolution) and len(data) == 2000
    assert bool(data.present.any(dim=1).all())  # empty draws are discarded
    for s, stamp in enumerate(geo.stamps):
        x0, x1 = geo.column_bounds(s)
        column = data.images[:, :, x0:x1].flatten(1).sum(dim=1)
        assert torch.equal(column, data.pixels[:, s])  # each column holds exactly its own shape's pixels
        present = data.present[:, s]
        px = data.pixels[present, s]
        assert set(px.tolist()) <= {stamp.pixels, stamp.pixels - 1}  # whole, or one column cut at the panel edge
        assert bool((data.anchors[present, s, 0] >= stamp.x_range[0]).all())
        assert bool((data.anchors[present, s, 1] <= stamp.y_range[1]).all())
        assert bool((data.anchors[~present, s] == -1).all()) and bool((data.pixels[~present, s] == 0).all())
    if resolution == 64:
        assert not data.images[:, 63, :].any() and not data.images[:, :, 63].any()  # the black margin
    x = data.model_input()
    assert x.shape == (2000, resolution * resolution) and set(x.unique().tolist()) == {-1.0, 1.0}


def test_generator_statistics_follow_the_specification() -> None:
    data = generate_shapes(5000, 64, torch.Generator().manual_seed(2))
    # Each shape in 4/7 of kept images; 1, 2, 3 shapes in 3/7, 3/7, 1/7 (binomial standard errors ≈ 0.007).
    assert np.allclose(data.present.float().mean(dim=0).numpy(), 4 / 7, atol=0.03)
    shares = torch.bincount(data.present.sum(dim=1), minlength=4)[1:].float() / 5000
    assert np.allclose(shares.numpy(), [3 / 7, 3 / 7, 1 / 7], atol=0.03)
    # Positions are uniform over the whole range: top and bottom of each column are both used.
    for s, stamp in enumerate(geometry(64).stamps):
        ys = data.anchors[data.present[:, s], s, 1]
        assert int(ys.min()) == stamp.y_range[0] and int(ys.max()) == stamp.y_range[1]


def test_generator_is_seeded() -> None:
    a = generate_shapes(300, 32, torch.Generator().manual_seed(5))
    b = generate_shapes(300, 32, torch.Generator().manual_seed(5))
    c = generate_shapes(300, 32, torch.Generator().manual_seed(6))
    assert torch.equal(a.images, b.images) and torch.equal(a.anchors, b.anchors)
    assert not torch.equal(a.images, c.images)
    with pytest.raises(ValueError, match="n must be"):
        generate_shapes(0, 64, torch.Generator())


@pytest.mark.parametrize("resolution", [64, 32])
def test_counter_agrees_with_metadata_on_5000_images(resolution: int) -> None:
    data = generate_shapes(5000, resolution, torch.Generator().manual_seed(3))
    counts = count_shapes(data.images, resolution)
    assert (counts.labels == VALID).all()
    own = counts.counts[:, [0, 1, 2], [0, 1, 2]]  # (N, 3): shapes of each column's own kind
    assert np.array_equal(own, data.present.numpy().astype(np.int64))
    assert counts.counts.sum() == int(data.present.sum())  # nothing else: no malformed, no misplaced
    comps = counts.components
    expected = data.boxes[data.present].numpy()  # (M, 4) in image, then column order, as the components
    assert np.array_equal(comps.box, expected)
    assert np.array_equal(comps.area, data.pixels[data.present].numpy())
    assert np.array_equal(comps.kind, comps.column)
    # Model units and flattened input count the same.
    again = count_shapes(data.model_input()[:500], resolution)
    assert np.array_equal(again.counts, counts.counts[:500])


def _blank(n: int = 1) -> np.ndarray:
    return np.zeros((n, 64, 64), dtype=bool)


def _put(image: np.ndarray, column: int, kind: int, x: int, y: int) -> None:
    """Stamp shape ``kind`` with its anchor at panel (x, y) of ``column``, cut at the panel's right edge."""
    stamp = geometry(64).stamps[kind]
    dy, dx = stamp.mask.nonzero()
    px = x + stamp.offset[1] + dx
    image[(y + stamp.offset[0] + dy)[px < 21], column * 21 + px[px < 21]] = True


def test_counter_labels_hand_made_images() -> None:
    images = _blank(7)
    _put(images[0], 1, 1, 3, 5)
    _put(images[0], 1, 1, 3, 40)  # two squares in the square column: the paper's hallucination
    _put(images[1], 0, 0, 2, 10)
    _put(images[1], 2, 2, 8, 30)  # triangle + pentagon: valid
    images[2, 10:14, 25:40] = True  # a 4×15 bar in the square column: no shape
    _put(images[3], 0, 1, 4, 20)  # a square in the triangle column
    images[5, 30:32, 30:32] = True  # a 4-px speck, under the floor: nothing there
    _put(images[6], 2, 2, 8, 8)
    _put(images[6], 2, 2, 8, 40)
    images[6, 20:25, 0:15] = True  # a malformed blob too; the duplicate wins
    counts = count_shapes(images, 64)
    assert [LABELS[i] for i in counts.labels] == [
        "duplicate", "valid", "malformed", "malformed", "empty", "empty", "duplicate"]
    assert counts.counts[0, 1].tolist() == [0, 2, 0, 0]
    assert counts.counts[2, 1, MALFORMED_KIND] == 1 and counts.counts[3, 0].tolist() == [0, 1, 0, 0]
    assert counts.counts[6, 2, KINDS.index("pentagon")] == 2
    assert counts.share(DUPLICATE) == pytest.approx(2 / 7) and counts.share(EMPTY) == pytest.approx(2 / 7)
    assert counts.share(MALFORMED) == pytest.approx(2 / 7)


def test_counter_keeps_columns_apart_and_tolerates_soft_shapes() -> None:
    images = _blank(2)
    _put(images[0], 0, 0, 10, 5)  # a triangle cut at the panel edge ...
    images[0, 5:13, 21] = True  # ... touching a bar in the square column's first pixel column
    _put(images[1], 1, 1, 3, 20)
    images[1, [20, 20, 27, 27], [24, 31, 24, 31]] = False  # a square with rounded corners
    counts = count_shapes(images.astype(np.float32) * 2 - 1, 64)
    assert counts.counts[0, 0].tolist() == [1, 0, 0, 0] and counts.counts[0, 1, MALFORMED_KIND] == 1
    assert counts.counts[1].sum() == 1 and counts.counts[1, 1, 1] == 1 and counts.labels[1] == VALID
    assert SHAPES == KINDS[:3]
