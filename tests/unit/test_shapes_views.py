"""The shapes page's statistics and bottleneck map on a planted sample set (tests/shapes_support.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from server.catalog.shapes_views import read_map_cache, write_map_cache
from server.shapes.bottleneck_map import GENERATED, TRAIN, BottleneckMap, MapSettings, between_on_map, bottleneck_map
from server.shapes.counting import DUPLICATE, VALID
from server.shapes.figures import COMBINATIONS, combination_index, wilson_interval
from server.shapes.generator import generate_shapes
from server.shapes.sample_set import SampleSet, SampleSetError, load_sample_set
from server.shapes.set_statistics import CATEGORIES, categories, set_statistics
from server.shapes.training import training_set
from server.shapes.unet import UNet
from tests.shapes_support import RES, TINY_SHAPES, planted_set, write_sample_set

SMALL_MAP = MapSettings(train_n=60, generated_n=30, perplexity=5, k=5)


@pytest.fixture(scope="module")
def sample_set(tmp_path_factory: pytest.TempPathFactory) -> SampleSet:
    path = tmp_path_factory.mktemp("set") / "tiny-samples.npz"
    write_sample_set(path, planted_set())
    return load_sample_set(path)


def test_the_loader_reads_back_what_was_written(sample_set: SampleSet) -> None:
    planted = planted_set()
    assert np.array_equal(sample_set.images, planted.images) and np.array_equal(sample_set.labels, planted.labels)
    assert np.allclose(sample_set.variance, planted.variance, rtol=1e-6) and sample_set.resolution == RES


def test_the_loader_names_what_is_wrong(tmp_path: Path) -> None:
    planted = planted_set()
    path = tmp_path / "bad-samples.npz"
    np.savez(path, images=np.packbits(planted.images, axis=1), resolution=np.array(RES), labels=planted.labels)
    with pytest.raises(SampleSetError, match="'counts'"):
        load_sample_set(path)
    np.savez(path, images=np.packbits(planted.images, axis=1)[:, :10], resolution=np.array(RES),
             counts=planted.counts, labels=planted.labels, trajectory_variance_k10=planted.variance)
    with pytest.raises(SampleSetError, match="'images' must have shape"):
        load_sample_set(path)
    np.savez(path, images=np.array([object()]))  # a pickled object array is never unpickled
    with pytest.raises(SampleSetError, match="unreadable"):
        load_sample_set(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(SampleSetError, match="unreadable"):
        load_sample_set(path)


def test_combination_index_matches_the_combination_names() -> None:
    present = np.array([[True, False, False], [True, True, False], [False, False, True], [True, True, True]])
    names = [COMBINATIONS[i] for i in combination_index(present)]
    assert names == ["triangle", "triangle+square", "pentagon", "triangle+square+pentagon"]


def test_shares_intervals_and_detector_direction(sample_set: SampleSet) -> None:
    train = generate_shapes(200, RES, torch.Generator().manual_seed(0))
    stats = set_statistics(sample_set, train, window=10)
    f = stats.figures
    n, d = len(sample_set), 6
    generated = f["label_shares"]["generated"]
    assert [generated[k]["count"] for k in ("valid", "duplicate", "malformed", "empty")] == [n - d - 2, d, 1, 1]
    low, high = wilson_interval(d, n)
    assert generated["duplicate"]["share"] == round(d / n, 4)
    assert generated["duplicate"]["ci95"] == [round(low, 4), round(high, 4)]
    assert f["label_shares"]["training"]["valid"]["count"] == 200  # the generator draws valid images only
    for side, total in (("training", 200), ("generated", n)):
        shares = f["category_shares"][side]
        assert list(shares) == list(CATEGORIES) and sum(s["count"] for s in shares.values()) == total
    # The valid generated images fall in their combinations, as the generator drew them (rows d + 2 … n − 1).
    drawn = generate_shapes(n, RES, torch.Generator().manual_seed(5)).present.numpy()[d + 2:]
    expected = np.bincount(combination_index(drawn), minlength=len(COMBINATIONS))
    got = [f["category_shares"]["generated"][name]["count"] for name in COMBINATIONS]
    assert got == expected.tolist()
    # Planted duplicates carry the highest variance: a perfect detector; reversed scores, the worst one.
    assert f["auroc"]["vs_rest"]["auroc"] == 1.0 and f["auroc"]["vs_rest"]["positives"] == d
    assert f["auroc"]["vs_valid"]["negatives"] == n - d - 2
    flipped = SampleSet(sample_set.images, sample_set.counts, sample_set.labels, -sample_set.variance, RES)
    assert set_statistics(flipped, train, window=10).figures["auroc"]["vs_rest"]["auroc"] == 0.0
    assert stats.roc["fpr"][0] == 0.0 and stats.roc["tpr"][-1] == 1.0
    assert stats.labels.dtype == np.uint8 and stats.variance.shape == (n,)
    assert stats.categories[0] == CATEGORIES.index("duplicate")


def test_without_duplicates_there_is_no_auroc(sample_set: SampleSet) -> None:
    keep = sample_set.labels != DUPLICATE
    clean = SampleSet(sample_set.images[keep], sample_set.counts[keep], sample_set.labels[keep],
                      sample_set.variance[keep], RES)
    stats = set_statistics(clean, generate_shapes(50, RES, torch.Generator().manual_seed(0)), window=10)
    assert stats.figures["auroc"] == {"vs_rest": None, "vs_valid": None} and stats.roc["fpr"].size == 0


def test_categories_put_valid_images_in_combinations_and_others_in_labels(sample_set: SampleSet) -> None:
    codes = categories(sample_set.counts, sample_set.labels)
    names = [CATEGORIES[c] for c in codes[:8]]
    assert names[:6] == ["duplicate"] * 6 and names[6:] == ["empty", "malformed"]
    assert all(CATEGORIES[c] in COMBINATIONS for c in codes[sample_set.labels == VALID])


def _map(sample_set: SampleSet, settings: MapSettings = SMALL_MAP) -> BottleneckMap:
    net = UNet(TINY_SHAPES.unet, RES, torch.Generator().manual_seed(0))
    return bottleneck_map(net, training_set(TINY_SHAPES.data), sample_set, settings)


def test_the_map_is_deterministic_and_keeps_every_duplicate(sample_set: SampleSet) -> None:
    first, second = _map(sample_set), _map(sample_set)
    p = 60 + 30
    assert first.coords.shape == (p, 2) and first.thumbnails.shape == (p, RES * RES)
    assert np.array_equal(first.coords, second.coords) and np.array_equal(first.index, second.index)
    assert (first.source == TRAIN).sum() == 60 and (first.source == GENERATED).sum() == 30
    generated = first.index[first.source == GENERATED]
    assert set(np.flatnonzero(sample_set.labels == DUPLICATE)) <= set(generated.tolist())
    assert np.array_equal(first.thumbnails[first.source == GENERATED] > 0, sample_set.images[generated])
    assert first.evidence.duplicates == 6 and not first.between[first.label != DUPLICATE].any()
    other_seed = _map(sample_set, SMALL_MAP.model_copy(update={"seed": 1}))
    assert not np.array_equal(other_seed.index, first.index)
    # More duplicates than generated points asked for: every duplicate is still there.
    few = _map(sample_set, SMALL_MAP.model_copy(update={"generated_n": 2}))
    assert (few.label[few.source == GENERATED] == DUPLICATE).sum() == 6


def test_between_on_the_map_finds_the_two_modes(sample_set: SampleSet) -> None:
    """Place the first duplicate's two source images (single squares at its two heights) right next to it on a
    hand-made map: it is between its modes; with two square-free images nearest instead, it is not."""
    pool = generate_shapes(400, RES, torch.Generator().manual_seed(1))  # the pool tests/shapes_support.py OR-s
    flat = pool.images.reshape(len(pool), -1).numpy()
    sources = [i for i in range(len(pool)) if (flat[i] & sample_set.images[0]).sum() == flat[i].sum()
               and pool.present[i].tolist() == [False, True, False]]
    assert len(sources) >= 2
    train_rows = np.arange(len(pool))
    generated_rows = np.array([0])
    coords = np.random.default_rng(0).uniform(100, 200, (len(pool) + 1, 2))
    coords[sources[:2]] = [[0.0, 0.0], [0.0, 1.0]]
    coords[-1] = [0.0, 0.5]
    rng = np.random.default_rng(0)
    evidence, flags = between_on_map(coords, train_rows, pool, sample_set, generated_rows, k=2, t=10, rng=rng)
    assert evidence.duplicates == 1 and evidence.between_modes == 1 and flags.tolist() == [True]
    no_square = np.flatnonzero(~pool.present[:, 1].numpy())[:2]
    coords[sources[:2]] = [[100.0, 100.0], [100.0, 101.0]]
    coords[no_square] = [[0.0, 0.0], [0.0, 1.0]]  # the nearest two now hold no square at all
    evidence, flags = between_on_map(coords, train_rows, pool, sample_set, generated_rows, k=2, t=10, rng=rng)
    assert evidence.between_modes == 0 and flags.tolist() == [False]


def test_the_map_cache_replays_and_refuses_other_inputs(sample_set: SampleSet, tmp_path: Path) -> None:
    result = _map(sample_set)
    path = tmp_path / "map.npz"
    write_map_cache(path, result, "a" * 64, SMALL_MAP)
    again = read_map_cache(path, "a" * 64, SMALL_MAP)
    assert again is not None and np.array_equal(again.coords, result.coords)
    assert np.array_equal(again.thumbnails, result.thumbnails) and again.evidence == result.evidence
    assert read_map_cache(path, "b" * 64, SMALL_MAP) is None  # another sample set
    assert read_map_cache(path, "a" * 64, SMALL_MAP.model_copy(update={"seed": 3})) is None
    path.write_bytes(path.read_bytes()[:200])  # damaged
    assert read_map_cache(path, "a" * 64, SMALL_MAP) is None
