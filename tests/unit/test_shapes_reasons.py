"""The words under an image: each label's reason names what the counter found, duplicates first."""

from __future__ import annotations

import numpy as np

from server.shapes.counting import DUPLICATE, EMPTY, KINDS, MALFORMED, VALID, _labels
from server.shapes.geometry import SHAPES
from server.shapes.reasons import image_reason, image_reasons


def counts_of(*found: tuple[str, str, int]) -> np.ndarray:
    """(3, 4) counts from (column, kind, how many) triples."""
    counts = np.zeros((len(SHAPES), len(KINDS)), dtype=np.int64)
    for column, kind, k in found:
        counts[SHAPES.index(column), KINDS.index(kind)] = k
    return counts


def test_each_label_in_words() -> None:
    cases = [
        (counts_of(("square", "square", 2)), DUPLICATE, "two squares in the square column"),
        (counts_of(("triangle", "malformed", 1)), MALFORMED, "a malformed shape in the triangle column"),
        (counts_of(("triangle", "square", 1)), MALFORMED, "a square in the triangle column"),
        (counts_of(), EMPTY, "no shape"),
        (counts_of(("triangle", "triangle", 1), ("pentagon", "pentagon", 1)), VALID,
         "one triangle and one pentagon: a combination in the training set"),
        (counts_of(("triangle", "triangle", 1), ("square", "square", 1), ("pentagon", "pentagon", 1)), VALID,
         "one triangle, one square and one pentagon: a combination in the training set"),
        # Both faults: the duplicate (what decides the label) is named first.
        (counts_of(("triangle", "malformed", 3), ("pentagon", "pentagon", 2)), DUPLICATE,
         "two pentagons in the pentagon column; three malformed shapes in the triangle column"),
    ]
    for counts, label, words in cases:
        assert _labels(counts[None])[0] == label, words  # the case is labelled as the reason assumes
        assert image_reason(counts, label) == words


def test_one_reason_per_image() -> None:
    counts = np.stack([counts_of(), counts_of(("square", "square", 1))])
    assert image_reasons(counts, _labels(counts)) == ["no shape", "one square: a combination in the training set"]
