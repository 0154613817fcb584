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
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import ray
import torch
from ray.exceptions import RayError, RayTaskError, TaskCancelledError

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
    run_point,
    sweep_points,
    train_point,
)
from ..diffusion.cancel import Cancelled, CancelToken
from ..diffusion.checkpoint import write_atomic
from ..diffusion.config import SamplerConfig
from ..gaussian.checkpoint import checkpoint_bytes, load_checkpoint_bytes
from ..gaussian.config import ExperimentConfig
from ..settings import Settings
from ..streaming.denoisers import loaded_model
from ..streaming.results import ResultArrays
from ..streaming.sample_session import ChainSession, SampleRequest, SampleSession
from .ray_address import check_head
from .trainer import LossHistory, StepReport, train_run

if TYPE_CHECKING:
    from ray import ObjectRefGenerator

    from ..store import Store

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1  # how often a relaying thread looks at its job's cancel event
MODEL_REFS = 16  # checkpoints kept in the object store for sample streams (least recently used dropped)
CENSUS_SECONDS = 5.0  # /healthz's count of the cluster's nodes and CPUs is at most this old (plus one round trip)


class WorkerLost(RuntimeError):
    """The Ray worker (or its node) died and the retries are used up."""


# ---------------------------------------------------------------------------- on the workers


def _train_events(config_json: str, history_points: int, threads: int, interval: float) -> Iterator[Any]:
    """A training job: (StepReport, LossHistory) at most every ``interval`` s and at every new loss-history
    point, then ("model", checkpoint bytes, metrics)."""
    config = ExperimentConfig.model_validate_json(config_json)
    trained = yield from train_run(config, history_points=history_points, threads=threads, interval=interval)
    yield "model", checkpoint_bytes(trained.net, config, **trained.metadata()), trained.metrics(config)


def _sweep_group_events(points: list[SweepPoint], total: int, stored: tuple[bytes, float, float | None] | None,
                        report_every: int, threads: int) -> Generator[Any, None, None]:
    """Points that share one model: train it (unless ``stored``) and yield ("model", bytes, seconds, loss),
    then each point's ``PointDone``."""
    torch.set_num_threads(threads)
    first = points[0]
    if stored is None:
        model = yield from train_point(first, total, "cpu", report_every)
        loss = f"{model.final_loss:.6f}" if model.final_loss is not None else ""
        blob = checkpoint_bytes(model.net, first.config, train_seconds=f"{model.train_seconds:.2f}", final_loss=loss)
        yield "model", blob, model.train_seconds, model.final_loss
    else:
        blob, seconds, final_loss = stored
        model = TrainedModel(load_checkpoint_bytes(blob).net, seconds, final_loss)
    for point in points:
        yield PointDone(point.index, total, run_point(point, model, "cpu"))


def _generation_events(run: RecursiveRun, g: int, filters: list[str], points: np.ndarray | None,
                       threads: int) -> Iterator[Any]:
    """One generation of a recursive run: its events, then ("kept", {filter: kept points}). Generation 0 is
    shared by ``filters``; a later one is of ``filters[0]`` alone, trained on ``points``."""
    torch.set_num_threads(threads)
    if g == 0:
        kept = yield from run.first_generation(filters)
    else:
        assert points is not None
        kept = {filters[0]: (yield from run.generation(g, filters[0], points))}
    yield "kept", kept


def _sample_events(result_id: str, run_id: str, kind: str, config_json: str, blob: bytes | None,
                   request: SampleRequest, chunk_steps: int, threads: int) -> Iterator[Any]:
    """A sample computation: ("frames", events, steps done, finished) per chunk, then ("arrays", arrays)."""
    config = ExperimentConfig.model_validate_json(config_json)
    model = loaded_model(config, None if blob is None else load_checkpoint_bytes(blob, f"run {run_id}"))
    session = SampleSession(result_id, run_id, kind, model, request, threads=threads)
    meta = session.meta()
    while not session.finished:
        frames = session.advance(chunk_steps)
        yield "frames", frames, session.steps_done, session.finished
    yield "arrays", session.arrays(meta)


# Streaming generators, one CPU each. (Typed loosely: ray's stubs do not cover streaming generator options.)
_remote: Any = ray.remote
_train_task = _remote(num_returns="streaming", num_cpus=1)(_train_events)
_sweep_task = _remote(num_returns="streaming", num_cpus=1)(_sweep_group_events)
_generation_task = _remote(num_returns="streaming", num_cpus=1)(_generation_events)
# No backpressure on sample tasks: a running task must never wait for a consumer that waits for a queued one.
_sample_task = _remote(num_returns="streaming", num_cpus=1)(_sample_events)


# ---------------------------------------------------------------------------- in the web process


def loopback_node_ip(address: str) -> str | None:
    """For a cluster on a loopback address, the web process joins it as a node of that same address.

    Ray replaces only "127.0.0.1" and "localhost" by the network interface's address; a cluster started with
    ``--node-ip-address 127.0.0.2`` (any other loopback address) keeps all its traffic on the loopback device,
    and a driver must then name that address too, or Ray looks for its local node under the interface's."""
    host = address.rsplit(":", 1)[0].strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return None
    return host if loopback else None


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
        self._census: tuple[int | None, float | None, float] = (*_count_alive(), time.monotonic())
        self._counting = False

    def close(self) -> None:
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
            self._models.clear()
        for stream in streams:
            _cancel(stream)
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
        census = _count_alive()
        with self._lock:
            self._census, self._counting = (*census, time.monotonic()), False

    # ------------------------------------------------------------------ jobs (in job threads)

    def train(self, config: ExperimentConfig, path: Path, *, cancel: threading.Event,
              report: Callable[[StepReport, LossHistory], None], history_points: int,
              threads: int) -> dict[str, Any]:
        task = _train_task.options(**self._options, name=f"modelab-train-{config.run_id()}")
        stream = task.remote(config.canonical_json(), history_points, threads, self.settings.progress_interval)
        for _, item in self._relay_all([stream], cancel):
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
                    task = _sweep_task.options(**self._options, name=f"modelab-sweep-{todo[0].config.run_id()}")
                    running[task.remote(todo, total, stored, report_every, self.settings.torch_threads)] = todo
        except BaseException:
            for stream in running:
                _cancel(stream)
            raise
        for stream, event in self._relay_all(list(running), cancel):
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
            for _, event in self._relay_all(streams, cancel):
                if isinstance(event, tuple):  # ("kept", {filter: points}): the next generation's training data
                    kept.update(event[1])
                    continue
                if isinstance(event, GenerationDone):
                    history[event.filter].append(event.result)
                yield event
        yield RecursiveDone(summarize_recursive(history, generations, *generation_draws(config, run.oversample)))

    def _generation(self, run: RecursiveRun, g: int, filters: list[str], points: Any) -> ObjectRefGenerator:
        name = f"modelab-recursive-{run.config.run_id()}-g{g}" + (f"-{filters[0]}" if g else "")
        task = _generation_task.options(**self._options, name=name)
        return task.remote(run, g, filters, points, self.settings.torch_threads)

    def _relay_all(self, streams: list[ObjectRefGenerator], cancel: CancelToken
                   ) -> Iterator[tuple[ObjectRefGenerator, Any]]:
        """(task, item) from several tasks as their items come; cancels those still running if ``cancel`` is set,
        one fails or the consumer stops early."""
        running = list(streams)
        try:
            while running:
                for stream in self._wait(running, cancel):
                    try:
                        ref = next(stream)
                    except StopIteration:
                        running.remove(stream)
                        continue
                    yield stream, self._get(ref)
        finally:
            for stream in running:
                _cancel(stream)

    @staticmethod
    def _wait(streams: list[ObjectRefGenerator], cancel: CancelToken) -> list[ObjectRefGenerator]:
        """Streams with an item (or an end) ready; raises ``Cancelled`` as soon as ``cancel`` is set."""
        while True:
            if cancel.is_set():
                raise Cancelled
            ready, _ = ray.wait(streams, num_returns=1, timeout=POLL_SECONDS)
            if ready:
                return ready

    def _get(self, ref: ray.ObjectRef[Any]) -> Any:
        try:
            return ray.get(ref)
        except BaseException as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: BaseException) -> BaseException:
        """A task's failure as the exception the runners know: its own error, ``Cancelled`` or ``WorkerLost``."""
        if isinstance(exc, TaskCancelledError):
            return Cancelled()
        if isinstance(exc, RayTaskError):
            cause = exc.cause
            if isinstance(cause, TaskCancelledError | KeyboardInterrupt):
                return Cancelled()
            return cause if isinstance(cause, Exception) else exc
        if isinstance(exc, RayError):
            retries = self._options["max_retries"]
            tried = "retries are off (MODELAB_RAY_MAX_RETRIES=0)" if not retries else \
                f"{retries} {'retry' if retries == 1 else 'retries'} did not bring it back"
            return WorkerLost(f"the Ray worker running this work died ({type(exc).__name__}) and {tried}; "
                              "the store is unchanged, submit it again")
        return exc

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
            _cancel(stream)

    async def _start_sample(self, session: SampleSession, chunk_steps: int) -> ObjectRefGenerator:
        blob = None if session.kind == "oracle" else await asyncio.to_thread(self._model_ref, session.run_id)
        config_json = session.model.run.config.canonical_json()
        task = _sample_task.options(**self._options, name=f"modelab-sample-{session.result_id}")
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
            raise self._translate(exc) from exc


def _count_alive() -> tuple[int | None, float | None]:
    """(alive nodes, their CPUs) from the head; (None, None) when it does not answer."""
    try:
        alive = [node for node in ray.nodes() if node.get("Alive")]
    except Exception as exc:  # a lost head, or ray shut down: unknown, not an error page
        log.warning("counting the Ray cluster's nodes failed: %s", exc)
        return None, None
    return len(alive), float(sum(node.get("Resources", {}).get("CPU", 0.0) for node in alive))


def _by_model(points: list[SweepPoint]) -> list[list[SweepPoint]]:
    """Consecutive points with the same run id (a sampler sweep's points of one seed) share a model."""
    groups: list[list[SweepPoint]] = []
    for point in points:
        if groups and groups[-1][0].config.run_id() == point.config.run_id():
            groups[-1].append(point)
        else:
            groups.append([point])
    return groups


def _cancel(stream: ObjectRefGenerator) -> None:
    """Stop a task that may already have ended (then there is nothing to stop)."""
    try:
        ray.cancel(stream)
    except (RayError, ValueError, TypeError) as exc:
        log.debug("ray.cancel: %s", exc)
