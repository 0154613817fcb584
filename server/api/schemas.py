"""API request and response models (docs/protocol.md). Strict, frozen, no unknown keys.

The experiment itself is ``ExperimentConfig`` from the engine: one source of defaults and bounds.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import ConfigDict, Field

from ..diffusion.config import SamplerKind, StrictModel
from ..gaussian.config import ExperimentConfig
from ..settings import DEFAULT_FRAMES, MAX_FRAMES, MAX_SAMPLE_N, MIN_FRAMES
from ..shapes.config import ShapesConfig
from ..store import RunKind, RunStatus
from ..streaming.families import Family
from .request_fields import sampler_field


class ApiModel(StrictModel):
    """The one base of the API's strict models (the engine's: strict, frozen, no unknown keys)."""


class QueryModel(StrictModel):
    """The one base of query-string models: lax (query values arrive as strings), otherwise the engine's rules
    (finite numbers, -0 read as 0, frozen, no unknown keys)."""

    model_config = ConfigDict(strict=False)


class CreateRun(StrictModel):
    kind: RunKind = "trained"
    config: ExperimentConfig = ExperimentConfig()  # partial is fine: every field has a default


class Metrics(ApiModel):
    steps: int
    train_seconds: float
    final_loss: float | None
    loss_history: list[tuple[int, float | None]]  # [step, mean loss over the bucket ending at step; null: NaN]


class RunView(ApiModel):
    run_id: str
    kind: RunKind
    status: RunStatus
    family: Family = "gaussian"  # "shapes": an image run (its config is a Simple Shapes config)
    config: ExperimentConfig | ShapesConfig
    metrics: Metrics | None
    error: str | None
    created_at: str  # ISO 8601 UTC
    finished_at: str | None


class RunEstimate(ApiModel):
    """What posting a config would do, without doing it (the page asks before a link starts training)."""
    run_id: str
    status: RunStatus | None  # the existing run's status; None: posting it would queue a new training job
    steps: int
    seconds: float  # expected training time on a free slot (0 for an existing or an oracle run)


class CancelledView(ApiModel):
    run_id: str
    status: Literal["cancelled"]


class Backend(ApiModel):
    """Where the heavy work runs: this process, or a Ray cluster (its nodes and CPUs as last counted)."""
    name: Literal["local", "ray"]
    address: str | None = None  # the Ray cluster's address as configured (MODELAB_RAY_ADDRESS)
    nodes: int | None = None  # the cluster's alive nodes, counted at most CENSUS_SECONDS ago; None: not yet known
    cpus: float | None = None  # their CPUs


class Health(ApiModel):
    status: Literal["ok"]
    backend: Backend
    queued: int
    running: int
    sample_streams: int  # sampling computations admitted and not finished
    sample_viewers: int  # clients following a computation or a replay
    computations_started: int  # since the server started: identical requests share one


class ResultLinks(ApiModel):
    page: str  # /r/{result_id}
    events: str  # SSE replay
    npz: str
    csv: str
    config: str  # the run's config.json


class ResultView(ApiModel):
    """A sampling result: what produced it, whether it is still computing, and where to get it."""

    result_id: str
    run_id: str
    kind: RunKind
    family: Family  # "shapes": an image result (its params also hold steps)
    status: Literal["computing", "done", "failed"]
    params: dict[str, Any]  # {n, seed, sampler, eta, window, frames} (and steps for an image result)
    links: ResultLinks


class ErrorBody(ApiModel):
    detail: str


class BusyBody(ApiModel):
    detail: str
    ahead: int | None = None  # sample streams only: how many wait ahead of this request ...
    eta_s: int | None = None  # ... and about how many seconds until it would compute (null: not measured yet)


class ValidationErrorBody(ApiModel):
    detail: list[dict[str, Any]]  # FastAPI's usual [{loc, msg, type, ...}]
    message: str  # the same, one line per field: "query.n: Input should be less than or equal to 10000"


# Rules that span fields or depend on the run or the server's settings; the schema states them in words and
# the server answers 422 naming the field (server/api/deps.py, server/api/routes/analysis_views.py, analysis_jobs.py).
ETA_RULE = "DDIM's η (0: deterministic); must be 0 unless sampler is ddim"
LID_RULE = "draws of the LID score, in antithetic pairs: even"
N_RULE = ("at most the server's max_sample_n (MODELAB_MAX_SAMPLE_N; the page's bootstrap `limits`); for an image run "
          "max_image_n (MODELAB_MAX_IMAGE_N)")
WINDOW_RULE = "the detector's last-K window; at most the run's T (an image run's: at most steps)"
STEPS_RULE = ("the chain length: an image run's must divide its T (default 100; frames at most steps + 1); a "
              "Gaussian run's may only be absent or T. An image run's n, frames and window default to the shapes "
              "page's (16, 60, 10; server/shapes/presets.py), not to the defaults shown here")


class SampleQuery(QueryModel):
    """Query string of the sample stream. Lax (query values arrive as strings); defaults and bounds are
    ``SamplerConfig``'s, n capped by the API, and the server's settings may lower the caps (checked in
    ``server.api.deps.sample_request``)."""

    n: int = sampler_field("n", le=MAX_SAMPLE_N, description=N_RULE)
    seed: int = sampler_field("seed")
    sampler: SamplerKind = sampler_field("sampler")
    eta: float = sampler_field("eta", description=ETA_RULE)
    frames: Annotated[int, Ge(MIN_FRAMES), Le(MAX_FRAMES),
                      Field(description="at most the server's max_frames")] = DEFAULT_FRAMES
    window: int = sampler_field("window", description=WINDOW_RULE + "; n × window × D at most the server's "
                                                                    "max_x0_values")
    steps: Annotated[int, Ge(1), Field(description=STEPS_RULE)] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body could not be parsed (not UTF-8, or nested too deeply); "
                                             "malformed JSON is a 422 (`json_invalid`)"},
    401: {"model": ErrorBody, "description": "A token is set (MODELAB_TOKEN) and the request did not carry it as "
                                             "`Authorization: Bearer <token>`",
          "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}},
    403: {"model": ErrorBody, "description": "The lab is read-only (MODELAB_READ_ONLY)"},
    404: {"model": ErrorBody, "description": "No such run or result (or not an id)"},
    409: {"model": ErrorBody, "description": "The run is not in a state that allows this"},
    410: {"model": ErrorBody, "description": "The result was stored but is gone (evicted) or damaged"},
    422: {"model": ValidationErrorBody, "description": "Invalid parameters; each error names its field and limit"},
    429: {"model": BusyBody, "description": "Too busy; retry after the number of seconds in Retry-After (a sample "
                                           "stream's body also says how many wait ahead and about how long)",
          "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}},
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: ERROR_RESPONSES[code] for code in codes}
