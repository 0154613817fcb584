"""A 2D map of the U-Net's bottleneck features: training images and generated ones, duplicates among them.

The paper's appendix embeds the bottleneck features with t-SNE and finds the two-square images between the "one
square at the top" and "one square at the bottom" clusters. Here: a seeded subsample of the training set and of a
bundled sample set (every duplicate kept, the rest drawn), features of the clean images at a small t
(``bottleneck.bottleneck_features``), standardised with the training points' mean and spread, then scikit-learn's
t-SNE (Barnes–Hut, PCA start, fixed random_state, one job): the same inputs give the same map.

"Between" on the map: for each duplicate, are its k nearest training points in 2D two single-shape modes at its
two shapes' heights (``bottleneck.duplicate_pairs`` and the same neighbourhood test), against k random training
points for the chance rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import torch
from annotated_types import Ge, Le
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from server.diffusion.config import StrictModel

from .bottleneck import BottleneckEvidence, _holds_both, bottleneck_features, duplicate_pairs
from .counting import DUPLICATE, count_shapes
from .generator import ShapesDataset
from .sample_set import SampleSet
from .set_statistics import categories
from .unet import UNet

TRAIN, GENERATED = 0, 1  # point sources
SOURCES = ("train", "generated")


class MapSettings(StrictModel):
    """Sizes and seeds of the map. The defaults (1,500 training + 1,000 generated points) take about 10 s on one
    core of the 2-core machine (t-SNE ≈ 8.5 s, features ≈ 1 s) and stay legible; t-SNE's cost grows as P log P."""

    train_n: Annotated[int, Ge(10), Le(20_000)] = 1500
    generated_n: Annotated[int, Ge(1), Le(20_000)] = 1000  # more when the set holds more duplicates: all are kept
    t: Annotated[int, Ge(0), Le(999)] = 10  # bottleneck.py's small t: the features of (nearly) clean images
    perplexity: Annotated[float, Ge(2), Le(100)] = 30.0
    k: Annotated[int, Ge(2), Le(100)] = 10  # neighbours of a duplicate on the map
    seed: Annotated[int, Ge(0), Le(2**31 - 1)] = 0


@dataclass(frozen=True)
class BottleneckMap:
    """P points, training points first; every array has P rows."""

    coords: np.ndarray  # (P, 2) float32 t-SNE coordinates
    source: np.ndarray  # (P,) uint8 index into SOURCES
    index: np.ndarray  # (P,) int32 row in the training set or in the sample set
    category: np.ndarray  # (P,) uint8 index into set_statistics.CATEGORIES
    label: np.ndarray  # (P,) uint8 index into counting.LABELS
    between: np.ndarray  # (P,) uint8 1 for a duplicate whose map neighbours hold both single-shape modes
    thumbnails: np.ndarray  # (P, H·W) uint8 0 / 255
    resolution: int
    evidence: BottleneckEvidence
    seconds: float  # features + t-SNE + neighbours, wall time

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as plain arrays (the cache file; ``from_arrays`` reads it back)."""
        e = self.evidence
        return {"coords": self.coords, "source": self.source, "index": self.index, "category": self.category,
                "label": self.label, "between": self.between, "thumbnails": np.packbits(self.thumbnails > 0, axis=1),
                "resolution": np.array(self.resolution), "seconds": np.array(self.seconds),
                "evidence": np.array([e.duplicates, e.between_modes, e.chance, e.k, e.t, e.tolerance])}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> BottleneckMap:
        """Inverse of ``arrays``; KeyError or ValueError when something is missing or misshapen."""
        resolution = int(a["resolution"])
        p = a["coords"].shape[0]
        dup, hits, chance, k, t, tol = (float(v) for v in a["evidence"])
        thumbs = np.unpackbits(a["thumbnails"], axis=1, count=resolution * resolution).astype(np.uint8) * 255
        out = cls(coords=a["coords"].astype(np.float32), source=a["source"].astype(np.uint8),
                  index=a["index"].astype(np.int32), category=a["category"].astype(np.uint8),
                  label=a["label"].astype(np.uint8), between=a["between"].astype(np.uint8), thumbnails=thumbs,
                  resolution=resolution, evidence=BottleneckEvidence(int(dup), int(hits), chance, int(k), int(t), tol),
                  seconds=float(a["seconds"]))
        if out.coords.shape != (p, 2) or any(v.shape != (p,) for v in (out.source, out.index, out.category,
                                                                        out.label, out.between)):
            raise ValueError("bottleneck map arrays disagree in length")
        if thumbs.shape != (p, resolution * resolution):
            raise ValueError("bottleneck map thumbnails are misshapen")
        return out

    def figures(self) -> dict[str, Any]:
        return {**self.evidence.as_dict(), "points": int(self.source.size),
                "train_points": int((self.source == TRAIN).sum()),
                "generated_points": int((self.source == GENERATED).sum()), "seconds": round(self.seconds, 2)}


def pick_generated(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted rows of the sample set: every duplicate, and the rest drawn to make ``n`` in all (when they fit)."""
    duplicates = np.flatnonzero(labels == DUPLICATE)
    others = np.flatnonzero(labels != DUPLICATE)
    extra = rng.choice(others, size=min(max(n - duplicates.size, 0), others.size), replace=False)
    return np.sort(np.concatenate([duplicates, extra]))


def between_on_map(coords: np.ndarray, train_rows: np.ndarray, train: ShapesDataset, samples: SampleSet,
                   generated_rows: np.ndarray, *, k: int, t: int, rng: np.random.Generator
                   ) -> tuple[BottleneckEvidence, np.ndarray]:
    """The neighbourhood test of bottleneck.py on the map: (evidence, (G,) bool per generated point)."""
    tolerance = 2.0 * train.resolution / 64
    n_train = train_rows.size
    flags = np.zeros(generated_rows.size, dtype=bool)
    dup_points = np.flatnonzero(samples.labels[generated_rows] == DUPLICATE)  # positions among generated points
    if dup_points.size == 0:
        return BottleneckEvidence(0, 0, float("nan"), k, t, tolerance), flags
    counts = count_shapes(samples.images[generated_rows[dup_points]], samples.resolution)  # components, boxes
    pairs = duplicate_pairs(counts, np.arange(dup_points.size))
    k = min(k, n_train)
    hits, chance = 0, 0
    for local, column, ya, yb in pairs:
        point = n_train + dup_points[local]
        dist = ((coords[:n_train] - coords[point]) ** 2).sum(axis=1)
        nearest = train_rows[np.argsort(dist, kind="stable")[:k]]
        flags[dup_points[local]] = _holds_both(nearest, train, column, ya, yb, tolerance)
        hits += int(flags[dup_points[local]])
        chance += _holds_both(rng.choice(train_rows, k, replace=False), train, column, ya, yb, tolerance)
    share = chance / len(pairs) if pairs else float("nan")
    return BottleneckEvidence(len(pairs), hits, share, k, t, tolerance), flags


def bottleneck_map(net: UNet, train: ShapesDataset, samples: SampleSet, settings: MapSettings | None = None,
                   *, threads: int = 1) -> BottleneckMap:
    """The map of ``settings`` (default ``MapSettings()``). ``threads``: torch's and t-SNE's OpenMP threads, set for
    the calling thread only."""
    s = settings or MapSettings()
    torch.set_num_threads(threads)
    start = time.perf_counter()
    rng = np.random.default_rng(s.seed)
    train_rows = np.sort(rng.choice(len(train), size=min(s.train_n, len(train)), replace=False))
    generated_rows = pick_generated(samples.labels, s.generated_n, rng)
    train_images = train.images.reshape(len(train), -1).numpy()[train_rows]  # (M, D) bool
    generated_images = samples.images[generated_rows]  # (G, D) bool
    train_feats = bottleneck_features(net, train_images, s.t)
    mean, std = train_feats.mean(axis=0), train_feats.std(axis=0) + 1e-8
    feats = (np.concatenate([train_feats, bottleneck_features(net, generated_images, s.t)]) - mean) / std
    perplexity = min(s.perplexity, (feats.shape[0] - 1) / 3)  # t-SNE needs perplexity < P
    # Barnes–Hut t-SNE's gradient runs on OpenMP threads (n_jobs is only its neighbour search): limited here, in
    # this thread, like torch's, so the map takes the share of the machine it was given.
    with threadpool_limits(limits=threads):
        coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=s.seed, n_jobs=1,
                      ).fit_transform(feats.astype(np.float32)).astype(np.float32)
    evidence, flags = between_on_map(coords, train_rows, train, samples, generated_rows, k=s.k, t=s.t, rng=rng)
    train_counts = count_shapes(train_images, train.resolution)
    source = np.r_[np.full(train_rows.size, TRAIN), np.full(generated_rows.size, GENERATED)].astype(np.uint8)
    return BottleneckMap(
        coords=coords, source=source, index=np.r_[train_rows, generated_rows].astype(np.int32),
        category=np.r_[categories(train_counts.counts, train_counts.labels),
                       categories(samples.counts[generated_rows], samples.labels[generated_rows])].astype(np.uint8),
        label=np.r_[train_counts.labels, samples.labels[generated_rows]].astype(np.uint8),
        between=np.r_[np.zeros(train_rows.size, dtype=bool), flags].astype(np.uint8),
        thumbnails=np.concatenate([train_images, generated_images]).astype(np.uint8) * 255,
        resolution=train.resolution, evidence=evidence, seconds=time.perf_counter() - start,
    )
