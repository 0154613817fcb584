"""Start-up warm-up: the bundled Simple Shapes model's default grid, computed once and stored like any result, then
its statistics and bottleneck map.

The shapes page opens on ``SHAPES_SAMPLING`` of the bundled model; computing it in the background right after start
(through the registry: one gate place, stored as npz, replayed by every later viewer) makes that first grid replay
at once instead of streaming for tens of seconds on a small CPU server. A stored result from an earlier start is
found and nothing is computed. The bottleneck map's t-SNE takes about ten seconds of CPU the first time (then it is
read from its cache file); computed here, the page's first visitor does not wait for it. ``MODELAB_WARM_SHAPES=false``
turns it all off.
"""

from __future__ import annotations

import asyncio
import logging

from ..diffusion.checkpoint import CheckpointError
from ..diffusion.config import SamplerConfig
from ..shapes.presets import SHAPES_SAMPLING
from ..shapes.sample_set import SampleSetError
from ..store import Store
from ..streaming.sample_session import SampleRequest
from ..streaming.sharing import ComputationRegistry, TooBusy
from .bundled import BundledShapes
from .shapes_sets import shapes_set_of
from .shapes_views import ShapesViews

log = logging.getLogger(__name__)


def default_request() -> SampleRequest:
    """``SHAPES_SAMPLING`` as the sample request an image run's stream gets for its query."""
    d = SHAPES_SAMPLING
    sampler = SamplerConfig(sampler=d.sampler, eta=d.eta, n=d.n, seed=d.seed, window=d.window)
    return SampleRequest(sampler=sampler, frames=d.frames, steps=d.steps)


async def warm_shapes(store: Store, registry: ComputationRegistry, models: list[BundledShapes],
                      views: ShapesViews) -> None:
    """Compute (or find stored) the default grid of each bundled model's trained run, one after another, then each
    one's statistics and bottleneck map (grids first: they are what a visitor sees first)."""
    for model in models:
        run = await asyncio.to_thread(store.get, model.run_id)
        if run is None:
            continue
        try:
            computation = await registry.open(run, default_request())
        except (TooBusy, CheckpointError) as exc:
            log.warning("shapes warm-up of %s skipped: %s", model.name, exc)
            continue
        with registry.watching(computation):  # a viewer: the stop of the server cancels it like a left client
            async for _ in computation.follow():
                pass
        log.info("shapes warm-up: %s default grid %s is %s", model.name, computation.result_id, computation.status)
    for model in models:
        found = shapes_set_of(model, store.model_path(model.run_id))
        if found is None:
            continue
        try:
            await views.statistics(found)
            await views.bottleneck_map(found)
        except (SampleSetError, CheckpointError) as exc:
            log.warning("shapes warm-up of %s's views skipped: %s", model.name, exc)
