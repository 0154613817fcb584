"""What the lab offers: the named datasets, the presets, and the identity of a run.

A run is content-addressed: trained runs use ``ExperimentConfig.run_id()``; oracle runs (the exact
mixture denoiser) depend only on the data and the schedule, so their id hashes just those and their
stored config keeps the default net and training sections.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..diffusion.config import ALGO_VERSION, TrainConfig
from ..gaussian.config import ExperimentConfig
from ..gaussian.datasets import DATASET_DESCRIPTIONS, NAMED_MIXTURES
from ..gaussian.recipes import EXPERIMENT_NAMES, experiment
from ..settings import Settings
from ..store import RunKind
from .bundled import BundledModel
from .views import DatasetView, PresetView

_TITLES = {"1d-123": "1D · modes 1, 2, 3", "1d-1245": "1D · modes 1, 2, 4, 5", "grid25": "2D · 5×5 grid",
           "diamond25": "2D · rotated grid"}


def run_identity(kind: RunKind, config: ExperimentConfig) -> tuple[str, ExperimentConfig]:
    """(run_id, config as stored) for a run of ``kind``."""
    if kind == "trained":
        return config.run_id(), config
    oracle = ExperimentConfig(data=config.data, schedule=config.schedule)
    payload = {"data": oracle.data.model_dump(mode="json"), "schedule": oracle.schedule.model_dump(mode="json")}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"oracle/{ALGO_VERSION}/{canonical}".encode()).hexdigest()[:16], oracle


def datasets() -> list[DatasetView]:
    return [
        DatasetView(name=name, description=DATASET_DESCRIPTIONS[name], dim=spec.dim, mixture=spec)
        for name, spec in NAMED_MIXTURES.items()
    ]


def _quick(config: ExperimentConfig, settings: Settings) -> ExperimentConfig:
    """Fewer steps (and optionally a smaller batch) for live demos; validated like any config."""
    train = config.train.model_dump()
    train["steps"] = settings.quick_steps
    train["warmup"] = min(train["warmup"], settings.quick_steps // 10)
    if settings.quick_batch is not None:
        train["batch"] = settings.quick_batch
    return config.model_copy(update={"train": TrainConfig.model_validate(train)})


def presets(settings: Settings, bundled: list[BundledModel] | tuple[BundledModel, ...] = ()) -> list[PresetView]:
    """Oracle, the default CPU recipe, and a quick variant for each of the paper's experiments,
    plus the bundled models: one whose config is a preset's makes that preset ready; another is
    listed after its experiment's trained preset."""
    out: list[PresetView] = []
    for name in EXPERIMENT_NAMES:
        config = experiment(name)
        title, about = _TITLES[name], DATASET_DESCRIPTIONS[name]
        out.append(PresetView(id=f"{name}-oracle", title=f"{title} · exact denoiser", kind="oracle", config=config,
                              description=f"{about} The mixture's exact denoiser E[x0|xt]: no training; "
                                          "what a perfect network would sample."))
        out.append(PresetView(id=name, title=f"{title} · trained", kind="trained", config=config,
                              description=f"{about} The default CPU recipe ({config.train.steps} steps)."))
        quick = _quick(config, settings)
        out.append(PresetView(id=f"{name}-quick", title=f"{title} · quick", kind="trained", config=quick,
                              description=f"{about} A short run ({quick.train.steps} steps) for a live demo."))
    out = [p for p in out if p.kind == "oracle" or p.config.train.steps <= settings.max_train_steps]
    for model in bundled:
        out = _with_bundled(out, model)
    return out


def _with_bundled(presets: list[PresetView], model: BundledModel) -> list[PresetView]:
    ready: dict[str, Any] = {"ready": True, "run_id": model.run_id, "metrics": model.card or None}
    for i, preset in enumerate(presets):
        if preset.kind == "trained" and preset.config == model.config:
            return [*presets[:i], preset.model_copy(update={**ready, "title": bundled_title(model)}), *presets[i + 1:]]
    dataset = model.config.data.dataset
    view = PresetView(id=model.name, title=bundled_title(model), kind="trained", config=model.config,
                      description=bundled_description(model), **ready)
    after = max((i for i, p in enumerate(presets) if p.id in (dataset, f"{dataset}-quick")), default=len(presets) - 1)
    return [*presets[:after + 1], view, *presets[after + 1:]]


def bundled_title(model: BundledModel) -> str:
    """From the card: the experiment's title and the recipe it was trained with."""
    card = model.card
    if isinstance(card.get("title"), str):
        return card["title"]
    base = _TITLES.get(str(card.get("experiment", model.config.data.dataset)), model.name)
    recipe = card.get("recipe")
    return f"{base} · trained ({recipe} recipe, ready)" if isinstance(recipe, str) else f"{base} · trained (ready)"


def bundled_description(model: BundledModel) -> str:
    card, steps = model.card, model.run_metrics()["steps"]
    about = DATASET_DESCRIPTIONS.get(model.config.data.dataset, "")
    where = f" on {card['device']}" if isinstance(card.get("device"), str) else ""
    seconds = card.get("train_seconds")
    took = f" in {seconds:.0f} s" if isinstance(seconds, int | float) else ""
    return f"{about} Pre-trained: {steps} steps{where}{took}; ready to sample, no training wait.".strip()


def oracle_default() -> tuple[str, ExperimentConfig]:
    """The grid25 exact-denoiser run: the page's default when no bundled grid25 model exists."""
    return run_identity("oracle", experiment("grid25"))
