"""The shapes page's views of a bundled Simple Shapes model's sample set (issue #13).

* ``GET /api/runs/{run_id}/shapes/statistics`` — label and combination shares (training vs generated, with 95%
  intervals), each image's trajectory variance and label for the histogram, the ROC, AUROC;
* ``GET /api/runs/{run_id}/shapes/bottleneck-map`` — the t-SNE map of the U-Net's bottleneck features, training
  and generated points, duplicates and whether each sits between its two single-shape modes on the map.

404 for an unknown run; 409 for a run that is not a bundled shapes model with a sample set, or whose files are
damaged. Both views are computed once per run (``server.catalog.shapes_views``); the map is cached on disk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from ...catalog.compressed import Compressed
from ...catalog.shapes_sets import BundledShapesSet, find_shapes_set
from ...catalog.shapes_views import ShapesViews
from ...diffusion.checkpoint import CheckpointError
from ...shapes.sample_set import SampleSetError
from ...store import is_run_id
from ..deps import StoreDep
from ..encoding import negotiated
from ..schemas import ApiModel, responses

router = APIRouter(prefix="/api", tags=["shapes"])


class TypedArray(ApiModel):
    """base64 of the little-endian bytes; shape as comma-separated sizes (Plotly's typed-array spec)."""

    dtype: Literal["f4", "u1", "i2", "i4"]
    bdata: str
    shape: str


class ShapesStatisticsView(ApiModel):
    run_id: str
    name: str
    n: dict[str, int]  # training, generated
    labels: list[str]
    categories: list[str]  # the 7 combinations, then duplicate, malformed, empty
    label_shares: dict[str, dict[str, dict[str, Any]]]  # training|generated → label → {count, share, ci95}
    category_shares: dict[str, dict[str, dict[str, Any]]]  # training|generated → category → {count, share, ci95}
    window: int
    detector: str
    auroc: dict[str, dict[str, Any] | None]  # vs_rest, vs_valid: {auroc, auroc_ci95, …} or null (one class)
    variance: TypedArray  # f4 (N,)
    label: TypedArray  # u1 (N,) index into labels
    category: TypedArray  # u1 (N,) index into categories
    roc: dict[str, TypedArray]  # fpr, tpr, thresholds: f4, duplicates vs the rest; empty when one class is absent


class BottleneckMapView(ApiModel):
    run_id: str
    name: str
    resolution: int
    sources: list[str]
    categories: list[str]
    labels: list[str]
    settings: dict[str, Any]
    points: int
    between_modes: dict[str, Any]
    coords: TypedArray  # f4 (P, 2)
    source: TypedArray  # u1 (P,) index into sources
    index: TypedArray  # i4 (P,) row in the training set or the sample set
    category: TypedArray  # u1 (P,)
    label: TypedArray  # u1 (P,)
    between: TypedArray  # u1 (P,)
    thumbnails: TypedArray  # u1 (P, H·W), 0 or 255


def shapes_views(request: Request) -> ShapesViews:
    """The app's one ``ShapesViews`` (made in the lifespan; its cache file lives in the store's data dir)."""
    views: ShapesViews = request.app.state.shapes_views
    return views


def shapes_set(run_id: str, request: Request, store: StoreDep) -> BundledShapesSet:
    """404 unknown run, 409 a run that is not a bundled shapes model with a sample set (checks a file: in a thread)."""
    models = getattr(request.app.state, "bundled_shapes", [])  # registered at start (catalog.bundled.load_shapes)
    found = find_shapes_set(models, run_id, store.model_path(run_id)) if is_run_id(run_id) else None
    if found is not None:
        return found
    if is_run_id(run_id) and store.get(run_id) is not None:
        raise HTTPException(409, f"run {run_id} is not a bundled Simple Shapes model with a sample set "
                                 f"(models/<name>.safetensors with <name>-samples.npz)")
    raise HTTPException(404, f"no run {run_id[:40]!r}")


ShapesSetDep = Annotated[BundledShapesSet, Depends(shapes_set)]
ViewsDep = Annotated[ShapesViews, Depends(shapes_views)]


async def _answer(request: Request, found: BundledShapesSet,
                  view: Callable[[BundledShapesSet], Awaitable[Compressed]]) -> Response:
    """The view's JSON, gzipped when the client accepts it; 409 when the bundled files turn out to be damaged."""
    try:
        answer = await view(found)
    except (SampleSetError, CheckpointError) as exc:
        raise HTTPException(409, f"run {found.run_id}: its bundled files cannot be used ({exc})") from exc
    return negotiated(request, answer, "application/json")


@router.get("/runs/{run_id}/shapes/statistics", name="shapes_statistics", response_model=ShapesStatisticsView,
            responses=responses(404, 409))
async def shapes_statistics(request: Request, found: ShapesSetDep, views: ViewsDep) -> Response:
    """Statistics of the run's bundled sample set against its training set (computed once, then kept)."""
    return await _answer(request, found, views.statistics)


@router.get("/runs/{run_id}/shapes/bottleneck-map", name="shapes_bottleneck_map", response_model=BottleneckMapView,
            responses=responses(404, 409))
async def shapes_bottleneck_map(request: Request, found: ShapesSetDep, views: ViewsDep) -> Response:
    """The 2D t-SNE map of the U-Net's bottleneck features (about 10 s of CPU the first time; then from the cache,
    also after a restart)."""
    return await _answer(request, found, views.bottleneck_map)
