"""Which bundled Simple Shapes model a run id names, and where its sample set is.

A bundled image model is ``<models_dir>/<name>.safetensors`` with family "shapes" in its header and its sample set
next to it as ``<name>-samples.npz`` (bench/sample_shapes_set.py). The run id is the header's config's
``ShapesConfig.run_id()``; only the header is read (no weights), and a file whose config does not parse under this
version, or whose stated run id disagrees with its config, names no run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from safetensors import SafetensorError, safe_open

from ..diffusion.config import ALGO_VERSION
from ..shapes.checkpoint import FAMILY
from ..shapes.config import ShapesConfig

SAMPLES_SUFFIX = "-samples.npz"


@dataclass(frozen=True)
class BundledShapesSet:
    name: str  # file stem, e.g. "shapes32"
    run_id: str
    config: ShapesConfig
    model_path: Path
    samples_path: Path


def _header(path: Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError):
        return {}


def _bundled(path: Path) -> BundledShapesSet | None:
    header = _header(path)
    if header.get("family") != FAMILY or header.get("algo_version") != ALGO_VERSION:
        return None
    try:
        config = ShapesConfig.model_validate_json(header.get("config", ""))
    except ValidationError:
        return None
    if header.get("run_id") not in (None, config.run_id()):
        return None
    return BundledShapesSet(path.stem, config.run_id(), config, path, path.with_name(path.stem + SAMPLES_SUFFIX))


def shapes_sets(models_dir: Path) -> list[BundledShapesSet]:
    """Every bundled shapes model with a sample set, by file name; one per run id (the first file wins)."""
    if not models_dir.is_dir():
        return []
    found: dict[str, BundledShapesSet] = {}
    for path in sorted(models_dir.glob("*.safetensors"), key=lambda p: p.stem):
        bundled = _bundled(path)
        if bundled is not None and bundled.samples_path.is_file():
            found.setdefault(bundled.run_id, bundled)
    return list(found.values())


def find_shapes_set(models_dir: Path, run_id: str) -> BundledShapesSet | None:
    """The bundled shapes model with this run id that has a sample set, if any."""
    return next((s for s in shapes_sets(models_dir) if s.run_id == run_id), None)
