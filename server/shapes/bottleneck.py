"""Are duplicates interpolations between modes? Their neighbours in the U-Net's bottleneck features.

For a duplicate image (two shapes of one kind in one column, at heights y_a and y_b), take its k nearest training
images in the space of ``UNet.bottleneck`` features at a small t (clean images, Euclidean distance on features
standardised over the training set). The duplicate is "between the modes" when those neighbours include a training
image with that shape in that column at height y_a and another at y_b (each within ``tolerance`` pixels; training
images hold at most one shape per column, so each such neighbour is the single-shape mode at that height). The paper's
appendix t-SNE shows the two-square images between the "square at the top" and "square at the bottom" clusters.

The same check on k random training images per duplicate gives the chance rate the share must beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .counting import MALFORMED_KIND, ShapeCounts
from .generator import ShapesDataset
from .unet import UNet


@torch.inference_mode()
def bottleneck_features(net: UNet, images: np.ndarray, t: int, *, chunk: int = 256) -> np.ndarray:
    """images (N, D) real or bool (on when > 0) → (N, C_last) bottleneck features of the clean ±1 images at t."""
    res = net.resolution
    out = []
    for start in range(0, images.shape[0], chunk):
        on = np.asarray(images[start:start + chunk]) > 0
        x = torch.from_numpy(np.where(on, 1.0, -1.0).astype(np.float32)).reshape(-1, 1, res, res)
        out.append(net.bottleneck(x, torch.tensor([t])).numpy())
    return np.concatenate(out)


def duplicate_pairs(counts: ShapeCounts, index: np.ndarray) -> list[tuple[int, int, float, float]]:
    """For each image in ``index``: (image, column, y_a, y_b), the box-centre heights of the first two same-kind
    shapes in the first column holding two or more of one kind."""
    comps = counts.components
    out = []
    for i in index:
        dup = np.argwhere(counts.counts[i, :, :MALFORMED_KIND] >= 2)  # (c, kind) pairs
        if dup.size == 0:
            continue
        column, kind = int(dup[0, 0]), int(dup[0, 1])
        rows = np.flatnonzero((comps.image == i) & (comps.column == column) & (comps.kind == kind))[:2]
        ys = (comps.box[rows, 0] + comps.box[rows, 2]) / 2.0
        out.append((int(i), column, float(ys[0]), float(ys[1])))
    return out


@dataclass(frozen=True)
class BottleneckEvidence:
    duplicates: int
    between_modes: int  # duplicates whose k bottleneck neighbours hold both single-shape modes
    chance: float  # mean share for k random training images
    k: int
    t: int
    tolerance: float

    def as_dict(self) -> dict[str, object]:
        share = self.between_modes / self.duplicates if self.duplicates else float("nan")
        return {"duplicates": self.duplicates, "between_modes": self.between_modes, "share": round(share, 4),
                "chance_share": round(self.chance, 4), "k": self.k, "t": self.t, "tolerance_px": self.tolerance}


def _holds_both(neighbours: np.ndarray, train: ShapesDataset, column: int, ya: float, yb: float, tol: float) -> bool:
    present = train.present[neighbours, column].numpy()
    box = train.boxes[neighbours, column].numpy()
    centre = (box[:, 0] + box[:, 2]) / 2.0
    return bool((present & (np.abs(centre - ya) <= tol)).any() and (present & (np.abs(centre - yb) <= tol)).any())


def bottleneck_evidence(net: UNet, train: ShapesDataset, samples: np.ndarray, counts: ShapeCounts,
                        duplicates: np.ndarray, *, t: int = 10, k: int = 10, seed: int = 0) -> BottleneckEvidence:
    """``duplicates``: indices into ``samples`` of the images labelled duplicate."""
    tolerance = 2.0 * train.resolution / 64  # 2 px at 64×64, 1 px at 32×32
    train_feats = bottleneck_features(net, train.images.reshape(len(train), -1).numpy(), t)  # (M, C)
    mean, std = train_feats.mean(axis=0), train_feats.std(axis=0) + 1e-8
    train_z = (train_feats - mean) / std
    pairs = duplicate_pairs(counts, duplicates)
    if not pairs:
        return BottleneckEvidence(0, 0, float("nan"), k, t, tolerance)
    dup_z = (bottleneck_features(net, samples[[p[0] for p in pairs]], t) - mean) / std  # (P, C)
    dist = ((dup_z[:, None, :] - train_z[None, :, :]) ** 2).sum(axis=2)  # (P, M)
    nearest = np.argsort(dist, axis=1)[:, :k]
    rng = np.random.default_rng(seed)
    hits, chance = 0, 0
    for row, (_, column, ya, yb) in enumerate(pairs):
        hits += _holds_both(nearest[row], train, column, ya, yb, tolerance)
        chance += _holds_both(rng.choice(len(train), k, replace=False), train, column, ya, yb, tolerance)
    return BottleneckEvidence(len(pairs), hits, chance / len(pairs), k, t, tolerance)
