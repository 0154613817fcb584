"""The Simple Shapes page (``/shapes``): its bootstrap and route; ``/r/{id}`` of an image result renders it too.

The page samples the bundled shapes model (or its exact training-set denoiser, the "oracle" toggle) through the
same sample stream, result and permalink routes as the Gaussian explorer; everything it needs before its first
request is in the bootstrap: the shapes runs, the sampling defaults and limits, the event names, the lesson."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request, Response
from fastapi.responses import PlainTextResponse
from jinja2 import TemplateNotFound

from ...catalog import presets as catalog
from ...catalog import url_state
from ...catalog.lessons import shapes_lesson
from ...catalog.plotly_asset import plotly_url
from ...diffusion.config import SamplerConfig
from ...gaussian.config import DataConfig, ExperimentConfig
from ...settings import Settings
from ...store import RunRecord, Store
from ...streaming.encode import EVENT_NAMES

SHAPES_TITLE = "Simple Shapes 32×32 (images)"
KIND_TITLES = {"trained": "the bundled U-Net", "oracle": "the exact training-set denoiser (oracle)"}


def is_image_result(params: dict[str, Any]) -> bool:
    """An image result's parameters carry its chain length ``steps``; a Gaussian result's never do (spec)."""
    return "steps" in params


def _is_shapes_config(config_json: str) -> bool:
    """A shapes run's config has a ``unet`` section (a Gaussian ExperimentConfig has ``net``)."""
    try:
        return "unet" in json.loads(config_json)
    except (ValueError, TypeError):
        return False


def shapes_runs(request: Request) -> list[dict[str, Any]]:
    """The finished shapes runs the page can sample: trained ones first, then their exact denoisers."""
    store: Store = request.app.state.store
    records: list[RunRecord] = [r for r in store.recent(500)
                                if r.status == "done" and _is_shapes_config(r.config_json)]
    records.sort(key=lambda r: (r.kind != "trained", not r.pinned, r.run_id))
    return [{"run_id": r.run_id, "kind": r.kind, "pinned": r.pinned,
             "title": KIND_TITLES.get(r.kind, r.kind), "metrics": r.metrics or {}} for r in records]


def image_defaults(settings: Settings) -> dict[str, Any]:
    """What the page's form shows first; the server applies the same values to a request that omits a field."""
    steps = 100
    return {"n": 16, "seed": 0, "sampler": "ddpm", "eta": 0.0, "steps": steps, "window": 10, "frames": steps + 1}


def image_limits(settings: Settings) -> dict[str, Any]:
    return {"max_image_n": getattr(settings, "max_image_n", 64), "max_frames": settings.max_frames, "T": 1000,
            "steps_choices": [s for s in (10, 20, 25, 40, 50, 100, 125, 200, 250, 500, 1000) if 1000 % s == 0]}


def gaussian_links() -> list[dict[str, str]]:
    """The explorer's datasets, each with the address that opens the explorer on it (its URL hash)."""
    return [{"name": d.name, "title": f"{d.name} ({d.dim}D points)",
             "href": "/#" + url_state.encode(ExperimentConfig(data=DataConfig.model_validate({"dataset": d.name})),
                                                SamplerConfig())}
            for d in catalog.datasets()]


def shapes_bootstrap(request: Request, permalink: dict[str, Any] | None = None) -> dict[str, Any]:
    """``runs``: the shapes runs (trained first, then oracle); ``permalink``: on /r/{id}, the image result to replay
    (its ``links.events`` replays the stream); ``lesson``: the shapes lesson, steps as hashes of this page."""
    settings: Settings = request.app.state.settings
    return {
        "title": SHAPES_TITLE,
        "runs": shapes_runs(request),
        "defaults": image_defaults(settings),
        "limits": image_limits(settings),
        "events": EVENT_NAMES,
        "datasets": gaussian_links(),
        "lessons": [shapes_lesson()],
        "permalink": permalink,
    }


def shapes_page(request: Request, boot: dict[str, Any]) -> Response:
    templates = request.app.state.templates
    try:
        return templates.TemplateResponse(request, "shapes.html", {"plotly_src": plotly_url(), "bootstrap": boot})
    except TemplateNotFound:
        return PlainTextResponse("the page template (templates/shapes.html) is not installed", status_code=503)
