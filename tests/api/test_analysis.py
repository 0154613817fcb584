"""The /analysis API: mechanism and detector views of a stored run, sweep and recursive jobs.

Tiny configs only (1D, T = 50, 60 training steps): the whole module runs in a few seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.streaming.encode import decode_typed_array
from tests.support import TINY_CONFIG, read_events
from tests.url_decode import decode

TINY_BASE: dict[str, Any] = {"data": {"dataset": "1d-123"}, "schedule": {"T": 50},
                             "train": {"steps": 60, "batch": 128, "warmup": 5}}
SWEEP = {"base": TINY_BASE, "sampler": {"n": 200}, "param": "n_train", "values": [100, 1000], "seeds": [0, 1]}
RECURSIVE = {"config": {**TINY_BASE, "data": {"dataset": "1d-123", "n": 200}}, "sampler": {"n": 200},
             "generations": 2, "filters": ["variance", "random"]}


def test_page_is_served_with_its_bootstrap(client: TestClient, trained_run: str) -> None:
    response = client.get("/analysis")
    assert response.status_code == 200
    assert '/static/js/analysis/main.js' in response.text
    assert trained_run in response.text  # the stored run is offered
    assert client.get("/static/js/analysis/mechanism.js").status_code == 200


def test_mechanism_of_a_stored_run(client: TestClient, trained_run: str) -> None:
    url = f"/api/analysis/runs/{trained_run}/mechanism"
    body = client.get(url, params={"t": 3, "n_curve": 51}).json()
    assert body["t"] == 3 and body["dim"] == 1 and body["T"] == TINY_CONFIG["schedule"]["T"]
    for key in ("coordinate", "denoiser_exact", "denoiser_learned", "eps_exact", "eps_learned"):
        assert decode_typed_array(body[key]).shape == (51,)
    assert body["map"] is None  # 1D
    assert len(body["midpoint_slopes"]) > 3 and body["cached"] is False
    exact = decode_typed_array(body["denoiser_exact"])
    assert np.all(np.diff(exact) >= -1e-4)  # E[x0|x_t] is monotone in 1D
    again = client.get(url, params={"t": 3, "n_curve": 51}).json()
    assert again["cached"] is True and again["denoiser_learned"] == body["denoiser_learned"]
    other = client.get(url, params={"t": 40, "n_curve": 51, "slopes": "false"}).json()
    assert other["midpoint_slopes"] is None and other["denoiser_learned"] != body["denoiser_learned"]


def test_mechanism_2d_oracle_has_maps(client: TestClient) -> None:
    run = client.post("/api/runs", json={"kind": "oracle", "config": {"data": {"dataset": "grid25"},
                                                                      "schedule": {"T": 100}}}).json()
    body = client.get(f"/api/analysis/runs/{run['run_id']}/mechanism",
                      params={"t": 1, "n_map": 11, "slopes": "false"}).json()
    assert decode_typed_array(body["map"]["abs_eps_error"]).shape == (11, 11)
    assert float(body["map"]["abs_eps_error_max"]) < 1e-6  # the oracle is the exact denoiser
    assert decode_typed_array(body["map"]["field_eps_exact"]).shape == (13, 13, 2)


def test_mechanism_errors(client: TestClient, app: FastAPI, trained_run: str) -> None:
    assert client.get("/api/analysis/runs/0123456789abcdef/mechanism").status_code == 404
    assert client.get("/api/analysis/runs/not-a-run/mechanism").status_code == 404
    record = app.state.store.get(trained_run)
    app.state.store.put("00000000000000aa", "trained", record.config_json, "queued")
    assert client.get("/api/analysis/runs/00000000000000aa/mechanism").status_code == 409
    bad = client.get(f"/api/analysis/runs/{trained_run}/mechanism", params={"t": 100})
    assert bad.status_code == 422 and "query.t" in bad.json()["message"] and "99" in bad.json()["message"]
    bad = client.get(f"/api/analysis/runs/{trained_run}/mechanism", params={"n_curve": 5})
    assert bad.status_code == 422 and "query.n_curve" in bad.json()["message"] and "11" in bad.json()["message"]
    assert client.get(f"/api/analysis/runs/{trained_run}/mechanism", params={"bogus": 1}).status_code == 422


def test_detector_bench_scores_every_window(client: TestClient, trained_run: str) -> None:
    body = client.get(f"/api/analysis/runs/{trained_run}/detectors",
                      params={"n": 300, "window": 6, "lid_draws": 4}).json()
    assert body["n_samples"] == 300 and body["window"] == 6
    assert set(body["detectors"]) == {"variance", "lid", "oracle", "oracle_final", "nn_distance"}
    assert sorted(body["variance_by_window"], key=int) == ["2", "3", "4", "5", "6"]
    assert body["variance_by_window"]["6"]["auroc"] == body["detectors"]["variance"]["auroc"]
    assert body["winner"] in ("variance", "lid", "nn_distance")
    for d in body["detectors"].values():
        assert len(d["roc"]["fpr"]) == len(d["roc"]["tpr"]) == 101
    assert decode_typed_array(body["labels"]).shape == (300,)


def test_detector_bench_errors(client: TestClient, app: FastAPI, trained_run: str) -> None:
    url = f"/api/analysis/runs/{trained_run}/detectors"
    assert client.get("/api/analysis/runs/0123456789abcdef/detectors").status_code == 404
    long = client.get(url, params={"window": 101})
    assert long.status_code == 422 and "query.window" in long.json()["message"]
    too_big = client.get(url, params={"n": 5001})
    assert too_big.status_code == 422 and "query.n" in too_big.json()["message"] and "5000" in too_big.json()["message"]
    odd = client.get(url, params={"lid_draws": 3})
    assert odd.status_code == 422 and "lid_draws" in odd.json()["message"]
    eta = client.get(url, params={"eta": 0.5})
    assert eta.status_code == 422 and "eta" in eta.json()["message"]
    gate = app.state.analysis_gate
    assert gate.admit()  # hold the only computation place: a new computation is refused
    try:
        busy = client.get(url, params={"n": 123})
        assert busy.status_code == 429 and busy.headers["Retry-After"]
    finally:
        gate.release()


def test_sweep_job_streams_progress_and_repeats_for_free(client: TestClient) -> None:
    created = client.post("/api/analysis/sweeps", json=SWEEP)
    assert created.status_code == 202
    job_id = created.json()["job_id"]
    events = read_events(client, f"/api/analysis/jobs/{job_id}/events")
    names = [e for e, _ in events]
    assert names[-1] == "done" and names.count("point") == 4 and "progress" in names
    result = events[-1][1]["result"]
    assert [s["value"] for s in result["series"]] == [100, 1000]
    assert all(len(s["per_seed"]) == 2 and s["std"] >= 0 for s in result["series"])
    again = client.post("/api/analysis/sweeps", json=SWEEP)
    assert again.status_code == 200 and again.json()["status"] == "done" and again.json()["result"] == result
    assert read_events(client, f"/api/analysis/jobs/{job_id}/events")[0][0] == "done"
    # Extending the sweep by a seed trains only the new points: the first four come from the cache.
    extended = client.post("/api/analysis/sweeps", json={**SWEEP, "seeds": [0, 1, 2]})
    assert extended.status_code == 202
    final = read_events(client, f"/api/analysis/jobs/{extended.json()['job_id']}/events")[-1][1]
    assert final["status"] == "done" and final["cached"] == 4 and final["total"] == 6
    assert client.get(f"/api/analysis/jobs/{job_id}").json()["status"] == "done"
    assert client.delete(f"/api/analysis/jobs/{job_id}").status_code == 409


def test_sweep_points_are_stored_runs_the_explorer_opens(client: TestClient) -> None:
    sweep = {**SWEEP, "values": [120], "seeds": [3]}
    job = client.post("/api/analysis/sweeps", json=sweep).json()
    point = read_events(client, f"/api/analysis/jobs/{job['job_id']}/events")[-1][1]["result"]["points"][0]
    run = client.get(f"/api/runs/{point['run_id']}").json()
    assert run["status"] == "done" and run["kind"] == "trained" and run["config"]["data"]["n"] == 120
    assert run["metrics"]["steps"] == 60 and run["metrics"]["train_seconds"] == point["train_seconds"]
    # /run/{run_id} sends a person to the explorer, its address holding that config.
    opened = client.get(f"/run/{point['run_id']}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].startswith("/#")
    config, _, view, _, problems = decode(opened.headers["location"][2:])
    assert problems == [] and config.run_id() == point["run_id"] and view.get("kind", "trained") == "trained"
    assert client.get("/run/0123456789abcdef", follow_redirects=False).status_code == 404
    assert client.get("/run/..%2F..%2Fetc", follow_redirects=False).status_code == 404


@pytest.mark.parametrize(("change", "field"), [
    ({"values": ["abc"]}, "body.values.0"),
    ({"values": [5]}, "body.values"),  # n_train 5 < 10: the config model names it
    ({"values": [100, 100]}, "body.values"),
    ({"values": list(range(100, 108)), "seeds": [0, 1, 2, 3]}, "body.values"),
    ({"base": {**TINY_BASE, "train": {"steps": 30_000}}}, "body.base.train.steps"),
    ({"param": "depth"}, "body.param"),
    # 15,000 steps on 1d-123's 20,000 points: N = 100,000 at the same epochs needs 75,000 (over the 20,000 limit).
    ({"param": "n_train_epochs", "values": [100, 100_000], "base": {**TINY_BASE, "train": {"steps": 15_000}}},
     "body.values.1"),
    ({"sampler": {"n": 10}}, "body.sampler.n"),
    ({"extra": 1}, "body.extra"),
])
def test_sweep_validation(client: TestClient, change: dict[str, Any], field: str) -> None:
    response = client.post("/api/analysis/sweeps", json={**SWEEP, **change})
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]


def test_full_queue_is_429_and_cancel(client: TestClient, app: FastAPI) -> None:
    runner = app.state.analysis
    slow = {**SWEEP, "base": {**TINY_BASE, "train": {"steps": 20_000, "batch": 64}}, "values": [100], "seeds": [7]}
    created = client.post("/api/analysis/sweeps", json=slow)
    assert created.status_code == 202
    job_id = created.json()["job_id"]
    runner.queue_size = 0
    try:
        full = client.post("/api/analysis/sweeps", json={**slow, "seeds": [8]})
        assert full.status_code == 429 and int(full.headers["Retry-After"]) > 0
    finally:
        runner.queue_size = 4
    assert client.delete(f"/api/analysis/jobs/{job_id}").json() == {"job_id": job_id, "status": "cancelled"}
    events = read_events(client, f"/api/analysis/jobs/{job_id}/events")
    assert events[-1][0] == "done" and events[-1][1]["status"] == "cancelled"
    assert client.get(f"/api/analysis/jobs/{job_id}").json()["status"] == "cancelled"


def test_unknown_jobs_are_404(client: TestClient) -> None:
    for job_id in ("0123456789abcdef", "nope", "../../etc"):
        assert client.get(f"/api/analysis/jobs/{job_id}").status_code == 404
        assert client.get(f"/api/analysis/jobs/{job_id}/events").status_code == 404
        assert client.delete(f"/api/analysis/jobs/{job_id}").status_code == 404


def test_recursive_job(client: TestClient) -> None:
    created = client.post("/api/analysis/recursive", json=RECURSIVE)
    assert created.status_code == 202 and created.json()["total"] == 4
    events = read_events(client, f"/api/analysis/jobs/{created.json()['job_id']}/events")
    assert [e for e, _ in events].count("generation") == 4
    result = events[-1][1]["result"]
    assert result["generations"] == 2 and set(result["curves"]) == {"variance", "random"}
    row = result["history"]["variance"][1]
    assert len(row["per_mode_counts"]) == 3 and len(row["scatter"]["points"]) == 205  # N·(1 + 0.025) drawn
    assert client.post("/api/analysis/recursive", json=RECURSIVE).status_code == 200


@pytest.mark.parametrize(("change", "field"), [
    ({"filters": ["variance", "variance"]}, "body.filters"),
    ({"filters": ["magic"]}, "body.filters.0"),
    ({"generations": 9}, "body.generations"),
    ({"filters": []}, "body.filters"),
])
def test_recursive_validation(client: TestClient, change: dict[str, Any], field: str) -> None:
    response = client.post("/api/analysis/recursive", json={**RECURSIVE, **change})
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]
