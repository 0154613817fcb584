"""The server on a real two-node Ray cluster (a head and a second node, one CPU each, on this machine).

Each node is a ``ray start`` process group with its own raylet and worker processes (``tests/ray/cluster.py``,
files in a temporary directory); the web app connects to it as ``MODELAB_RAY_ADDRESS`` does and must give the
same bits as the embedded default (same seeds, one thread each): a trained model, its loss history, its sample
streams, a sweep's and a recursive run's figures. Then workers are killed mid-job (retried; with no retry left,
failed with a message) and jobs are cancelled or abandoned (their workers freed), the server answering throughout.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.gaussian.checkpoint import load_checkpoint
from server.gaussian.config import ExperimentConfig
from server.jobs.ray_address import ClusterUnreachable
from server.settings import Settings
from tests.support import REPO, free_port, parse_sse, read_events, serve_in_thread

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'): the Ray cluster tests need it")

from tests.ray.cluster import LocalCluster, TaskWatch, worker_pids  # noqa: E402  (imports ray)

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

# 1D, T = 50: a training job, a stream and a sweep of a few seconds each.
BASE: dict[str, Any] = {"data": {"dataset": "1d-123"}, "schedule": {"T": 50},
                        "train": {"steps": 60, "batch": 128, "warmup": 5}}
SWEEP = {"base": BASE, "sampler": {"n": 200}, "param": "n_train", "values": [100, 1000], "seeds": [0]}
SAMPLE = "n=300&frames=8&seed=11&window=4"
RECURSIVE = {"config": {**BASE, "data": {"dataset": "1d-123", "n": 200}}, "sampler": {"n": 200},
             "generations": 2, "filters": ["variance", "random"]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster(tmp_path_factory.mktemp("ray"))
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # this process's drivers (the web apps) as the nodes
    try:
        cluster.start()
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


def settings(path: Path, **more: Any) -> Settings:
    return Settings(data_dir=path, torch_threads=1, solo_sample_threads=1, progress_interval=0.05, **more)


def train(client: TestClient, config: dict[str, Any]) -> dict[str, Any]:
    run = client.post("/api/runs", json={"config": config}).json()
    events = read_events(client, f"/api/runs/{run['run_id']}/events")
    assert events[-1][0] == "done" and events[-1][1]["status"] == "done", events[-1]
    return client.get(f"/api/runs/{run['run_id']}").json()


def analysis(client: TestClient, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    job = client.post(f"/api/analysis/{kind}", json=body).json()
    events = read_events(client, f"/api/analysis/jobs/{job['job_id']}/events")
    assert events[-1][0] == "done" and events[-1][1]["status"] == "done", events[-1]
    return events[-1][1]["result"]  # type: ignore[no-any-return]


def lab(client: TestClient, data: Path) -> dict[str, Any]:
    """Train, stream a sample of the trained run and of an oracle run, and sweep: what must match."""
    run = train(client, BASE)
    weights = load_checkpoint(data / "runs" / run["run_id"] / "model.safetensors").net.state_dict()
    oracle = client.post("/api/runs", json={"config": {"data": {"dataset": "grid25"}, "schedule": {"T": 40}},
                                            "kind": "oracle"}).json()["run_id"]
    streams = [read_events(client, f"/api/runs/{run_id}/sample?{SAMPLE}") for run_id in (run["run_id"], oracle)]
    return {"run": run, "weights": weights, "streams": streams, "sweep": analysis(client, "sweeps", SWEEP),
            "recursive": analysis(client, "recursive", RECURSIVE)}


def test_ray_gives_the_same_bits_as_in_process(cluster: LocalCluster, tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path / "local"))) as client:
        assert client.app.state.executor.name == "local"  # type: ignore[attr-defined]
        local = lab(client, tmp_path / "local")
    with TestClient(create_app(settings(tmp_path / "ray", ray_address=cluster.address))) as client:
        executor = client.app.state.executor  # type: ignore[attr-defined]
        assert executor.name == "ray" and executor.cluster_cpus() == 2
        assert client.get("/healthz").json()["backend"] == {"name": "ray", "address": cluster.address, "nodes": 2,
                                                            "cpus": 2.0}
        with TaskWatch("modelab-recursive-") as tasks:
            remote = lab(client, tmp_path / "ray")
    assert local["run"]["run_id"] == remote["run"]["run_id"]
    assert local["run"]["metrics"]["loss_history"] == remote["run"]["metrics"]["loss_history"]
    assert local["weights"].keys() == remote["weights"].keys()
    assert all(local["weights"][k].equal(remote["weights"][k]) for k in local["weights"])
    for ours, theirs in zip(local["streams"], remote["streams"], strict=True):
        assert [name for name, _ in ours][-1] == "done"
        assert ours == theirs  # every frame and the result, value for value
    for key in ("series", "values", "seeds"):
        assert local["sweep"][key] == remote["sweep"][key]
    figures = ("share_between_modes", "share_in_support", "share_outside", "variance_auroc", "run_id", "final_loss")
    assert [{k: p[k] for k in figures} for p in local["sweep"]["points"]] == \
           [{k: p[k] for k in figures} for p in remote["sweep"]["points"]]
    curves = local["recursive"]["curves"]
    assert set(curves) == {"variance", "random"} and curves == remote["recursive"]["curves"]
    timings = {"train_seconds", "filter_seconds"}
    for name in curves:  # every generation's figures, labels and counts; its timings aside
        ours, theirs = local["recursive"]["history"][name], remote["recursive"]["history"][name]
        assert [{k: v for k, v in r.items() if k not in timings} for r in ours] == \
               [{k: v for k, v in r.items() if k not in timings} for r in theirs]
    # On Ray, one task per generation: generation 0 shared by the filters, then one per filter.
    run_id = ExperimentConfig.model_validate(RECURSIVE["config"]).run_id()
    assert {name.removeprefix(f"modelab-recursive-{run_id}-") for name in tasks.seen} == \
           {"g0", "g1-variance", "g1-random"}


def wait_for_worker(task_prefix: str) -> int:
    """The pid of the worker running the task, as soon as it runs."""
    deadline = time.monotonic() + 60
    while not (pids := worker_pids(task_prefix)):
        assert time.monotonic() < deadline, f"no worker ran {task_prefix}"
        time.sleep(0.02)
    (pid,) = pids
    return pid


def test_a_killed_worker_is_retried_and_the_server_keeps_serving(cluster: LocalCluster, tmp_path: Path) -> None:
    config = {**BASE, "train": {"steps": 2000, "batch": 128, "warmup": 5, "seed": 5}}
    with TestClient(create_app(settings(tmp_path / "ray", ray_address=cluster.address, ray_max_retries=1))) as client:
        run = client.post("/api/runs", json={"config": config}).json()
        prefix = f"modelab-train-{run['run_id']}"
        pid = wait_for_worker(prefix)
        os.kill(pid, signal.SIGKILL)
        assert client.get("/healthz").json()["running"] == 1  # the web process is unaffected
        events = read_events(client, f"/api/runs/{run['run_id']}/events")
        assert events[-1][0] == "done" and events[-1][1]["status"] == "done", events[-1]
        record = client.get(f"/api/runs/{run['run_id']}").json()
        assert record["status"] == "done", record
        assert record["metrics"]["loss_history"][-1][0] == 2000
        assert worker_pids(prefix) == [] and (tmp_path / "ray" / "runs" / run["run_id"] / "model.safetensors").exists()

        # With no retry left, a killed worker fails the job with a message that says so; the store keeps the run.
        client.app.state.executor._options["max_retries"] = 0  # type: ignore[attr-defined]
        again = client.post("/api/runs", json={"config": {**config, "train": {**config["train"], "seed": 6}}}).json()
        os.kill(wait_for_worker(f"modelab-train-{again['run_id']}"), signal.SIGKILL)
        events = read_events(client, f"/api/runs/{again['run_id']}/events")
        assert events[-1][0] == "error" and "Ray worker" in events[-1][1]["message"], events[-1]
        assert client.get(f"/api/runs/{again['run_id']}").json()["status"] == "failed"
        assert client.get(f"/api/runs/{run['run_id']}").json()["status"] == "done"
        assert client.get("/healthz").status_code == 200


def test_cancel_and_disconnect_free_the_workers(cluster: LocalCluster, tmp_path: Path) -> None:
    """A cancelled job and a stream whose client left stop their Ray tasks within seconds (real uvicorn)."""
    app = create_app(settings(tmp_path / "ray", ray_address=cluster.address))
    server, thread, base = serve_in_thread(app, lifespan="on", timeout_graceful_shutdown=5)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            config = {**BASE, "train": {"steps": 20_000, "batch": 128, "warmup": 5, "seed": 9}}
            run_id = client.post("/api/runs", json={"config": config}).json()["run_id"]
            prefix = f"modelab-train-{run_id}"
            wait_for_worker(prefix)
            assert client.delete(f"/api/runs/{run_id}/job").status_code == 200
            wait_until(lambda: not worker_pids(prefix), 5.0)
            assert client.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"

            oracle = client.post("/api/runs", json={"kind": "oracle", "config": {
                "data": {"dataset": "grid25"}, "schedule": {"T": 1000}}}).json()["run_id"]
            with client.stream("GET", f"/api/runs/{oracle}/sample?n=10000&frames=200&seed=4") as response:
                assert response.status_code == 200
                lines = response.iter_lines()
                while next(lines) != "event: frame":  # the task is computing
                    pass
                wait_for_worker("modelab-sample-")
            wait_until(lambda: not worker_pids("modelab-sample-"), 5.0)
            assert client.get("/healthz").json()["sample_streams"] == 0
    finally:
        server.should_exit = True
        thread.join(30)


def wait_until(predicate: Any, timeout: float) -> float:
    """Seconds until ``predicate()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, f"still not true after {timeout} s"
        time.sleep(0.02)
    return time.monotonic() - start


def modelab(*args: str, data: Path) -> subprocess.Popen[str]:
    """``modelab`` (``python -m server.cli``) in a child process on ``data``, as an operator starts it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MODELAB_DATA_DIR": str(data), "MODELAB_TORCH_THREADS": "1",
           "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}
    env.pop("MODELAB_RAY_ADDRESS", None)
    return subprocess.Popen([sys.executable, "-m", "server.cli", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_modelab_serve_ray_runs_its_streams_on_the_cluster(cluster: LocalCluster, tmp_path: Path) -> None:
    port = free_port()
    server = modelab("serve", "--ray", cluster.address, "--port", str(port), data=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                health = httpx.get(f"{base}/healthz", timeout=2).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "modelab serve --ray did not answer within 120 s"
                time.sleep(0.2)
        assert health["backend"] == {"name": "ray", "address": cluster.address, "nodes": 2, "cpus": 2.0}
        with httpx.Client(base_url=base, timeout=120) as client:
            oracle = client.post("/api/runs", json={"kind": "oracle", "config": {
                "data": {"dataset": "grid25"}, "schedule": {"T": 40}}}).json()["run_id"]
            with client.stream("GET", f"/api/runs/{oracle}/sample?{SAMPLE}") as response:
                assert response.status_code == 200
                events = list(parse_sse(response.iter_lines()))
            assert [name for name, _ in events].count("frame") == 8 and events[-1][0] == "done", events[-1]
            assert client.get("/healthz").json()["sample_streams"] == 0
            wait_until(lambda: not worker_pids("modelab-sample-"), 5.0)  # the task ended, on the cluster
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    # SIGTERM: uvicorn runs the app's shutdown (the executor leaves the cluster), then re-raises the signal it caught.
    assert server.returncode == -signal.SIGTERM and "Application shutdown complete." in output, output


def test_a_bad_ray_address_stops_serve_at_once_with_a_message(tmp_path: Path) -> None:
    """Where no head listens, ``modelab serve --ray`` exits 2 within seconds (ray.init would retry for minutes)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))  # a port nothing listens on: bound, never listening
        address = f"127.0.0.2:{sock.getsockname()[1]}"
        start = time.monotonic()
        server = modelab("serve", "--ray", address, "--port", str(free_port()), data=tmp_path)
        output = server.communicate(timeout=60)[0]
    assert server.returncode == 2 and time.monotonic() - start < 30
    assert f"modelab serve: error: --ray: no Ray cluster answers at {address} (connection refused)" in output
    malformed = modelab("serve", "--ray", "head-without-port", data=tmp_path)
    output = malformed.communicate(timeout=60)[0]
    assert malformed.returncode == 2 and "--ray: Ray address 'head-without-port': expected HOST:PORT" in output
    # MODELAB_RAY_ADDRESS (uvicorn without the CLI): the app's startup fails with the same sentence.
    with pytest.raises(ClusterUnreachable, match=f"no Ray cluster answers at {address}"):
        with TestClient(create_app(settings(tmp_path / "env", ray_address=address))):
            pass


def kill_one(task_prefix: str) -> None:
    """SIGKILL a worker running a task named ``task_prefix``…, as soon as one runs."""
    deadline = time.monotonic() + 60
    while not (pids := worker_pids(task_prefix)):
        assert time.monotonic() < deadline, f"no worker ran {task_prefix}"
        time.sleep(0.02)
    os.kill(pids[0], signal.SIGKILL)


def test_a_killed_sweep_worker_is_retried_or_fails_the_sweep(cluster: LocalCluster, tmp_path: Path) -> None:
    base = {**BASE, "train": {"steps": 2000, "batch": 128, "warmup": 5}}
    with TestClient(create_app(settings(tmp_path / "ray", ray_address=cluster.address, ray_max_retries=1))) as client:
        job = client.post("/api/analysis/sweeps", json={**SWEEP, "base": base, "seeds": [21]}).json()
        kill_one("modelab-sweep-")
        events = read_events(client, f"/api/analysis/jobs/{job['job_id']}/events")
        assert events[-1][0] == "done" and events[-1][1]["status"] == "done", events[-1]
        stored = [point["run_id"] for point in events[-1][1]["result"]["points"]]
        assert len(stored) == 2 and all(client.get(f"/api/runs/{r}").json()["status"] == "done" for r in stored)

        # With no retry left, the sweep fails with a message that says so; its other task is cancelled.
        client.app.state.executor._options["max_retries"] = 0  # type: ignore[attr-defined]
        job = client.post("/api/analysis/sweeps", json={**SWEEP, "base": base, "seeds": [22]}).json()
        kill_one("modelab-sweep-")
        events = read_events(client, f"/api/analysis/jobs/{job['job_id']}/events")
        assert events[-1][0] == "error" and events[-1][1]["status"] == "failed", events[-1]
        assert "Ray worker running this work died" in events[-1][1]["message"]
        assert "retries are off (MODELAB_RAY_MAX_RETRIES=0)" in events[-1][1]["message"]
        assert client.get(f"/api/analysis/jobs/{job['job_id']}").json()["status"] == "failed"
        wait_until(lambda: not worker_pids("modelab-sweep-"), 10.0)
        assert all(client.get(f"/api/runs/{r}").json()["status"] == "done" for r in stored)  # the store kept them
        assert client.get("/healthz").json()["running"] == 0


def sample_url(run_id: str, seed: int) -> str:
    return f"/api/runs/{run_id}/sample?n=4000&frames=40&seed={seed}"


def stream_killing_its_worker(client: httpx.Client, url: str) -> list[tuple[str, Any]]:
    """A sample stream's events, its task's worker SIGKILLed once the first frame arrived."""
    events: list[tuple[str, Any]] = []
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        for event in parse_sse(response.iter_lines()):
            if event[0] == "frame" and not any(name == "frame" for name, _ in events):
                kill_one("modelab-sample-")
            events.append(event)
    return events


def test_a_killed_sample_worker_is_retried_or_ends_the_stream_with_an_error(cluster: LocalCluster,
                                                                            tmp_path: Path) -> None:
    """Retried: the viewer sees the very stream the embedded default computes. Not retried: an ``error`` event
    naming the cause, the stream's place given back, nothing stored for it and nothing else lost."""
    oracle = {"kind": "oracle", "config": {"data": {"dataset": "grid25"}, "schedule": {"T": 400}}}
    with TestClient(create_app(settings(tmp_path / "local"))) as local:
        run_id = local.post("/api/runs", json=oracle).json()["run_id"]
        reference = read_events(local, sample_url(run_id, 31))
    app = create_app(settings(tmp_path / "ray", ray_address=cluster.address, ray_max_retries=1))
    server, thread, base = serve_in_thread(app, lifespan="on", timeout_graceful_shutdown=5)
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            assert client.post("/api/runs", json=oracle).json()["run_id"] == run_id
            idle = client.get("/healthz").json()
            assert stream_killing_its_worker(client, sample_url(run_id, 31)) == reference
            kept = reference[0][1]["result_id"]

            app.state.executor._options["max_retries"] = 0
            events = stream_killing_its_worker(client, sample_url(run_id, 32))
            name, data = events[-1]
            assert name == "error" and data["message"].startswith("sampling failed: WorkerLost: the Ray worker "
                                                                  "running this work died"), events[-1]
            assert "retries are off" in data["message"]
            counters = ("sample_streams", "sample_viewers", "queued", "running")
            wait_until(lambda: all(client.get("/healthz").json()[k] == idle[k] for k in counters), 5.0)
            assert client.get(f"/api/results/{events[0][1]['result_id']}").status_code == 404  # nothing stored
            assert client.get(f"/api/results/{kept}").status_code == 200
            assert list(parse_sse(client.get(f"/api/results/{kept}/events").iter_lines())) == reference
            wait_until(lambda: not worker_pids("modelab-sample-"), 5.0)
            short = list(parse_sse(client.get(f"/api/runs/{run_id}/sample?n=200&frames=4&seed=33").iter_lines()))
            assert short[-1][0] == "done"  # the server keeps serving streams
    finally:
        server.should_exit = True
        thread.join(30)
