"""Why an image got its label, in words: what the page shows under an outlined image and reads to screen readers.

From the counter's per-column kind counts (``counting.count_shapes``): "two squares in the square column", "a
malformed shape in the triangle column", "a pentagon in the square column", "no shape", "one triangle and one
pentagon: a combination in the training set". The words follow the label rule of ``counting`` (duplicates first).
"""

from __future__ import annotations

import numpy as np

from .counting import EMPTY, KINDS, MALFORMED_KIND, VALID
from .geometry import SHAPES

_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _count(k: int, noun: str, *, one: str = "a") -> str:
    word = one if k == 1 else _WORDS[k] if k < len(_WORDS) else str(k)
    return f"{word} {noun}" if k == 1 else f"{word} {noun}s"


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def image_reason(counts: np.ndarray, label: int) -> str:
    """counts (3, 4): per column (``SHAPES``) and kind (``KINDS``), the components found; ``label`` its label."""
    if label == EMPTY:
        return "no shape"
    if label == VALID:
        shapes = [_count(1, shape, one="one") for c, shape in enumerate(SHAPES) if counts[c, c]]
        return f"{_and(shapes)}: a combination in the training set"
    repeated, odd = [], []  # a kind twice or more in one column; a malformed or misplaced shape
    for c, column in enumerate(SHAPES):
        for k, kind in enumerate(KINDS):
            m = int(counts[c, k])
            if not m:
                continue
            where = f"in the {column} column"
            if k == MALFORMED_KIND:
                odd.append(f"{_count(m, 'malformed shape')} {where}")
            elif m >= 2:
                repeated.append(f"{_count(m, kind)} {where}")
            elif k != c:
                odd.append(f"{_count(m, kind)} {where}")
    return "; ".join(repeated + odd)


def image_reasons(counts: np.ndarray, labels: np.ndarray) -> list[str]:
    """counts (N, 3, 4), labels (N,) → one reason per image."""
    return [image_reason(counts[i], int(labels[i])) for i in range(labels.shape[0])]
