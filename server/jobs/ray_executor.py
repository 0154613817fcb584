"""``RayExecutor``: the heavy work on a Ray cluster, the web process relaying (``pip install -e '.[ray]'``).

What runs where:

* a training job is one Ray task, a streaming generator of (step, loss-history) reports that ends with
  the checkpoint's bytes; the web process writes them into its store;
* a sweep is one task per trained model (a sampler sweep samples several points from one model), all
  submitted at once so the cluster runs them side by side; cached points and stored models are looked
  up here, and a stored model travels to its task as checkpoint bytes;
* a recursive run is one task per generation: generation 0 (shared by the filters), then each later
  generation's filters side by side, each task given the points its filter kept the generation before;
* a sample computation is one streaming generator that yields each chunk's frames, then the arrays.

Models travel as safetensors bytes through Ray's object store: no disk is shared with the workers,
but every node must have this project installed (the same version). Ray's own transport pickles what
crosses the cluster (configs, events, arrays); files are still safetensors and npz.

Cancellation: the relaying thread polls the job's cancel event between items (``ray.wait`` with a
short timeout) and ``ray.cancel``s the task, which interrupts it between two Python statements, so its
CPU is free within one step. A worker that dies is retried up to ``Settings.ray_max_retries`` times
(same seeds, same results); after that the job fails with ``WorkerLost``.

The task bodies the workers run are in ``ray_tasks``; relaying, cancelling and naming failures in ``ray_relay``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray

from ..analysis.recursive import (
    GenerationDone,
    GenerationResult,
    RecursiveDone,
    RecursiveEvent,
    RecursiveRun,
    generation_draws,
    summarize_recursive,
)
from ..analysis.result_cache import ResultCache
from ..analysis.sweeps import (
    ModelStore,
    PointDone,
    PointStarted,
    SweepDone,
    SweepEvent,
    SweepPoint,
    SweepValue,
    TrainedModel,
    aggregate,
    sweep_points,
)
from ..diffusion.cancel import CancelToken
from ..diffusion.checkpoint import write_atomic
from ..diffusion.config import SamplerConfig
from ..gaussian.checkpoint import checkpoint_bytes, load_checkpoint_bytes
from ..gaussian.config import ExperimentConfig
from ..settings import Settings
from ..streaming.results import ResultArrays
from ..streaming.sample_session import ChainSession, SampleSession
from .ray_address import check_head
from .ray_relay import WorkerLost, cancel_task, count_alive, loopback_node_ip, relay_all, translate
from .ray_tasks import generation_task, sample_task, sweep_task, train_task
from .trainer import LossHistory, StepReport

if TYPE_CHECKING:
    from ray import ObjectRefGenerator

    from ..store import Store

MODEL_REFS = 16  # checkpoints kept in the object store for sample streams (least recently used dropped)
CENSUS_SECONDS = 5.0  # /healthz's count of the cluster's nodes and CPUs is at most this old (plus one round trip)


class RayExecutor:
    name = "ray"
    shares_cpu = False  # the cluster's scheduler queues tasks; a stream does not wait for a turn here

    def __init__(self, settings: Settings, store: Store):
        self.settings, self.store = settings, store
        self.address = settings.ray_address
        self._options = {"max_retries": settings.ray_max_retries, "retry_exceptions": False}
        self._lock = threading.Lock()
        self._models: OrderedDict[str, ray.ObjectRef[bytes]] = OrderedDict()  # run id → checkpoint bytes
        self._streams: dict[int, ObjectRefGenerator] = {}  # id(session) → its task
        if not ray.is_initialized():
            check_head(self.address or "auto")  # ray.init would retry for minutes where nothing listens
            # The web process is a driver only: it asks for no CPU and keeps the workers' logs out of its own.
            ray.init(address=self.address, namespace="modelab", log_to_driver=False, configure_logging=False,
                     _node_ip_address=loopback_node_ip(self.address or ""))
        # (alive nodes, their CPUs, time.monotonic() of the count); a thread recounts when asked and stale.
        self._census: tuple[int | None, float | None, float] = (*count_alive(), time.monotonic())
        self._counting = False

    @property
    def _retries(self) -> int:
        """Ray's retries for each task, as ``WorkerLost`` names them (read from the options the tasks get)."""
        return self._options["max_retries"]

    def close(self) -> None:
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
            self._models.clear()
        for stream in streams:
            cancel_task(stream)
        ray.shutdown()

    def cluster_cpus(self) -> float:
        return float(ray.cluster_resources().get("CPU", 0.0))

    def backend(self) -> dict[str, Any]:
        """The cluster's address, alive nodes and CPUs as last counted. Counting is a round trip to the head
        (seconds if it is unreachable), so /healthz never waits for it: a stale count starts a thread that
        recounts, and this answer carries the previous one."""
        with self._lock:
            nodes, cpus, counted = self._census
            recount = not self._counting and time.monotonic() - counted > CENSUS_SECONDS
            self._counting = self._counting or recount
        if recount:
            threading.Thread(target=self._recount, name="ray-census", daemon=True).start()
        return {"name": self.name, "address": self.address, "nodes": nodes, "cpus": cpus}

    def _recount(self) -> None:
        census = count_alive()
        with self._lock:
            self._census, self._counting = (*census, time.monotonic()), False

    # ------------------------------------------------------------------ jobs (in job threads)

    def train(self, config: ExperimentConfig, path: Path, *, cancel: threading.Event,
              report: Callable[[StepReport, LossHistory], None], history_points: int,
              threads: int) -> dict[str, Any]:
        task = train_task.options(**self._options, name=f"modelab-train-{config.run_id()}")
        stream = task.remote(config.canonical_json(), history_points, threads, self.settings.progress_interval)
        for _, item in relay_all([stream], cancel, self._retries):
            if item[0] == "model":
                _, blob, metrics = item
                write_atomic(path, blob)
                return dict(metrics)
            report(*item)
        raise WorkerLost("the Ray training task ended without a model")

    def sweep(self, base: ExperimentConfig, sampler: SamplerConfig, param: str, values: Sequence[SweepValue],
              seeds: Sequence[int], *, cache: ResultCache | None, models: ModelStore | None, report_every: int,
              cancel: CancelToken) -> Iterator[SweepEvent]:
        """``run_sweep`` with every model's points as one task, all submitted before any result is awaited."""
        points = sweep_points(base, sampler, param, values, seeds)
        total = len(points)
        results: dict[int, dict[str, Any]] = {}
        running: dict[ObjectRefGenerator, list[SweepPoint]] = {}
        try:
            for group in _by_model(points):
                todo = []
                for point in group:
                    cached = cache.get(point.key) if cache is not None else None
                    yield PointStarted(point.index, total, point.value, point.seed, point.config.run_id(),
                                       cached is not None)
                    if cached is None:
                        todo.append(point)
                    else:
                        results[point.index] = cached
                        yield PointDone(point.index, total, cached)
                if todo:
                    model = models.load(todo[0].config) if models is not None else None
                    stored = None if model is None else (checkpoint_bytes(model.net, todo[0].config),
                                                         model.train_seconds, model.final_loss)
                    task = sweep_task.options(**self._options, name=f"modelab-sweep-{todo[0].config.run_id()}")
                    running[task.remote(todo, total, stored, report_every, self.settings.torch_threads)] = todo
        except BaseException:
            for stream in running:
                cancel_task(stream)
            raise
        for stream, event in relay_all(list(running), cancel, self._retries):
            if isinstance(event, tuple):  # the group's newly trained model, for the store
                _, blob, seconds, loss = event
                if models is not None:
                    net = load_checkpoint_bytes(blob).net
                    models.save(running[stream][0].config, TrainedModel(net, seconds, loss))
                continue
            if isinstance(event, PointDone):
                results[event.index] = event.result
                if cache is not None:
                    cache.put(points[event.index].key, event.result)
            yield event
        yield SweepDone(aggregate(param, values, seeds, [results[i] for i in range(total)]))

    def recursive(self, config: ExperimentConfig, sampler: SamplerConfig, *, cancel: CancelToken,
                  generations: int, filters: Sequence[str], **options: Any) -> Iterator[RecursiveEvent]:
        """``run_recursive`` as one task per generation: generation 0 (shared by the filters), then each later
        generation's filters side by side, every task given the points its filter kept in the one before."""
        run = RecursiveRun(config, sampler, **options)
        run.check(generations, filters)
        history: dict[str, list[GenerationResult]] = {name: [] for name in filters}
        kept: dict[str, Any] = {}
        for g in range(generations):
            units = [list(filters)] if g == 0 else [[name] for name in filters]
            streams = [self._generation(run, g, unit, kept.get(unit[0]) if g else None) for unit in units]
            for _, event in relay_all(streams, cancel, self._retries):
                if isinstance(event, tuple):  # ("kept", {filter: points}): the next generation's training data
                    kept.update(event[1])
                    continue
                if isinstance(event, GenerationDone):
                    history[event.filter].append(event.result)
                yield event
        yield RecursiveDone(summarize_recursive(history, generations, *generation_draws(config, run.oversample)))

    def _generation(self, run: RecursiveRun, g: int, filters: list[str], points: Any) -> ObjectRefGenerator:
        name = f"modelab-recursive-{run.config.run_id()}-g{g}" + (f"-{filters[0]}" if g else "")
        task = generation_task.options(**self._options, name=name)
        return task.remote(run, g, filters, points, self.settings.torch_threads)

    # ------------------------------------------------------------------ sample streams (event loop)

    async def advance(self, session: ChainSession, chunk_steps: int) -> list[dict[str, Any]]:
        stream = self._streams.get(id(session))
        if stream is None:
            if not isinstance(session, SampleSession):  # the registry keeps image streams in its own process
                raise TypeError("only point sample streams run on the Ray cluster")
            stream = await self._start_sample(session, chunk_steps)
        _, frames, steps_done, finished = await self._next(stream)
        session.steps_done, session.finished = steps_done, finished
        return list(frames)

    async def arrays(self, session: ChainSession, meta: dict[str, Any]) -> ResultArrays:
        stream = self._streams.get(id(session))
        if stream is None:
            raise RuntimeError("arrays asked for before the computation ran")
        _, arrays = await self._next(stream)
        return arrays

    def discard(self, session: ChainSession) -> None:
        with self._lock:
            stream = self._streams.pop(id(session), None)
        if stream is not None:
            cancel_task(stream)

    async def _start_sample(self, session: SampleSession, chunk_steps: int) -> ObjectRefGenerator:
        blob = None if session.kind == "oracle" else await asyncio.to_thread(self._model_ref, session.run_id)
        config_json = session.model.run.config.canonical_json()
        task = sample_task.options(**self._options, name=f"modelab-sample-{session.result_id}")
        stream = task.remote(session.result_id, session.run_id, session.kind, config_json, blob, session.request,
                             chunk_steps, self.settings.torch_threads)
        with self._lock:
            self._streams[id(session)] = stream
        return stream

    def _model_ref(self, run_id: str) -> ray.ObjectRef[bytes]:
        """The run's checkpoint bytes in the object store: read and put once per run while recently used."""
        with self._lock:
            ref = self._models.get(run_id)
            if ref is not None:
                self._models.move_to_end(run_id)
                return ref
        ref = ray.put(self.store.model_path(run_id).read_bytes())
        with self._lock:
            self._models[run_id] = ref
            while len(self._models) > MODEL_REFS:
                self._models.popitem(last=False)
        return ref

    async def _next(self, stream: ObjectRefGenerator) -> Any:
        try:
            ref = await stream.__anext__()
            return await ref
        except StopAsyncIteration:
            raise WorkerLost("the Ray sample task ended early") from None
        except Exception as exc:
            raise translate(exc, self._retries) from exc


def _by_model(points: list[SweepPoint]) -> list[list[SweepPoint]]:
    """Consecutive points with the same run id (a sampler sweep's points of one seed) share a model."""
    groups: list[list[SweepPoint]] = []
    for point in points:
        if groups and groups[-1][0].config.run_id() == point.config.run_id():
            groups[-1].append(point)
        else:
            groups.append([point])
    return groups

