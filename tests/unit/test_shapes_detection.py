"""Image detectors, intervals and the bottleneck-neighbour check on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import torch

from server.shapes.bottleneck import _holds_both, bottleneck_evidence, duplicate_pairs
from server.shapes.config import ShapesConfig
from server.shapes.counting import DUPLICATE, count_shapes
from server.shapes.detection import detector_figures, nearest_train_distance, trajectory_variance_by_window
from server.shapes.figures import combination_shares, wilson_interval
from server.shapes.generator import generate_shapes
from server.shapes.unet import UNet


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(0, 256)
    assert low == 0.0 and abs(high - 3.8415 / (256 + 3.8415)) < 1e-4  # z² / (n + z²) at k = 0
    low, high = wilson_interval(80, 2048)
    assert abs(low - 0.03150) < 2e-5 and abs(high - 0.04835) < 2e-5  # by hand from the closed form


def test_nearest_train_distance_counts_differing_pixels() -> None:
    train = np.zeros((3, 16), dtype=bool)
    train[1, :4] = True
    train[2, 8:] = True
    sample = np.where(train[2], 1.0, -1.0)[None].repeat(2, axis=0)
    sample[1, :3] = 0.7  # three pixels switched on: still nearest to image 2, three pixels away
    assert nearest_train_distance(sample, train).tolist() == [0.0, 3.0]


def test_trajectory_variance_uses_the_last_k_steps() -> None:
    x0 = np.zeros((2, 4, 3))
    x0[0, 0] = 5.0  # image 0 moves only at the first kept step: invisible to the last 2 and 3 steps
    out = trajectory_variance_by_window(x0, [2, 3, 4, 9])
    assert sorted(out) == [2, 3, 4] and out[2][0] == 0 and out[3][0] == 0 and out[4][0] > 0


def test_detector_figures_on_a_perfect_score() -> None:
    positive = np.array([False] * 50 + [True] * 5)
    figures = detector_figures(np.arange(55.0), positive)
    assert figures.auroc == 1.0 and figures.removed_at_96_kept == 1.0 and figures.auroc_ci95[1] == 1.0
    assert figures.roc_fpr[0] == 0.0 and figures.roc_tpr[-1] == 1.0 and len(figures.roc_fpr) == 101


def test_combination_shares_sum_to_one() -> None:
    data = generate_shapes(700, 32, torch.Generator().manual_seed(0))
    shares = combination_shares(data.present.numpy())
    assert len(shares) == 7 and abs(sum(shares.values()) - 1) < 1e-3


def test_two_single_square_images_make_a_duplicate_between_their_modes() -> None:
    """OR two training images that hold only a square, at different heights: the counter calls it a duplicate,
    its two heights are those squares', and a neighbourhood holding both images passes the check."""
    data = generate_shapes(400, 32, torch.Generator().manual_seed(1))
    only_square = torch.nonzero(data.present.eq(torch.tensor([False, True, False])).all(dim=1)).squeeze(1)
    centres = (data.boxes[only_square, 1, 0] + data.boxes[only_square, 1, 2]).double() / 2
    a = int(only_square[centres.argmin()])
    b = int(only_square[centres.argmax()])
    image = (data.images[a] | data.images[b]).reshape(1, -1).numpy()
    counts = count_shapes(image, 32)
    assert counts.labels.tolist() == [DUPLICATE]
    ((_, column, ya, yb),) = duplicate_pairs(counts, np.array([0]))
    expected = sorted(float(data.boxes[i, 1, 0] + data.boxes[i, 1, 2]) / 2 for i in (a, b))
    assert column == 1 and sorted([ya, yb]) == expected
    assert _holds_both(np.array([a, b]), data, column, ya, yb, 1.0)
    assert not _holds_both(np.array([a, a]), data, column, ya, yb, 1.0)
    config = ShapesConfig.model_validate({"data": {"resolution": 32, "n": 400, "seed": 1},
                                          "unet": {"channels": [4, 8]}})
    evidence = bottleneck_evidence(UNet(config.unet, 32), data, image, counts, np.array([0]), k=5)
    assert evidence.duplicates == 1 and evidence.between_modes in (0, 1) and 0 <= evidence.chance <= 1
