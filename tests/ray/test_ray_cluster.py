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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.gaussian.checkpoint import load_checkpoint
from server.settings import Settings
from tests.support import read_events, serve_in_thread

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'): the Ray cluster tests need it")

from tests.ray.cluster import LocalCluster, worker_pids  # noqa: E402  (imports ray)

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
    for name in curves:  # every generation's labels and counts; its timings aside
        ours, theirs = local["recursive"]["history"][name], remote["recursive"]["history"][name]
        assert [r["per_mode_counts"] for r in ours] == [r["per_mode_counts"] for r in theirs]
        assert [r["scatter"] for r in ours] == [r["scatter"] for r in theirs]


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
