"""What the catalog offers, as the API shows it: the named datasets and the presets (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from ..diffusion.config import StrictModel
from ..gaussian.config import ExperimentConfig, MixtureSpec
from ..store import RunKind


class DatasetView(StrictModel):
    name: str
    description: str
    dim: int
    mixture: MixtureSpec


class PresetView(StrictModel):
    id: str
    title: str
    description: str
    kind: RunKind
    config: ExperimentConfig
    # A bundled (pre-trained) model: its run id, ready to sample; metrics are the figures of its card.
    ready: bool = False
    run_id: str | None = None
    metrics: dict[str, Any] | None = None
