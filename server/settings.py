"""Server settings: limits, slots and paths, read once from the environment and passed in.

Every field can be set as ``MODELAB_<FIELD>`` (for example ``MODELAB_MAX_SAMPLE_N=5000``);
``MODELAB_DATA_DIR`` defaults to ``$XDG_DATA_HOME/modelab`` (``~/.local/share/modelab``).
The hard caps below are the API's published bounds (they appear in the OpenAPI schema); a
deployment may lower a limit through its settings, never raise it past the cap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le, MinLen
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

ENV_PREFIX = "MODELAB_"
REPO_ROOT = Path(__file__).resolve().parent.parent

# Published caps of the web API, the one place they are written: the request models (server/api), the URL codec
# (server/catalog/url_state.py) and the pages' bootstraps (``Settings.limits``, ``analysis_limits``) read them.
MAX_SAMPLE_N = 10_000
MAX_IMAGE_N = 64  # images of one image sample stream (a U-Net costs a few ms per image and step on a CPU core)
MIN_FRAMES = 2  # frames of a sample stream: x_T and x_0 at least
DEFAULT_FRAMES = 100
MAX_FRAMES = 200
MAX_WEB_TRAIN_STEPS = 20_000
# n × window × D float32 values in one `result` event: 2M values ≈ 8 MB raw, 10.7 MB as base64.
MAX_X0_VALUES = 2_000_000
# Work budgets, in seconds of computing on one core as ``server.gaussian.costs`` estimates them (server.api.budgets).
MAX_JOB_SECONDS = 86_400.0
MAX_STEP_SECONDS = 1.0  # a cancel must take effect within a second: no training step may be estimated longer
MAX_VIEW_SECONDS = 600.0
MAX_BODY_KB = 4096
# The /analysis API's caps (tiny next to the CLI's: this runs on a shared CPU server).
MAX_BENCH_N = 5000
MAX_BENCH_WINDOW = 50
MAX_CURVE_POINTS = 1001
MAX_MAP = 81
MAX_SWEEP_VALUES = 8
MAX_SWEEP_SEEDS = 5
MAX_SWEEP_POINTS = 24
MAX_JOB_SAMPLES = 5000
MAX_GENERATIONS = 8


def default_data_dir(environ: Mapping[str, str]) -> Path:
    xdg = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "modelab"


class Settings(BaseModel):
    """Lax on input (environment strings become numbers), frozen once built."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    data_dir: Path
    templates_dir: Path = REPO_ROOT / "templates"
    static_dir: Path = REPO_ROOT / "static"
    models_dir: Path = REPO_ROOT / "models"  # bundled checkpoints (*.safetensors + *.json cards), loaded at start

    # The run store: artifacts beyond this many MB evict the least recently used unpinned runs and results.
    max_store_mb: Annotated[float, Gt(0)] = 2048.0
    # The /analysis caches (sweep points, mechanism and detector views, finished jobs) share this many MB; beyond
    # it the least recently used files are deleted (they are recomputed when asked for again).
    max_analysis_mb: Annotated[float, Gt(0)] = 512.0

    # Request bodies larger than this many KB are refused with 413 before they are read (server/api/body_limit.py);
    # the largest valid body (a sweep on a 64-mode mixture) is a few KB.
    max_body_kb: Annotated[int, Ge(1), Le(MAX_BODY_KB)] = 256

    # Sampling streams.
    max_sample_n: Annotated[int, Ge(1), Le(MAX_SAMPLE_N)] = MAX_SAMPLE_N
    max_image_n: Annotated[int, Ge(1), Le(MAX_IMAGE_N)] = MAX_IMAGE_N  # n of an image run's sample stream
    # At start-up, compute the bundled Simple Shapes model's default grid (server/shapes/presets.SHAPES_SAMPLING) in
    # the background and store it, so the shapes page's first grid replays at once. MODELAB_WARM_SHAPES=false turns
    # it off, also for settings built in code (the default is read from the environment: the test suite sets it, so
    # its hundreds of servers do not each compute a grid; a test that wants it passes warm_shapes=True).
    warm_shapes: bool = Field(default_factory=lambda: os.environ.get(ENV_PREFIX + "WARM_SHAPES", "true"),
                              validate_default=True)
    max_frames: Annotated[int, Ge(2), Le(MAX_FRAMES)] = MAX_FRAMES
    max_x0_values: Annotated[int, Ge(1), Le(MAX_X0_VALUES)] = MAX_X0_VALUES
    # Sample streams share the machine (server/streaming/admission.py): chunks of every active stream take turns at
    # `sampling_concurrency` worker slots, a new stream's first chunk first, each chunk with solo_sample_threads //
    # slots particle threads; beyond `sampling_active` streams, up to `sampling_waiting` more wait in arrival order
    # (their SSE stream sends `queue` events: how many ahead, about how long); beyond that, 429 with a measured
    # Retry-After. Default one slot using every core: on 2 cores (bench/bench_fair.py, 3 streams of 2,000 × 1,000)
    # it took 0.84× the back-to-back time, two one-thread slots 1.19× (two Python threads contend for the GIL).
    sampling_concurrency: Annotated[int, Ge(1), Le(64)] = 1
    sampling_active: Annotated[int, Ge(1), Le(1000)] = 32
    sampling_waiting: Annotated[int, Ge(0), Le(1000)] = 64
    sample_chunk_steps: Annotated[int, Ge(1), Le(1000)] = 16  # reverse steps per worker-thread call
    model_cache_size: Annotated[int, Ge(1), Le(64)] = 4  # loaded checkpoints kept in memory
    result_memory_size: Annotated[int, Ge(1), Le(256)] = 8  # finished sampling results kept in memory for replays
    result_memory_mb: Annotated[float, Gt(0)] = 256.0  # ... and the memory they may hold together

    # Training jobs.
    max_train_steps: Annotated[int, Ge(1), Le(MAX_WEB_TRAIN_STEPS)] = MAX_WEB_TRAIN_STEPS
    queue_size: Annotated[int, Ge(1), Le(10_000)] = 16  # queued (not running) jobs before 429
    training_slots: Annotated[int, Ge(1), Le(64)] = 1
    torch_threads: Annotated[int, Ge(1), Le(64)] = 1  # per job and per sampling computation
    # Threads for a sampling computation that is the server's only work (no training job, no other computation):
    # a network's 512-row particle slices are shared among this many Python threads (NetworkDenoiser.threads), so
    # results are bit-identical at any count and shared or stored results do not depend on it. Default: every
    # core. Measured on 2 cores (bench/bench_stream.py): 2,000 × 1,000 streams in 3.2 s with 2, 4.7 s with 1.
    solo_sample_threads: Annotated[int, Ge(1), Le(64)] = Field(default_factory=lambda: min(os.cpu_count() or 1, 64))
    # An image (U-Net) stream's chunks use at most this many torch (OpenMP) threads. Its convolutions are small
    # (16 images of 32×32, 8–32 channels): on 2 cores, with the event loop encoding and sending frames beside it,
    # the bundled model's 100-step stream took 2.9–3.3 s at 2 threads and 2.2–2.5 s at 1, idle (bench_shapes_stream):
    # as with the point streams' first OpenMP try (README), the worker threads that ran chunks leave teams spinning.
    image_sample_threads: Annotated[int, Ge(1), Le(64)] = 1
    loss_history_points: Annotated[int, Ge(2), Le(10_000)] = 200
    progress_interval: Annotated[float, Ge(0), Le(10)] = 0.1  # seconds between progress events per job
    # A training job that nobody watches (no subscriber to its /events stream and no GET of the run) for this many
    # seconds is cancelled, its run recording why: a closed tab must not leave the CPU training for half an hour.
    unwatched_job_seconds: Annotated[float, Gt(0), Le(86_400)] = 300.0

    # Work budgets (estimated seconds on one core; server.budgets): a request over one is a 422 before it is queued.
    max_job_seconds: Annotated[float, Gt(0), Le(MAX_JOB_SECONDS)] = 3600.0  # one training run, sweep or recursive run
    max_step_seconds: Annotated[float, Gt(0), Le(MAX_STEP_SECONDS)] = 0.5  # one training step (no check inside it)
    max_view_seconds: Annotated[float, Gt(0), Le(MAX_VIEW_SECONDS)] = 120.0  # one mechanism or detector view

    # Presets: the "quick" variants train this many steps (live demos; tests lower it further).
    quick_steps: Annotated[int, Ge(1), Le(MAX_WEB_TRAIN_STEPS)] = 1000
    quick_batch: Annotated[int, Ge(1), Le(20_000)] | None = None  # None keeps the recipe's batch

    # Deployments (README, "Deploying"): with a token, whatever queues or cancels work needs
    # `Authorization: Bearer <token>`; read-only refuses all of it. Reading and sampling stay open.
    token: Annotated[SecretStr, MinLen(8)] | None = None
    read_only: bool = False

    # A Ray cluster (README, "Running on a Ray cluster"; needs the `ray` extra): training jobs, sweeps, recursive
    # runs and sample computations run there as tasks, this process relays. None: everything runs in-process.
    ray_address: Annotated[str, MinLen(1)] | None = None  # e.g. "10.0.0.5:6379", or "auto" on a cluster node
    ray_max_retries: Annotated[int, Ge(0), Le(10)] = 1  # times a task is run again after its worker died

    @field_validator("token", "ray_address", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        return None if value == "" else value  # MODELAB_TOKEN= (empty) means no token; the same for the Ray address

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {"data_dir": default_data_dir(environ)}
        for name in cls.model_fields:
            key = ENV_PREFIX + name.upper()
            if key in environ:
                values[name] = environ[key]
        return cls.model_validate(values)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "runs.sqlite3"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def max_store_bytes(self) -> int:
        return int(self.max_store_mb * 1024 * 1024)

    @property
    def max_analysis_bytes(self) -> int:
        return int(self.max_analysis_mb * 1024 * 1024)

    def limits(self) -> dict[str, int | float]:
        """What the page needs to know to build valid requests (sent in the bootstrap)."""
        return {
            "max_sample_n": self.max_sample_n,
            "max_image_n": self.max_image_n,
            "max_frames": self.max_frames,
            "min_frames": MIN_FRAMES,
            "max_x0_values": self.max_x0_values,
            "max_train_steps": self.max_train_steps,
            "queue_size": self.queue_size,
            "training_slots": self.training_slots,
            "sampling_concurrency": self.sampling_concurrency,
            **self.budgets(),
        }

    def analysis_limits(self) -> dict[str, int | float]:
        """What the /analysis page needs to know to build valid requests (sent in its bootstrap)."""
        return {"max_bench_n": MAX_BENCH_N, "max_bench_window": MAX_BENCH_WINDOW,
                "max_sweep_points": MAX_SWEEP_POINTS, "max_generations": MAX_GENERATIONS,
                "max_train_steps": self.max_train_steps, "max_job_samples": MAX_JOB_SAMPLES, **self.budgets()}

    def budgets(self) -> dict[str, float]:
        """The work budgets, as both pages' bootstraps publish them."""
        return {"max_job_seconds": self.max_job_seconds, "max_step_seconds": self.max_step_seconds,
                "max_view_seconds": self.max_view_seconds}
