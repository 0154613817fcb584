"""A bundled Simple Shapes model's sample set: ``<name>-samples.npz`` next to ``<name>.safetensors``
(bench/sample_shapes_set.py writes it), the input of the shapes page's statistics and bottleneck map."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..shapes.config import ShapesConfig
from .bundled import BundledShapes

SAMPLES_SUFFIX = "-samples.npz"


@dataclass(frozen=True)
class BundledShapesSet:
    name: str  # file stem, e.g. "shapes32"
    run_id: str
    config: ShapesConfig
    model_path: Path  # the U-Net's weights (the store's copy)
    samples_path: Path


def samples_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.stem + SAMPLES_SUFFIX)


def find_shapes_set(models: list[BundledShapes], run_id: str, model_path: Path) -> BundledShapesSet | None:
    """The registered bundled shapes model with this run id, when it has a sample set; ``model_path``: where its
    weights are (the store's copy)."""
    for model in models:
        if model.run_id == run_id and (found := shapes_set_of(model, model_path)) is not None:
            return found
    return None


def shapes_set_of(model: BundledShapes, model_path: Path) -> BundledShapesSet | None:
    """``model`` with its sample set, when it has one (weights at ``model_path``, the store's copy)."""
    if not samples_path(model.path).is_file():
        return None
    return BundledShapesSet(model.name, model.run_id, model.config, model_path, samples_path(model.path))
