"""POST /api/runs/estimate: what posting a config would do, starting nothing (the page asks before a
link trains a new model)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from server.app import create_app
from server.jobs.training import SECONDS_PER_SAMPLE_STEP
from server.settings import Settings
from tests.support import TINY_CONFIG


def test_a_new_config_is_estimated_and_nothing_starts(client: TestClient) -> None:
    config = {**TINY_CONFIG, "train": {"steps": 3000, "batch": 2048}}
    reply = client.post("/api/runs/estimate", json={"config": config})
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] is None and body["steps"] == 3000
    assert body["seconds"] > 0
    assert client.get(f"/api/runs/{body['run_id']}").status_code == 404  # not created
    assert client.get("/healthz").json()["queued"] == 0 and client.get("/healthz").json()["running"] == 0


def test_a_wider_net_is_estimated_longer(client: TestClient) -> None:
    def seconds(width: int) -> float:
        config = {"data": {"dataset": "grid25"}, "net": {"width": width}, "train": {"seed": 7}}  # not bundled
        return float(client.post("/api/runs/estimate", json={"config": config}).json()["seconds"])

    default = seconds(128)
    assert default == round(3000 * 2048 * SECONDS_PER_SAMPLE_STEP, 1)  # prior: no job has finished here
    # blocks × width², same prior (width 512 at batch 2048 is over the step budget: a 422, see test_budgets)
    assert seconds(256) == round(3000 * 2048 * 4 * SECONDS_PER_SAMPLE_STEP, 1)


def test_existing_runs_are_answered_not_estimated(client: TestClient) -> None:
    presets = client.get("/api/presets").json()
    ready = next(p for p in presets if p["ready"] and p["kind"] == "trained")
    body = client.post("/api/runs/estimate", json={"config": ready["config"]}).json()
    assert body == {"run_id": ready["run_id"], "status": "done", "steps": ready["config"]["train"]["steps"],
                    "seconds": 0.0}
    oracle = client.post("/api/runs/estimate", json={"kind": "oracle", "config": TINY_CONFIG}).json()
    assert oracle["status"] == "done" and oracle["seconds"] == 0.0


def test_an_estimate_refuses_what_the_run_route_refuses(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path, max_train_steps=150))) as client:
        reply = client.post("/api/runs/estimate", json={"config": TINY_CONFIG})
        assert reply.status_code == 422
        assert reply.json() == client.post("/api/runs", json={"config": TINY_CONFIG}).json()
        bad = client.post("/api/runs/estimate", json={"config": {"net": {"width": 4}}})
        assert bad.status_code == 422 and "net.width" in bad.json()["message"]
