"""Hostile and careless input: non-finite numbers in every float (and int) field of every body and query,
oversized bodies, stored runs an older version accepted, -0, HEAD and 405. Never a 5xx, and every 422
names its field and echoes no more than a short excerpt of the input."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.api.routes.analysis_jobs import RecursiveRequest, SweepRequest
from server.api.schemas import CreateRun
from server.app import MAX_EXCERPT
from server.gaussian.config import ExperimentConfig
from tests.support import TINY_CONFIG, read_events

# Raw JSON tokens: Python's json reads 1e400 as inf, so it counts as non-finite too.
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]
MIXTURE = {"means": [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], "sigma": [0.05, 0.05, 0.05], "weights": [1.0, 1.0, 2.0]}
CUSTOM = {"data": {"dataset": "custom", "mixture": MIXTURE}}
# Every number of an ExperimentConfig, as a path inside it (its float fields, and int fields given a float).
CONFIG_FIELDS = [
    ("data", "mixture", "means", 0, 0), ("data", "mixture", "means", 2, 1), ("data", "mixture", "sigma", 1),
    ("data", "mixture", "weights", 0), ("data", "mixture", "n"), ("schedule", "beta_start"), ("schedule", "beta_end"),
    ("schedule", "T"), ("net", "width"), ("train", "lr"), ("train", "low_t_share"), ("train", "low_t_frac"),
    ("train", "steps"), ("train", "seed"),
]
SENTINEL = "@@number@@"


def raw_body(body: dict[str, Any], path: tuple[str | int, ...], token: str) -> str:
    """``body`` as JSON with the number at ``path`` replaced by the raw ``token`` (json.dumps cannot write 1e400)."""
    body = json.loads(json.dumps(body))
    target = body
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[path[-1]] = SENTINEL
    return json.dumps(body).replace(f'"{SENTINEL}"', token)


def strict_json(text: str) -> Any:
    """Decode as a strict JSON client would: NaN and Infinity are not JSON."""
    def refuse(name: str) -> Any:
        raise AssertionError(f"non-JSON constant {name} in the answer")
    return json.loads(text, parse_constant=refuse)


def assert_names_field(response: Any, field: tuple[str | int, ...]) -> dict[str, Any]:
    assert response.status_code == 422, (response.status_code, response.text[:300])
    body = strict_json(response.text)
    wanted = [str(p) for p in field]
    locs = [[str(p) for p in e["loc"]] for e in body["detail"]]
    # Every part of the field's path, in order (a union adds the tags of its members between them).
    assert any(all(part in iter(loc) for part in wanted) for loc in locs), (wanted, locs)
    assert ".".join(wanted[:3]) in body["message"]
    for error in body["detail"]:
        assert len(json.dumps(error.get("input"))) <= MAX_EXCERPT + 2
    return body


BODY_CASES = [
    ("/api/runs", {"kind": "oracle", "config": CUSTOM}, ("config", *path)) for path in CONFIG_FIELDS
] + [
    ("/api/runs/estimate", {"config": CUSTOM}, ("config", *path)) for path in CONFIG_FIELDS
] + [
    ("/api/analysis/sweeps", {"base": CUSTOM, "param": "width", "values": [64]}, ("base", *path))
    for path in CONFIG_FIELDS
] + [
    ("/api/analysis/recursive", {"config": CUSTOM}, ("config", *path)) for path in CONFIG_FIELDS
] + [
    ("/api/analysis/sweeps", {"param": "spacing", "values": [1.0, 2.0]}, ("values", 1)),
    ("/api/analysis/sweeps", {"param": "width", "values": [64], "seeds": [0, 1]}, ("seeds", 1)),
    ("/api/analysis/sweeps", {"param": "width", "values": [64], "sampler": {"sampler": "ddim", "eta": 0.5}},
     ("sampler", "eta")),
    ("/api/analysis/recursive", {"sampler": {"sampler": "ddim", "eta": 0.5}}, ("sampler", "eta")),
    ("/api/analysis/recursive", {"oversample": 0.1}, ("oversample",)),
    ("/api/analysis/recursive", {"generations": 2}, ("generations",)),
]


@pytest.mark.parametrize("token", NON_FINITE)
@pytest.mark.parametrize(("url", "body", "field"), BODY_CASES,
                         ids=[f"{url.removeprefix('/api/')}:{'.'.join(map(str, f))}" for url, _, f in BODY_CASES])
def test_non_finite_body_number_is_422_naming_the_field(client: TestClient, url: str, body: dict[str, Any],
                                                        field: tuple[str | int, ...], token: str) -> None:
    response = client.post(url, content=raw_body(body, field, token), headers={"content-type": "application/json"})
    assert_names_field(response, ("body", *field))


MODELS = {"/api/runs": CreateRun, "/api/runs/estimate": CreateRun, "/api/analysis/sweeps": SweepRequest,
          "/api/analysis/recursive": RecursiveRequest}


@pytest.mark.parametrize(("url", "body", "field"), BODY_CASES[::len(CONFIG_FIELDS)] + BODY_CASES[-6:])
def test_the_cases_are_valid_without_the_bad_number(url: str, body: dict[str, Any], field: Any) -> None:
    """The bodies above fail only because of the number (validated by the route's model: no job is queued)."""
    MODELS[url].model_validate(body)


QUERY_CASES = [
    ("sample", {"sampler": "ddim"}, "eta"), ("sample", {}, "n"), ("sample", {}, "seed"),
    ("analysis/runs/{run}/detectors", {"sampler": "ddim"}, "eta"), ("analysis/runs/{run}/detectors", {}, "n"),
    ("analysis/runs/{run}/mechanism", {}, "t"),
]


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e999"])
@pytest.mark.parametrize(("route", "query", "field"), QUERY_CASES)
def test_non_finite_query_number_is_422_naming_the_field(client: TestClient, route: str, query: dict[str, str],
                                                         field: str, text: str) -> None:
    run_id = client.post("/api/runs", json={"kind": "oracle", "config": {}}).json()["run_id"]
    url = f"/api/runs/{run_id}/sample" if route == "sample" else f"/api/{route.format(run=run_id)}"
    assert_names_field(client.get(url, params={**query, field: text}), ("query", field))


def test_validation_errors_echo_only_an_excerpt(client: TestClient) -> None:
    means = [[float(i), 0.0] for i in range(64)]
    body = {"kind": "oracle", "config": {"data": {"dataset": "custom", "mixture": {"means": means, "sigma": 0.1,
                                                                                      "nope": "x" * 100_000}}}}
    response = client.post("/api/runs", json=body)
    assert response.status_code == 422 and len(response.content) < 2000
    whole = client.post("/api/runs", content="[" + "1," * 50_000 + "1]", headers={"content-type": "application/json"})
    assert whole.status_code == 422 and len(whole.content) < 2000


def test_huge_weights_are_normalised_without_overflow(client: TestClient) -> None:
    config = {"data": {"dataset": "custom", "mixture": {"means": [1, 2, 3], "sigma": 0.1, "weights": [1e308] * 3}},
              "schedule": {"T": 20}}
    run = client.post("/api/runs", json={"kind": "oracle", "config": config})
    assert run.status_code == 202
    events = read_events(client, f"/api/runs/{run.json()['run_id']}/sample?n=30&frames=2&window=2")
    assert dict(events)["meta"]["weights"] == pytest.approx([1 / 3] * 3)


def test_minus_zero_is_zero(client: TestClient, trained_run: str) -> None:
    ids = []
    for eta in ("0", "-0", "-0.0", "0e5"):
        events = read_events(client, f"/api/runs/{trained_run}/sample?n=20&frames=2&sampler=ddim&eta={eta}")
        ids.append(dict(events)["meta"]["result_id"])
    assert len(set(ids)) == 1
    config = {"data": {"dataset": "custom", "mixture": {"means": [0, 1], "sigma": 0.1}}}
    negative = {"data": {"dataset": "custom", "mixture": {"means": [-0.0, 1], "sigma": 0.1}}}
    assert ExperimentConfig.model_validate(config).run_id() == ExperimentConfig.model_validate(negative).run_id()


# ---------------------------------------------------------------------------- runs stored by an older version


def store_nan_run(app: FastAPI) -> str:
    """A finished oracle run whose stored config holds a NaN mean, as an older version wrote it."""
    config = ExperimentConfig.model_validate({**TINY_CONFIG, "data": {"dataset": "1d-123"}})
    text = config.canonical_json()
    data = json.loads(text)
    data["data"] = {"dataset": "custom", "mixture": {"means": [[math.nan], [1.0], [2.0]], "n": 20000, "sigma": 0.1,
                                                     "weights": None}, "n": None}
    bad = json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert "NaN" in bad
    run_id = "badbadbadbad0000"
    app.state.store.put(run_id, "oracle", bad, "done")
    return run_id


def test_a_stored_nan_run_is_skipped_in_lists_and_409_by_name(client: TestClient, app: FastAPI) -> None:
    good = client.post("/api/runs", json={"kind": "oracle", "config": {}}).json()["run_id"]
    bad = store_nan_run(app)
    listed = client.get("/api/runs")
    assert listed.status_code == 200
    ids = [r["run_id"] for r in strict_json(listed.text)]
    assert good in ids and bad not in ids
    for url in (f"/api/runs/{bad}", f"/api/runs/{bad}/sample?n=10&frames=2", f"/api/runs/{bad}/events",
                f"/api/analysis/runs/{bad}/detectors", f"/api/analysis/runs/{bad}/mechanism", f"/run/{bad}"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 409, (url, response.status_code)
        assert bad in response.text and "means" in response.text
    assert client.get("/analysis").status_code == 200
    assert client.get("/healthz").json()["sample_streams"] == 0


# ---------------------------------------------------------------------------- body size


def test_a_body_over_the_limit_is_413(client: TestClient, app: FastAPI) -> None:
    limit = app.state.settings.max_body_kb * 1024
    big = b'{"kind": "oracle", "config": {}, "pad": "' + b"x" * limit + b'"}'
    response = client.post("/api/runs", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "KB" in response.json()["detail"]

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(limit // 4096 + 2):
            yield b" " * 4096
    chunked = client.post("/api/runs", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    # Just under the limit the body is read and judged on its content.
    fits = b'{"kind": "oracle", "config": {}}' + b" " * (limit - 100)
    response = client.post("/api/runs", content=fits, headers={"content-type": "application/json"})
    assert response.status_code in (200, 202)


# ---------------------------------------------------------------------------- methods


def test_head_answers_where_get_answers_a_page(client: TestClient) -> None:
    for url in ("/", "/healthz", "/api/runs", "/analysis"):
        head = client.head(url)
        assert head.status_code == 200, url
        assert head.headers["content-type"] == client.get(url).headers["content-type"]


def test_405_names_every_method_of_the_path(client: TestClient) -> None:
    run_id = client.post("/api/runs", json={"kind": "oracle", "config": {}}).json()["run_id"]
    cases = {"/api/runs": {"GET", "HEAD", "POST"}, f"/api/runs/{run_id}": {"GET", "HEAD"},
             f"/api/runs/{run_id}/job": {"DELETE"}, f"/api/runs/{run_id}/sample": {"GET"},
             "/api/runs/estimate": {"POST"}}  # that route's methods, not those of /api/runs/{run_id}
    for url, methods in cases.items():
        response = client.put(url)
        assert response.status_code == 405, url
        assert set(response.headers["allow"].split(", ")) == methods, url


def test_a_diverged_training_does_not_break_the_run_list(client: TestClient, app: FastAPI) -> None:
    """A loss that went NaN is stored as null (jobs.py: finite_or_none); the run lists and reads as usual."""
    config = ExperimentConfig.model_validate(TINY_CONFIG)
    metrics = {"steps": 200, "train_seconds": 1.0, "final_loss": None, "loss_history": [[100, 0.4], [200, None]]}
    app.state.store.put(config.run_id(), "trained", config.canonical_json(), "done", metrics=metrics)
    listed = client.get("/api/runs")
    assert listed.status_code == 200 and config.run_id() in [r["run_id"] for r in listed.json()]
    assert client.get(f"/api/runs/{config.run_id()}").json()["metrics"]["loss_history"] == [[100, 0.4], [200, None]]
