"""Which data family a stored run belongs to, and its config parsed strictly by that family's model.

A run's config is stored as canonical JSON without a family tag: a Simple Shapes config is the one with a ``unet``
section (``ShapesConfig``), every other one is a Gaussian-mixture experiment (``ExperimentConfig``). The API, the
denoiser cache, the sample request check and the reindex all decide through ``parse_config``, so no caller guesses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from safetensors import SafetensorError, safe_open

from ..gaussian.config import ExperimentConfig
from ..shapes.config import ShapesConfig

Family = Literal["gaussian", "shapes"]
RunConfig = ExperimentConfig | ShapesConfig
SHAPES_SECTION = "unet"  # the section only a Simple Shapes config has


def config_family(config_json: str) -> Family:
    """The family of a stored config (unparseable JSON counts as Gaussian: its strict parse then says what is wrong)."""
    try:
        value = json.loads(config_json)
    except ValueError:
        return "gaussian"
    return "shapes" if isinstance(value, dict) and SHAPES_SECTION in value else "gaussian"


def parse_config(config_json: str) -> RunConfig:
    """The stored config under its family's strict model; raises ``pydantic.ValidationError``."""
    if config_family(config_json) == "shapes":
        return ShapesConfig.model_validate_json(config_json)
    return ExperimentConfig.model_validate_json(config_json)


def family_of(config: RunConfig) -> Family:
    return "shapes" if isinstance(config, ShapesConfig) else "gaussian"


def checkpoint_family(path: Path) -> str | None:
    """A checkpoint's ``family`` metadata from its header alone (None: no tag, or not readable; a bad file fails
    later, where it is loaded)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return (handle.metadata() or {}).get("family")
    except (SafetensorError, OSError, ValueError):
        return None

