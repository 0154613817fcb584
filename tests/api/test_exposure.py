"""Safe to expose (issue #10): security headers on every answer, /docs without a CDN, the optional shared
token and the read-only mode, and an OpenAPI document that says what each operation answers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from tests.support import TINY_CONFIG, read_events

TOKEN = "class-of-2026-token"
NEW_RUN = {"kind": "trained", "config": TINY_CONFIG}
SWEEP = {"param": "T", "values": [50, 100], "base": TINY_CONFIG}


def lab(tmp_path: Path, **settings: object) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path / "data", progress_interval=0.02, **settings))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def token_client(tmp_path: Path) -> Iterator[TestClient]:
    yield from lab(tmp_path, token=TOKEN)


@pytest.fixture
def read_only_client(tmp_path: Path) -> Iterator[TestClient]:
    yield from lab(tmp_path, read_only=True)


@pytest.mark.parametrize("url", ["/", "/analysis", "/docs", "/openapi.json", "/api/runs", "/healthz",
                                 "/static/js/main.js", "/api/runs/nope", "/no/such/page"])
def test_every_answer_carries_the_security_headers(client: TestClient, url: str) -> None:
    headers = client.get(url).headers
    policy = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self' 'unsafe-eval'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"


def test_streams_carry_the_headers_too(client: TestClient) -> None:
    run_id = client.post("/api/runs", json={"kind": "oracle", "config": TINY_CONFIG}).json()["run_id"]
    with client.stream("GET", f"/api/runs/{run_id}/sample?n=20&frames=2&window=2") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("template", ["index.html", "analysis.html"])
def test_pages_have_no_inline_script_or_handler(template: str) -> None:
    """The CSP refuses inline code: every executable <script> has a src, no element has an on* handler."""
    html = (Path(__file__).resolve().parents[2] / "templates" / template).read_text()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", html)


def test_docs_are_served_from_this_server(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "<script>" not in page.text and "//" not in page.text.replace("<!doctype", "")  # no URL to elsewhere
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert len(assets) == 3
    for url in assets:
        answer = client.get(url)
        assert answer.status_code == 200 and len(answer.content) > 300, url
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/assets/0.0.0/swagger-ui.css").status_code == 404
    assert client.get(assets[0].rsplit("/", 1)[0] + "/index.html").status_code == 404  # only what the page uses


def test_a_token_guards_what_starts_or_cancels_work(token_client: TestClient) -> None:
    refused = token_client.post("/api/runs", json=NEW_RUN)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in refused.json()["detail"]
    wrong = token_client.post("/api/runs", json=NEW_RUN, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert token_client.post("/api/analysis/sweeps", json=SWEEP).status_code == 401
    assert token_client.delete("/api/analysis/jobs/0123456789abcdef").status_code == 401  # before the 404

    auth = {"Authorization": f"Bearer {TOKEN}"}
    created = token_client.post("/api/runs", json=NEW_RUN, headers=auth)
    assert created.status_code == 202
    run_id = created.json()["run_id"]
    # Asking for a run that exists changes nothing: open to all (a shared link resolves its config this way).
    assert token_client.post("/api/runs", json=NEW_RUN).json()["run_id"] == run_id
    assert token_client.delete(f"/api/runs/{run_id}/job").status_code == 401
    assert token_client.delete(f"/api/runs/{run_id}/job", headers=auth).status_code == 200
    deadline = time.monotonic() + 30
    while token_client.get(f"/api/runs/{run_id}").json()["status"] != "cancelled":  # its thread is done with it
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_reading_and_sampling_need_no_token(token_client: TestClient) -> None:
    assert token_client.get("/api/runs").status_code == 200
    events = read_events(token_client, f"/api/runs/{token_client.app.state.default_run}/sample?n=20&frames=2")
    assert events[-1][0] == "done"


def test_read_only_refuses_new_work_and_still_samples(read_only_client: TestClient) -> None:
    client = read_only_client
    for method, url, body in [("POST", "/api/runs", NEW_RUN), ("POST", "/api/analysis/sweeps", SWEEP),
                              ("POST", "/api/analysis/recursive", {}),
                              ("DELETE", "/api/analysis/jobs/0123456789abcdef", None)]:
        answer = client.request(method, url, json=body)
        assert answer.status_code == 403, (url, answer.text)
        assert "read-only" in answer.json()["detail"]
    bundled = next(p for p in client.get("/api/presets").json() if p["ready"])
    again = client.post("/api/runs", json={"kind": bundled["kind"], "config": bundled["config"]})
    assert again.status_code == 200 and again.json()["run_id"] == bundled["run_id"]
    events = read_events(client, f"/api/runs/{bundled['run_id']}/sample?n=20&frames=2")
    assert [e for e, _ in events][-1] == "done"


def test_token_settings_are_checked() -> None:
    assert Settings.from_env({"MODELAB_TOKEN": ""}).token is None
    with pytest.raises(ValueError, match="token"):
        Settings.from_env({"MODELAB_TOKEN": "short"})
    assert TOKEN not in repr(Settings.from_env({"MODELAB_TOKEN": TOKEN}))


def test_openapi_errors_are_json_and_rules_are_stated(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    streams = [op for item in spec["paths"].values() for op in item.values()
               if "text/event-stream" in op["responses"].get("200", {}).get("content", {})]
    assert len(streams) == 4
    for op in streams:
        errors = {code: r for code, r in op["responses"].items() if code >= "400"}
        assert errors and all(list(r["content"]) == ["application/json"] for r in errors.values()), op["operationId"]
    for path in ("/api/runs", "/api/analysis/sweeps", "/api/analysis/recursive"):
        assert {"400", "401", "403", "422"} <= set(spec["paths"][path]["post"]["responses"])
    params = {p["name"]: p for p in spec["paths"]["/api/analysis/runs/{run_id}/detectors"]["get"]["parameters"]}
    assert "ddim" in params["eta"]["description"] and params["lid_draws"]["schema"]["multipleOf"] == 2
    mechanism = {p["name"]: p for p in spec["paths"]["/api/analysis/runs/{run_id}/mechanism"]["get"]["parameters"]}
    assert "T − 1" in mechanism["t"]["description"]
    assert spec["components"]["schemas"]["RecursiveRequest"]["properties"]["filters"]["uniqueItems"] is True


def test_an_unparseable_body_is_the_documented_400(client: TestClient) -> None:
    answer = client.post("/api/runs", content=b'{"kind": "\x80"}', headers={"content-type": "application/json"})
    assert answer.status_code == 400 and answer.json() == {"detail": "There was an error parsing the body"}
    documented = client.get("/openapi.json").json()["paths"]["/api/runs"]["post"]["responses"]["400"]
    assert "not UTF-8" in documented["description"]
