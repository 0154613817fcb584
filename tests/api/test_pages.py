"""The page and its bootstrap, the vendored plotly.js, health, and the OpenAPI description."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from fastapi.testclient import TestClient

from server.app import create_app
from server.catalog.plotly_asset import plotly_url, plotly_version
from server.diffusion.config import SamplerConfig
from server.gaussian.config import ExperimentConfig
from server.settings import Settings


def test_index_renders_bootstrap_and_plotly_src(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "index.html").write_text(
        '<script src="{{ plotly_src }}"></script><script id="b" type="application/json">{{ bootstrap|tojson }}</script>'
    )
    with TestClient(create_app(Settings(data_dir=tmp_path / "d", templates_dir=templates))) as client:
        page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f'src="{plotly_url()}"' in page.text
    boot = json.loads(page.text.split('type="application/json">')[1].split("</script>")[0])
    assert set(boot) == {"datasets", "presets", "defaults", "limits", "events", "default_run", "permalink",
                         "url_spec", "lessons", "shapes"}
    assert all(s["ready"] for lesson in boot["lessons"] for s in lesson["steps"])  # bundled or exact: no training
    assert boot["permalink"] is None and len(boot["default_run"]) == 16
    assert boot["defaults"]["experiment"] == ExperimentConfig().model_dump(mode="json")
    assert boot["defaults"]["sampler"] == SamplerConfig().model_dump(mode="json")
    assert boot["limits"]["max_sample_n"] == 10_000 and boot["limits"]["max_frames"] == 200
    assert boot["events"]["frame"] == "frame" and boot["events"]["progress"] == "progress"
    assert {p["id"] for p in boot["presets"]} >= {"grid25-oracle", "1d-123-quick"}


def test_the_real_page_renders(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code in (200, 503)  # 503 only while templates/index.html is not installed
    if page.status_code == 200:
        assert plotly_url() in page.text


def test_index_without_template_is_503(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "d", templates_dir=tmp_path))) as client:
        assert client.get("/").status_code == 503


def test_plotly_is_served_gzipped_and_cached(client: TestClient) -> None:
    url = plotly_url()
    assert url == f"/static/vendor/plotly-{plotly_version()}.min.js"
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.content.startswith(b"/**\n* plotly.js v" + plotly_version().encode())  # httpx un-gzips
    assert int(response.headers["content-length"]) < len(response.content) / 2
    etag = response.headers["etag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == response.content
    assert gzip.decompress(gzip.compress(plain.content)) == response.content


def test_health(client: TestClient) -> None:
    local = {"name": "local", "address": None, "nodes": None, "cpus": None}  # the embedded default: no cluster
    assert client.get("/healthz").json() == {"status": "ok", "backend": local, "queued": 0, "running": 0,
                                             "sample_streams": 0, "sample_viewers": 0, "computations_started": 0}


def test_openapi_documents_routes_and_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ops = {(method, path): op for path, item in spec["paths"].items() for method, op in item.items()}
    ids = {op["operationId"] for op in ops.values()}
    assert {"create_run", "get_run", "list_runs", "cancel_job", "run_events", "sample_stream", "list_datasets",
            "list_presets", "index", "health", "plotly_js"} <= ids
    sample = ops[("get", "/api/runs/{run_id}/sample")]
    assert {"200", "404", "409", "422", "429"} <= set(sample["responses"])
    assert "text/event-stream" in sample["responses"]["200"]["content"]
    assert {"200", "202", "422", "429"} <= set(ops[("post", "/api/runs")]["responses"])
    assert {"404", "409"} <= set(ops[("delete", "/api/runs/{run_id}/job")]["responses"])


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    """Creating the app touches nothing on disk and starts no thread: that is the lifespan's job."""
    import threading

    before = threading.active_count()
    create_app(Settings(data_dir=tmp_path / "never"))
    assert not (tmp_path / "never").exists() and threading.active_count() == before


def test_the_shapes_page_and_its_ways_in(client: TestClient) -> None:
    page = client.get("/shapes")
    assert page.status_code == 200 and '/static/js/shapes/main.js' in page.text
    boot = json.loads(page.text.split('type="application/json">')[1].split("</script>")[0])
    assert {"runs", "defaults", "limits", "events", "datasets", "lessons", "permalink"} <= set(boot)
    assert boot["permalink"] is None and [lesson["id"] for lesson in boot["lessons"]] == ["shapes"]
    assert all(d["href"].startswith("/#") for d in boot["datasets"])  # back to the explorer, one per dataset
    assert boot["defaults"]["steps"] <= boot["limits"]["T"] and boot["limits"]["T"] % boot["defaults"]["steps"] == 0
    # The explorer offers the page in its dataset picker and sends the shapes lesson there, flags kept.
    index = client.get("/").text
    explorer = json.loads(index.split('type="application/json">')[1].split("</script>")[0])
    assert explorer["shapes"]["href"] == "/shapes" and explorer["shapes"]["lesson"]["id"] == "shapes"
    moved = client.get("/?lesson=shapes&presenter=1", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/shapes?lesson=shapes&presenter=1"
    # Both pages share base.html's head: the stylesheet, the vendored plotly, the JSON bootstrap, one module.
    for html in (page.text, index, client.get("/analysis").text):
        assert html.count('<script type="module"') == 1 and '<script id="bootstrap" type="application/json">' in html
