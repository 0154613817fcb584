"""A small Simple Shapes sample set with known contents, written as bench/sample_shapes_set.py writes the bundled one.

Rows 0 … d−1 are planted duplicates (two single-square training-style images OR-ed, squares far apart in height),
row d is empty, row d + 1 malformed (a solid block in the square column), the rest are generator images (valid).
The duplicates get the highest trajectory variance, so a working detector ranks them first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from server.shapes.config import ShapesConfig
from server.shapes.counting import DUPLICATE, EMPTY, MALFORMED, VALID, count_shapes
from server.shapes.generator import generate_shapes

RES = 32
TINY_SHAPES = ShapesConfig.model_validate({
    "data": {"resolution": RES, "n": 200, "seed": 2},
    "unet": {"channels": [4, 8]},
    "train": {"steps": 1, "batch": 8, "warmup": 0},
})


@dataclass(frozen=True)
class PlantedSet:
    images: np.ndarray  # (N, H·W) bool
    counts: np.ndarray  # (N, 3, 4)
    labels: np.ndarray  # (N,)
    variance: np.ndarray  # (N,)
    duplicates: int


def planted_set(n: int = 64, duplicates: int = 6, seed: int = 5) -> PlantedSet:
    images = generate_shapes(n, RES, torch.Generator().manual_seed(seed)).images.reshape(n, -1).numpy().copy()
    pool = generate_shapes(400, RES, torch.Generator().manual_seed(1))
    only_square = torch.nonzero(pool.present.eq(torch.tensor([False, True, False])).all(dim=1)).squeeze(1)
    order = only_square[torch.argsort(pool.boxes[only_square, 1, 0], stable=True)]  # by the square's top row
    flat = pool.images.reshape(len(pool), -1).numpy()
    for i in range(duplicates):  # the i-th highest square with the i-th lowest: far apart, never touching
        images[i] = flat[int(order[i])] | flat[int(order[-1 - i])]
    images[duplicates] = False
    block = np.zeros((RES, RES), dtype=bool)
    block[10:20, 11:19] = True  # 80 px in the square column: no stamp is that big
    images[duplicates + 1] = block.reshape(-1)
    counted = count_shapes(images, RES)
    expected = [DUPLICATE] * duplicates + [EMPTY, MALFORMED] + [VALID] * (n - duplicates - 2)
    assert counted.labels.tolist() == expected, counted.labels.tolist()
    rng = np.random.default_rng(seed)
    variance = rng.uniform(0.0, 1.0, n)
    variance[:duplicates] += 10.0
    return PlantedSet(images, counted.counts, counted.labels, variance, duplicates)


def write_sample_set(path: Path, planted: PlantedSet) -> None:
    """The bundled file's layout (reproduce.analyse_samples's ``arrays``), with the one score the views read."""
    np.savez_compressed(path, images=np.packbits(planted.images, axis=1), resolution=np.array(RES),
                        counts=planted.counts.astype(np.uint8), labels=planted.labels.astype(np.uint8),
                        trajectory_variance_k10=planted.variance.astype(np.float32))
