"""The Simple Shapes page (``/shapes``): its bootstrap and route; ``/r/{id}`` of an image result renders it too.

The page samples the bundled shapes model (or its exact training-set denoiser, the "oracle" toggle) through the
same sample stream, result and permalink routes as the Gaussian explorer; everything it needs before its first
request is in the bootstrap: the shapes runs, the sampling defaults and limits, the event names, the lesson."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import PlainTextResponse
from jinja2 import TemplateNotFound

from ...catalog import presets as catalog
from ...catalog import url_state
from ...catalog.lessons import SHAPES_LESSON, shapes_lesson
from ...catalog.plotly_asset import plotly_url
from ...diffusion.config import SamplerConfig
from ...gaussian.config import DataConfig, ExperimentConfig
from ...settings import Settings
from ...shapes.presets import SHAPES_SAMPLING
from ...streaming.encode import EVENT_NAMES


def is_image_result(params: dict[str, Any]) -> bool:
    """An image result's parameters carry its chain length ``steps``; a Gaussian result's never do (spec)."""
    return "steps" in params


def shapes_runs(request: Request) -> list[dict[str, Any]]:
    """The bundled Simple Shapes models' runs the page samples: each trained U-Net, then its exact denoiser."""
    runs: list[dict[str, Any]] = []
    for model in getattr(request.app.state, "bundled_shapes", []):
        view = model.view()
        common = {"name": view["name"], "resolution": view["resolution"], "T": view["T"], "card": view["card"]}
        runs.append({**common, "run_id": view["run_id"], "kind": "trained", "title": view["title"]})
        runs.append({**common, "run_id": view["oracle_run_id"], "kind": "oracle",
                     "title": f"{view['title']}: exact training-set denoiser"})
    return sorted(runs, key=lambda r: r["kind"] != "trained")


def image_defaults() -> dict[str, Any]:
    """The page's first request: the server's own default image request (``presets.SHAPES_SAMPLING``)."""
    return SHAPES_SAMPLING.query()


def image_limits(settings: Settings, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """``settings.limits()`` (``max_image_n`` among them) plus the chain lengths an image request may ask for: the
    divisors of the runs' T (the server also wants ``steps`` ≥ the window, and says so)."""
    t = runs[0]["T"] if runs else None
    steps = [d for d in range(1, t + 1) if t % d == 0 and d >= 2] if t else [SHAPES_SAMPLING.steps]
    return {**settings.limits(), "T": t, "steps_choices": steps}


def explorer_entry(request: Request) -> dict[str, Any] | None:
    """How the explorer offers this page (its dataset and lesson pickers): None without a bundled shapes model."""
    runs = shapes_runs(request)
    if not runs:
        return None
    return {"title": runs[0]["title"], "href": "/shapes",
            "lesson": {"id": SHAPES_LESSON["id"], "title": SHAPES_LESSON["title"]}}


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
    runs = shapes_runs(request)
    return {
        "title": runs[0]["title"] if runs else "Simple Shapes (images)",
        "runs": runs,
        "defaults": image_defaults(),
        "limits": image_limits(settings, runs),
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
