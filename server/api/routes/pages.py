"""The page, its bootstrap context, the vendored plotly.js, and the health check."""

from __future__ import annotations

import asyncio
from html import escape
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from jinja2 import TemplateNotFound

from ...catalog import presets as catalog
from ...catalog import url_state
from ...catalog.lessons import lessons_for_page
from ...catalog.plotly_asset import plotly_asset, plotly_url
from ...diffusion.config import SamplerConfig
from ...gaussian.config import ExperimentConfig
from ...settings import DEFAULT_FRAMES, Settings
from ...store import EvictedRun, RunRecord, is_run_id
from ...streaming.encode import EVENT_NAMES
from ..deps import ExecutorDep, GateDep, RegistryDep, RunnerDep, StoreDep, existing_result
from ..encoding import negotiated
from ..schemas import Backend, Health
from ..stored_config import UnusableConfig, run_config
from .results import result_view
from .shapes_page import explorer_entry, is_image_result, shapes_bootstrap, shapes_page

router = APIRouter()
IMMUTABLE = "public, max-age=31536000, immutable"


def bootstrap(request: Request, permalink: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the page needs before its first request, embedded with ``{{ bootstrap|tojson }}``.

    ``default_run``: the run the page opens with, ready to sample (the bundled grid25 model, else
    the grid25 exact denoiser). ``permalink``: on /r/{result_id}, the result to replay (a
    ``ResultView``: its ``links.events`` replays the stream); null on /. ``url_spec``: the URL hash
    codec (server/catalog/url_state.py); ``lessons``: the classroom lessons (server/catalog/lessons.py), steps as
    hashes; ``shapes``: the image page the dataset and lesson pickers also offer (title, address, its lesson), or
    null without a bundled shapes model."""
    settings: Settings = request.app.state.settings
    presets = catalog.presets(settings, request.app.state.bundled)
    return {
        "datasets": [d.model_dump(mode="json") for d in catalog.datasets()],
        "presets": [p.model_dump(mode="json") for p in presets],
        "default_run": request.app.state.default_run,
        "permalink": permalink,
        "defaults": {
            "experiment": ExperimentConfig().model_dump(mode="json"),
            "sampler": SamplerConfig().model_dump(mode="json"),
            "frames": DEFAULT_FRAMES,
        },
        "limits": settings.limits(),
        "url_spec": url_state.build_spec(settings.limits()),
        "lessons": lessons_for_page(presets, request.app.state.bundled),
        "events": EVENT_NAMES,
        "shapes": explorer_entry(request),
    }


@router.get("/", name="index", response_class=HTMLResponse, tags=["pages"],
            responses={503: {"description": "The page template is not installed"}})
def index(request: Request) -> Response:
    """The lab's explorer of point datasets (``?lesson=shapes`` belongs to the shapes page: a redirect there)."""
    if request.query_params.get("lesson") == "shapes":
        return RedirectResponse(f"/shapes?{request.url.query}", status_code=303)
    return _page(request, bootstrap(request))


@router.get("/shapes", name="shapes", response_class=HTMLResponse, tags=["pages"],
            responses={503: {"description": "The page template is not installed"}})
def shapes(request: Request) -> Response:
    """The Simple Shapes page: a grid of images forming out of noise, their duplicates, the detector."""
    return shapes_page(request, shapes_bootstrap(request))


@router.get("/r/{result_id:path}", name="permalink", response_class=HTMLResponse, tags=["pages"],
            responses={404: {"description": "No such result"}, 410: {"description": "Result evicted or damaged"},
                       503: {"description": "The page template is not installed"}})
async def permalink(request: Request, result_id: str, store: StoreDep, registry: RegistryDep) -> Response:
    """The page, told to replay one stored result (``bootstrap.permalink``) instead of sampling."""
    try:
        computation = await existing_result(result_id, store, registry)
    except HTTPException as exc:  # a person opened this link: answer with a page, not JSON
        return _short_page(str(exc.detail), exc.status_code)
    view = result_view(computation).model_dump(mode="json")
    if is_image_result(view["params"]):
        return shapes_page(request, shapes_bootstrap(request, view))
    return _page(request, bootstrap(request, view))


@router.get("/run/{run_id:path}", name="open_run", tags=["pages"], status_code=303, response_class=RedirectResponse,
            responses={303: {"description": "To the explorer, its address holding the run's config"},
                       404: {"description": "No such run"}})
async def open_run(run_id: str, store: StoreDep) -> Response:
    """The explorer opened on one stored run (a sweep point, say), or on the config of a run evicted to save
    space: a redirect to ``/#<hash>`` of its config, which the page resolves to the same run id (or offers to
    train again); the sampler and view are the defaults."""
    record: RunRecord | EvictedRun | None = await asyncio.to_thread(store.get, run_id) if is_run_id(run_id) else None
    if record is None:  # evicted to save space: its config is kept, and training it again makes the same run
        record = await asyncio.to_thread(store.evicted_run, run_id)
    if record is None:
        return _short_page(f"no run {run_id[:40]!r}", 404)
    try:
        config = run_config(record)
    except UnusableConfig as exc:
        return _short_page(str(exc), 409)
    if not isinstance(config, ExperimentConfig):  # an image run: the shapes page
        return RedirectResponse("/shapes", status_code=303)
    return RedirectResponse(f"/#{url_state.encode(config, SamplerConfig(), {'kind': record.kind})}", status_code=303)


def _short_page(message: str, status_code: int) -> HTMLResponse:
    """What a person who opened a dead link sees: the reason and a way into the lab (not JSON)."""
    # ":path" routes bring odd ids (slashes, "..") here too, so every dead link gets this page, never JSON.
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Link not found · Mode Interpolation Lab'
        '</title><meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/css/lab.css"></head><body>'
        '<header class="masthead"><div><h1>Mode Interpolation Lab</h1></div></header>'
        '<main class="dead-link"><section class="card">'
        f'<h2>This link does not open anything</h2><p>{escape(message)}</p>'
        '<p><a class="button primary" href="/">Open the lab</a></p></section></main></body></html>',
        status_code=status_code)


def _page(request: Request, boot: dict[str, Any]) -> Response:
    templates = request.app.state.templates
    context = {"plotly_src": plotly_url(), "bootstrap": boot}
    try:
        return templates.TemplateResponse(request, "index.html", context)
    except TemplateNotFound:
        return PlainTextResponse("the page template (templates/index.html) is not installed", status_code=503)


@router.get("/healthz", name="health", tags=["pages"])
async def health(runner: RunnerDep, gate: GateDep, registry: RegistryDep, executor: ExecutorDep) -> Health:
    """Liveness, with where the work runs, the training queue, the sampling computations and their viewers."""
    queued, running = runner.counts()
    return Health(status="ok", backend=Backend(**executor.backend()), queued=queued, running=running,
                  sample_streams=gate.open_streams, sample_viewers=registry.viewers,
                  computations_started=registry.started)


def plotly_js(request: Request) -> Response:
    """plotly.min.js, gzipped when the client accepts it; cached for a year (the URL has the version)."""
    asset = plotly_asset()
    headers = {"ETag": asset.etag, "Cache-Control": IMMUTABLE}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers={**headers, "Vary": "Accept-Encoding"})
    return negotiated(request, asset.body, "text/javascript", headers)


def add_plotly_route(router: APIRouter) -> None:
    """Registered at app creation: the path carries the installed plotly.js version."""
    router.add_api_route(plotly_url(), plotly_js, methods=["GET"], name="plotly_js", tags=["pages"],
                         response_class=Response, responses={200: {"content": {"text/javascript": {}}},
                                                             304: {"description": "Not modified"}})
