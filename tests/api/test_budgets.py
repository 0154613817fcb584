"""Work budgets: every job and view over its estimated-seconds budget is a 422 before anything is queued
or computed, naming the field that drives the cost, the limit and its setting; the defaults pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings

HEAVIEST_NET = {"width": 512, "blocks": 8, "tied": False}


def assert_over_budget(response: Any, field: str, setting: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"].startswith(f"{field}: "), body["message"]
    assert f"MODELAB_{setting.upper()}" in body["message"] and "lower " in body["message"]
    (error,) = body["detail"]
    assert error["type"] == "over_budget" and error["ctx"]["setting"] == setting
    assert error["ctx"]["estimate_seconds"] > error["ctx"]["limit_seconds"]


def test_the_issues_heaviest_training_is_refused_by_its_step(client: TestClient) -> None:
    config = {"net": HEAVIEST_NET, "train": {"steps": 20_000, "batch": 20_000}}
    response = client.post("/api/runs", json={"config": config})
    assert_over_budget(response, "body.config.train.batch", "max_step_seconds")
    assert "train.batch, net.width or net.blocks" in response.json()["message"]
    assert client.get("/healthz").json()["queued"] == 0
    # The estimate route answers what posting would: the same 422.
    estimate = client.post("/api/runs/estimate", json={"config": config})
    assert_over_budget(estimate, "body.config.train.batch", "max_step_seconds")


def test_long_training_is_refused_by_the_job_budget(client: TestClient) -> None:
    response = client.post("/api/runs", json={"config": {"train": {"steps": 20_000, "batch": 10_000}}})
    assert_over_budget(response, "body.config.train.steps", "max_job_seconds")
    assert "20,000 steps × " in response.json()["message"]


def test_default_recipe_is_accepted(client: TestClient) -> None:
    created = client.post("/api/runs", json={"config": {"train": {"seed": 1}}})  # seed 0 is a bundled model
    assert created.status_code == 202, created.text
    assert client.delete(f"/api/runs/{created.json()['run_id']}/job").status_code == 200


def test_recursive_obeys_the_published_sample_cap(client: TestClient) -> None:
    issue = {"config": {"data": {"dataset": "grid25", "n": 200_000}, "schedule": {"T": 4000}},
             "oversample": 1, "generations": 8}
    response = client.post("/api/analysis/recursive", json=issue)
    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith("body.config.data.n: ") and "400000 samples" in message and "at most 5000" in message
    # At the cap exactly: accepted (4,000 × 1.25 = 5,000 drawn).
    at_cap = {"config": {"data": {"dataset": "1d-123", "n": 4000}, "schedule": {"T": 50},
                         "train": {"steps": 20, "batch": 64, "warmup": 2}}, "oversample": 0.25, "generations": 1,
              "filters": ["none"]}
    created = client.post("/api/analysis/recursive", json=at_cap)
    assert created.status_code == 202, created.text
    client.delete(f"/api/analysis/jobs/{created.json()['job_id']}")


@pytest.mark.parametrize(("change", "field", "setting"), [
    ({"generations": 8, "filters": ["none", "random", "variance", "lid", "oracle"],
      "config": {"data": {"dataset": "grid25", "n": 4000}, "schedule": {"T": 4000}, "train": {"steps": 20_000}}},
     "body.generations", "max_job_seconds"),
    ({"config": {"data": {"dataset": "grid25", "n": 1000}, "net": HEAVIEST_NET, "train": {"batch": 20_000}}},
     "body.config.train.batch", "max_step_seconds"),
])
def test_heavy_recursive_runs_are_refused(client: TestClient, change: dict[str, Any], field: str,
                                          setting: str) -> None:
    assert_over_budget(client.post("/api/analysis/recursive", json=change), field, setting)


def test_default_recursive_request_is_accepted(client: TestClient) -> None:
    created = client.post("/api/analysis/recursive", json={})
    assert created.status_code == 202, created.text
    assert created.json()["request"]["config"]["data"]["n"] == 2000
    client.delete(f"/api/analysis/jobs/{created.json()['job_id']}")


@pytest.mark.parametrize(("body", "field", "setting"), [
    ({"param": "n_train", "values": list(range(1000, 9000, 1000)), "seeds": [0, 1, 2], "sampler": {"n": 5000}},
     "body.values", "max_job_seconds"),
    ({"param": "width", "values": [64, 512], "base": {"net": {"blocks": 8, "tied": False}, "train": {"batch": 4096}}},
     "body.values", "max_step_seconds"),
    ({"param": "steps", "values": [100, 200], "base": {"net": HEAVIEST_NET, "train": {"batch": 20_000}}},
     "body.base.train.batch", "max_step_seconds"),
])
def test_heavy_sweeps_are_refused(client: TestClient, body: dict[str, Any], field: str, setting: str) -> None:
    assert_over_budget(client.post("/api/analysis/sweeps", json=body), field, setting)


def test_views_over_their_budget_are_refused_before_computing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_view_seconds=0.05)
    with TestClient(create_app(settings)) as client:
        run_id = client.post("/api/runs", json={"kind": "oracle", "config": {}}).json()["run_id"]
        assert_over_budget(client.get(f"/api/analysis/runs/{run_id}/detectors"), "query.n", "max_view_seconds")
        mechanism = client.get(f"/api/analysis/runs/{run_id}/mechanism", params={"n_curve": 1001, "n_map": 81})
        assert_over_budget(mechanism, "query.n_curve", "max_view_seconds")
        assert client.get(f"/api/analysis/runs/{run_id}/mechanism", params={"slopes": False, "n_curve": 11,
                                                                             "n_map": 5}).status_code == 200
        assert client.app.state.analysis_gate.running == 0  # type: ignore[attr-defined]


def test_both_pages_publish_the_budgets(client: TestClient) -> None:
    limits = client.app.state.settings.limits()  # type: ignore[attr-defined]
    assert limits["max_job_seconds"] == 3600 and limits["max_step_seconds"] == 0.5
    for page in ("/", "/analysis"):
        text = client.get(page).text
        assert '"max_job_seconds": 3600.0' in text and '"max_view_seconds": 120.0' in text, page
