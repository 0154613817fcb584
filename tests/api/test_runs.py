"""Runs: create (dedupe), read, train through the job queue, cancel, and every error status."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.gaussian.config import ExperimentConfig
from server.settings import Settings
from tests.support import TINY_CONFIG, parse_sse, read_events

NOT_IDS = ["xyz", "0" * 15, "0" * 17, "0123456789ABCDEF", "a" * 5000, "..", "0123456789abcdeg", "%00"]


def wait_status(client: TestClient, run_id: str, wanted: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in wanted:
            return run
        time.sleep(0.02)
    raise AssertionError(f"{run_id} never reached {wanted}: {run}")


def test_datasets_list_the_named_mixtures(client: TestClient) -> None:
    datasets = {d["name"]: d for d in client.get("/api/datasets").json()}
    assert set(datasets) == {"1d-123", "1d-1245", "grid25", "diamond25"}
    assert datasets["grid25"]["dim"] == 2 and len(datasets["grid25"]["mixture"]["means"]) == 25
    assert datasets["1d-123"]["mixture"]["means"] == [[1.0], [2.0], [3.0]]


def test_presets_are_valid_configs(client: TestClient, settings: Settings) -> None:
    presets = {p["id"]: p for p in client.get("/api/presets").json()}
    assert {"grid25-oracle", "grid25", "diamond25", "1d-123", "1d-1245", "grid25-quick"} <= set(presets)
    assert presets["grid25-oracle"]["kind"] == "oracle"
    assert presets["grid25-quick"]["config"]["train"]["steps"] == settings.quick_steps
    for preset in presets.values():
        ExperimentConfig.model_validate(preset["config"])  # strict: what the page posts back is accepted


def test_oracle_run_is_done_at_once_and_deduplicated(client: TestClient) -> None:
    body = {"kind": "oracle", "config": {"data": {"dataset": "grid25"}, "train": {"steps": 5}}}
    first = client.post("/api/runs", json=body)
    assert first.status_code == 202 and first.json()["status"] == "done"
    # Oracle runs ignore the net and training sections: a different train config is the same run.
    again = client.post("/api/runs", json={"kind": "oracle", "config": {"data": {"dataset": "grid25"}}})
    assert again.status_code == 200 and again.json()["run_id"] == first.json()["run_id"]
    assert again.json()["config"]["train"] == ExperimentConfig().train.model_dump(mode="json")


def test_train_stream_progress_then_done_and_same_config_same_run(client: TestClient) -> None:
    created = client.post("/api/runs", json={"config": TINY_CONFIG})
    assert created.status_code == 202, created.text
    run = created.json()
    assert run["run_id"] == ExperimentConfig.model_validate(TINY_CONFIG).run_id()
    assert run["status"] in ("queued", "running")
    # Same config while the job is active: the same run, no second job.
    again = client.post("/api/runs", json={"config": TINY_CONFIG})
    assert again.status_code == 200 and again.json()["run_id"] == run["run_id"]
    health = client.get("/healthz").json()  # one reading: the job may move from queued to running between two
    assert health["queued"] + health["running"] <= 1

    events = read_events(client, f"/api/runs/{run['run_id']}/events")
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"progress"}
    progress = [data for name, data in events if name == "progress"]
    assert set(progress[0]) - {"preview"} == {"step", "steps", "loss", "elapsed", "eta", "status", "queue_position"}
    assert all(p["steps"] == 200 for p in progress)
    # The network's x̂0 on the preview grid (server.jobs.preview) rides on some progress events, the last step's too.
    previews = [p["preview"] for p in progress if "preview" in p]
    assert previews[-1]["step"] == 200 and previews[-1]["learned"]["shape"] == previews[-1]["exact"]["shape"] == "161,1"
    done = events[-1][1]
    assert done["status"] == "done"
    assert done["metrics"]["steps"] == 200 and len(done["metrics"]["loss_history"]) <= 200

    stored = client.get(f"/api/runs/{run['run_id']}").json()
    assert stored["status"] == "done" and stored["finished_at"] and stored["metrics"]["final_loss"] > 0
    after = client.post("/api/runs", json={"config": TINY_CONFIG})
    assert after.status_code == 200 and after.json()["status"] == "done"
    # A finished run's event stream answers at once.
    assert [name for name, _ in read_events(client, f"/api/runs/{run['run_id']}/events")] == ["done"]
    assert run["run_id"] in [r["run_id"] for r in client.get("/api/runs").json()]


def test_partial_config_fills_defaults(client: TestClient) -> None:
    response = client.post("/api/runs", json={"kind": "oracle", "config": {"schedule": {"T": 50}}})
    assert response.status_code == 202
    config = response.json()["config"]
    assert config["schedule"]["T"] == 50 and config["data"]["dataset"] == "grid25"


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        ({"config": {"train": {"steps": 20_001}}}, "body.config.train.steps", "20000"),
        ({"config": {"train": {"steps": 300_000}}}, "body.config.train.steps", "200000"),
        ({"config": {"train": {"seed": False}}}, "body.config.train.seed", "integer"),  # strict: no bool → int
        ({"config": {"data": {"dataset": "grid26"}}}, "body.config.data.dataset", "grid25"),
        ({"config": {"net": {"width": 4}}}, "body.config.net.width", "8"),
        ({"config": {"bogus": 1}}, "body.config.bogus", "not permitted"),
        ({"kind": "magic"}, "body.kind", "oracle"),
        ({"config": {"data": {"dataset": "custom"}}}, "body.config.data", "mixture"),
    ],
)
def test_bad_configs_get_422_naming_the_field(client: TestClient, body: dict, field: str, needle: str) -> None:
    response = client.post("/api/runs", json=body)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert field in payload["message"] and needle in payload["message"], payload["message"]
    assert any(".".join(map(str, e["loc"])).startswith(field) for e in payload["detail"])


def test_lower_step_limit_from_settings(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path, max_train_steps=150))) as client:
        response = client.post("/api/runs", json={"config": TINY_CONFIG})
        assert response.status_code == 422
        assert response.json()["message"] == "body.config.train.steps: Input should be less than or equal to 150"
        # Presets the server could not train are not offered (bundled ones need no training).
        assert {p["kind"] for p in client.get("/api/presets").json() if not p["ready"]} == {"oracle"}


@pytest.mark.parametrize("run_id", NOT_IDS)
def test_anything_but_a_known_id_is_404(client: TestClient, run_id: str) -> None:
    for method, suffix in [("GET", ""), ("GET", "/events"), ("GET", "/sample"), ("DELETE", "/job")]:
        response = client.request(method, f"/api/runs/{run_id}{suffix}")
        assert response.status_code == 404, (method, suffix, response.text)


def test_path_tricks_are_404(client: TestClient) -> None:
    for path in ["/api/runs/..%2F..%2Fetc%2Fpasswd", "/api/runs/%2e%2e/sample", "/api/runs/0000000000000000"]:
        assert client.get(path).status_code == 404


def test_cancel_queued_and_running_jobs(tmp_path: Path) -> None:
    long = {**TINY_CONFIG, "train": {"steps": 20_000, "batch": 64}}
    queued = {**TINY_CONFIG, "train": {"steps": 20_000, "batch": 64, "seed": 1}}
    with TestClient(create_app(Settings(data_dir=tmp_path, progress_interval=0.02))) as client:
        running_id = client.post("/api/runs", json={"config": long}).json()["run_id"]
        queued_id = client.post("/api/runs", json={"config": queued}).json()["run_id"]
        wait_status(client, running_id, {"running"})
        assert client.get(f"/api/runs/{queued_id}").json()["status"] == "queued"

        assert client.delete(f"/api/runs/{queued_id}/job").json() == {"run_id": queued_id, "status": "cancelled"}
        assert client.get(f"/api/runs/{queued_id}").json()["status"] == "cancelled"
        assert client.delete(f"/api/runs/{queued_id}/job").status_code == 409

        with client.stream("GET", f"/api/runs/{running_id}/events") as response:
            events = parse_sse(response.iter_lines())
            name, data = next(events)
            assert name == "progress" and data["status"] == "running" and data["queue_position"] == 0
            started = time.monotonic()
            assert client.delete(f"/api/runs/{running_id}/job").status_code == 200
            last = list(events)[-1]
        assert last == ("done", {"status": "cancelled", "metrics": None})
        assert time.monotonic() - started < 2
        assert client.get(f"/api/runs/{running_id}").json()["status"] == "cancelled"
        # A cancelled run can be submitted again: it is queued anew under the same id.
        retry = client.post("/api/runs", json={"config": queued})
        assert retry.status_code == 202 and retry.json()["run_id"] == queued_id
        client.delete(f"/api/runs/{queued_id}/job")


def test_cancel_finished_run_is_409(client: TestClient) -> None:
    run_id = client.post("/api/runs", json={"kind": "oracle", "config": {}}).json()["run_id"]
    response = client.delete(f"/api/runs/{run_id}/job")
    assert response.status_code == 409 and "done" in response.json()["detail"]


def test_full_queue_is_429_with_retry_after(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path, queue_size=1))) as client:
        ids = []
        for seed in range(2):  # one running, one queued
            config = {**TINY_CONFIG, "train": {"steps": 20_000, "batch": 64, "seed": seed}}
            ids.append(client.post("/api/runs", json={"config": config}).json()["run_id"])
        wait_status(client, ids[0], {"running"})
        third = client.post("/api/runs", json={"config": {**TINY_CONFIG, "train": {"steps": 100, "seed": 9}}})
        assert third.status_code == 429
        assert int(third.headers["Retry-After"]) >= 1
        queued = client.get(f"/api/runs/{ids[1]}").json()
        assert queued["status"] == "queued"
        # Already-known configs are still answered while the queue is full.
        assert client.post("/api/runs", json={"config": {**TINY_CONFIG, "train": {
            "steps": 20_000, "batch": 64, "seed": 1}}}).status_code == 200
    # Leaving the client ran the lifespan's shutdown: both jobs were cancelled.


def test_shutdown_cancels_jobs(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    config = {**TINY_CONFIG, "train": {"steps": 20_000, "batch": 64}}
    with TestClient(create_app(settings)) as client:
        run_id = client.post("/api/runs", json={"config": config}).json()["run_id"]
        wait_status(client, run_id, {"running"})
    with TestClient(create_app(settings)) as client:
        run = client.get(f"/api/runs/{run_id}").json()
        assert run["status"] == "cancelled" and run["error"] == "server stopped"
