"""The page, its bootstrap context, the vendored plotly.js, and the health check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from jinja2 import TemplateNotFound

from .. import catalog
from ..deps import GateDep, RunnerDep, SettingsDep
from ..diffusion.config import ExperimentConfig, SamplerConfig
from ..encode import EVENT_NAMES
from ..plotly_asset import plotly_asset, plotly_url
from ..schemas import Health
from ..settings import Settings

router = APIRouter()
IMMUTABLE = "public, max-age=31536000, immutable"


def bootstrap(settings: Settings) -> dict[str, Any]:
    """Everything the page needs before its first request, embedded with ``{{ bootstrap|tojson }}``."""
    return {
        "datasets": [d.model_dump(mode="json") for d in catalog.datasets()],
        "presets": [p.model_dump(mode="json") for p in catalog.presets(settings)],
        "defaults": {
            "experiment": ExperimentConfig().model_dump(mode="json"),
            "sampler": SamplerConfig().model_dump(mode="json"),
            "frames": 100,
        },
        "limits": settings.limits(),
        "events": EVENT_NAMES,
    }


@router.get("/", name="index", response_class=HTMLResponse, tags=["pages"],
            responses={503: {"description": "The page template is not installed"}})
def index(request: Request, settings: SettingsDep) -> Response:
    """The lab's single page."""
    templates = request.app.state.templates
    context = {"plotly_src": plotly_url(), "bootstrap": bootstrap(settings)}
    try:
        return templates.TemplateResponse(request, "index.html", context)
    except TemplateNotFound:
        return PlainTextResponse("the page template (templates/index.html) is not installed", status_code=503)


@router.get("/healthz", name="health", tags=["pages"])
def health(runner: RunnerDep, gate: GateDep) -> Health:
    """Liveness, with the training queue and the open sample streams."""
    queued, running = runner.counts()
    return Health(status="ok", queued=queued, running=running, sample_streams=gate.open_streams)


def plotly_js(request: Request) -> Response:
    """plotly.min.js, gzipped when the client accepts it; cached for a year (the URL has the version)."""
    asset = plotly_asset()
    headers = {"ETag": asset.etag, "Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type="text/javascript", headers=headers)
    return Response(asset.raw, media_type="text/javascript", headers=headers)


def add_plotly_route(router: APIRouter) -> None:
    """Registered at app creation: the path carries the installed plotly.js version."""
    router.add_api_route(plotly_url(), plotly_js, methods=["GET"], name="plotly_js", tags=["pages"],
                         response_class=Response, responses={200: {"content": {"text/javascript": {}}},
                                                             304: {"description": "Not modified"}})
