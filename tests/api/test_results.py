"""Sampling results: content ids, replays identical to the stream, permalinks across restarts, exports."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.diffusion.config import SamplerConfig
from server.gaussian.config import ExperimentConfig
from server.settings import Settings
from server.streaming.encode import decode_typed_array
from server.streaming.results import load_result, result_id
from tests.support import parse_sse, read_events

QUERY = "n=120&frames=12&window=4&seed=9"


def oracle_run(client: TestClient, T: int = 40) -> str:
    body = {"kind": "oracle", "config": {"data": {"dataset": "grid25"}, "schedule": {"T": T}}}
    return client.post("/api/runs", json=body).json()["run_id"]


def page_templates(tmp_path: Path) -> Path:
    templates = tmp_path / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "index.html").write_text('<script id="b" type="application/json">{{ bootstrap|tojson }}</script>')
    return templates


def page_bootstrap(text: str) -> dict:
    return json.loads(text.split('type="application/json">')[1].split("</script>")[0])


def test_meta_carries_the_result_id_and_the_replay_is_identical(client: TestClient) -> None:
    run_id = oracle_run(client)
    streamed = read_events(client, f"/api/runs/{run_id}/sample?{QUERY}")
    rid = streamed[0][1]["result_id"]
    assert rid == result_id(run_id, SamplerConfig(n=120, seed=9, window=4), 12)
    view = client.get(f"/api/results/{rid}").json()
    assert view == {
        "result_id": rid, "run_id": run_id, "kind": "oracle", "family": "gaussian", "status": "done",
        "params": {"n": 120, "seed": 9, "sampler": "ddpm", "eta": 0.0, "window": 4, "frames": 12},
        "links": {"page": f"/r/{rid}", "events": f"/api/results/{rid}/events",
                  "npz": f"/api/results/{rid}/export.npz", "csv": f"/api/results/{rid}/export.csv",
                  "config": f"/api/runs/{run_id}/config.json"},
    }
    assert read_events(client, f"/api/results/{rid}/events") == streamed
    # Other parameters, other result.
    other = read_events(client, f"/api/runs/{run_id}/sample?n=120&frames=12&window=4&seed=10")
    assert other[0][1]["result_id"] != rid


def test_permalink_survives_a_restart_with_identical_numbers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", templates_dir=page_templates(tmp_path))
    with TestClient(create_app(settings)) as first:
        run_id = oracle_run(first)
        streamed = read_events(first, f"/api/runs/{run_id}/sample?{QUERY}")
        assert first.get("/healthz").json()["computations_started"] == 1
    rid = streamed[0][1]["result_id"]
    with TestClient(create_app(settings)) as second:  # a new process would see exactly this data dir
        assert read_events(second, f"/api/results/{rid}/events") == streamed
        # The same sample request replays the stored result too: no computation.
        assert read_events(second, f"/api/runs/{run_id}/sample?{QUERY}") == streamed
        assert second.get("/healthz").json()["computations_started"] == 0
        page = second.get(f"/r/{rid}")
        assert page.status_code == 200
        boot = page_bootstrap(page.text)
        assert boot["permalink"]["result_id"] == rid and boot["permalink"]["run_id"] == run_id
        assert boot["permalink"]["links"]["events"] == f"/api/results/{rid}/events"
        assert page_bootstrap(second.get("/").text)["permalink"] is None


BAD_IDS = ["0123456789abcdef", "xyz", "0123456789ABCDEF", "a" * 5000, "%2e%2e", "0123456789abcdef.npz"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_unknown_or_malformed_result_ids_are_404(client: TestClient, bad: str) -> None:
    for suffix in ("", "/events", "/export.npz", "/export.csv"):
        response = client.get(f"/api/results/{bad}{suffix}")
        assert response.status_code == 404, (suffix, response.text)
        if "." not in bad:  # "..": the client collapses the path first, so no route matches at all
            assert "no result" in response.json()["detail"]
    assert client.get(f"/r/{bad}").status_code == 404


def _stored_result(client: TestClient) -> tuple[str, str]:
    run_id = oracle_run(client)
    return run_id, read_events(client, f"/api/runs/{run_id}/sample?{QUERY}")[0][1]["result_id"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete", "pickle"])
def test_damaged_or_missing_file_is_410_not_500(tmp_path: Path, damage: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", templates_dir=page_templates(tmp_path))
    with TestClient(create_app(settings)) as client:
        run_id, rid = _stored_result(client)
    path = settings.data_dir / "results" / f"{rid}.npz"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "delete":
        path.unlink()
    else:  # an object array needs pickle to load: refused, never executed
        np.savez(path, format=np.array(["x", None], dtype=object))
    with TestClient(create_app(settings)) as client:  # a fresh app: nothing in memory
        for url in (f"/api/results/{rid}", f"/api/results/{rid}/events", f"/api/results/{rid}/export.npz"):
            response = client.get(url)
            assert response.status_code == 410, (url, response.text)
            assert "cannot be replayed" in response.json()["detail"]
        assert client.get(f"/r/{rid}").status_code == 410
        # Sampling the same parameters again computes it afresh and stores a good file.
        again = read_events(client, f"/api/runs/{run_id}/sample?{QUERY}")
        assert again[-1][0] == "done" and again[0][1]["result_id"] == rid
        assert load_result(path).result_id == rid


def test_exports(client: TestClient) -> None:
    run_id = oracle_run(client)
    events = read_events(client, f"/api/runs/{run_id}/sample?{QUERY}")
    rid, result = events[0][1]["result_id"], events[-2][1]
    frames = [data for name, data in events if name == "frame"]

    response = client.get(f"/api/results/{rid}/export.npz")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    with np.load(io.BytesIO(response.content), allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["samples"], decode_typed_array(result["samples"]))
        np.testing.assert_array_equal(npz["x0_last"], decode_typed_array(result["x0_last"]))
        np.testing.assert_array_equal(npz["variance"], decode_typed_array(result["variance"]))
        np.testing.assert_array_equal(npz["label"], decode_typed_array(result["label"]))
        np.testing.assert_array_equal(npz["frame_x"][5], decode_typed_array(frames[5]["x"]))
        np.testing.assert_array_equal(npz["frame_t"], [f["t"] for f in frames])
        assert json.loads(str(npz["meta_json"]))["result_id"] == rid

    particles = list(csv.reader(io.StringIO(client.get(f"/api/results/{rid}/export.csv").text)))
    assert particles[0] == ["particle", "x", "y", "label", "label_name", "nearest_mode", "between_i", "between_j",
                            "distance_sigma", "variance"]
    assert len(particles) == 121
    samples = decode_typed_array(result["samples"])
    assert particles[8][:3] == ["7", str(samples[7, 0]), str(samples[7, 1])]  # shortest float32 text: exact
    table = client.get(f"/api/results/{rid}/export.csv?table=frames").text.splitlines()
    assert table[0] == "frame,t,particle,x,y,x0_x,x0_y" and len(table) == 1 + 12 * 120
    assert len(client.get(f"/api/results/{rid}/export.csv?table=x0_last").text.splitlines()) == 1 + 4 * 120
    assert client.get(f"/api/results/{rid}/export.csv?table=nope").status_code == 422

    config = client.get(f"/api/runs/{run_id}/config.json")
    assert config.status_code == 200 and "attachment" in config.headers["content-disposition"]
    assert ExperimentConfig.model_validate_json(config.text).canonical_json() == config.text
    assert client.get("/api/runs/0123456789abcdef/config.json").status_code == 404


def test_identical_requests_share_one_computation(tmp_path: Path) -> None:
    """Even with a single gate place, a class arriving at once gets one computation and no 429."""
    settings = Settings(data_dir=tmp_path / "data", sampling_concurrency=1, sampling_active=1, sampling_waiting=0)
    with TestClient(create_app(settings)) as client:
        run_id = oracle_run(client, T=200)
        url = f"/api/runs/{run_id}/sample?n=400&frames=40"
        results: list[list] = []
        start = threading.Barrier(8)

        def read() -> None:
            start.wait()
            results.append(read_events(client, url))

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(results) == 8 and all(r == results[0] for r in results)
        assert results[0][-1][0] == "done"
        assert client.get("/healthz").json()["computations_started"] == 1


def test_a_late_viewer_gets_every_frame_and_outlives_the_first(client: TestClient) -> None:
    run_id = oracle_run(client, T=1000)
    url = f"/api/runs/{run_id}/sample?n=800&frames=100"  # about a second of work: still running below
    with client.stream("GET", url) as first:
        events = parse_sse(first.iter_lines())
        meta = next(events)[1]
        assert [next(events)[0] for _ in range(3)] == ["frame"] * 3
        rid = meta["result_id"]
        assert client.get(f"/api/results/{rid}").json()["status"] == "computing"
        assert client.get(f"/api/results/{rid}/export.npz").status_code == 409
        with client.stream("GET", url) as second:
            late = parse_sse(second.iter_lines())
            assert next(late) == ("meta", meta)
            assert next(late)[1]["index"] == 0  # from the first frame, not from where the first viewer is
            # The first viewer leaves (leaving its block closes it); the computation goes on for the second.
            first.close()
            rest = list(late)
    names = [name for name, _ in rest]
    assert names == ["frame"] * 99 + ["result", "done"]
    health = client.get("/healthz").json()
    assert health["computations_started"] == 1 and health["sample_viewers"] == 0
    assert client.get(f"/api/results/{rid}").json()["status"] == "done"


def test_a_finished_result_is_replayed_from_memory(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    """Once finished, later viewers replay the kept events: the file is not even read again."""
    run_id, rid = _stored_result(client)
    app.state.store.result_path(rid).unlink()
    replay = read_events(client, f"/api/results/{rid}/events")
    assert replay[0][1]["result_id"] == rid and replay[-1][0] == "done"
    assert client.get("/healthz").json()["computations_started"] == 1


def test_memory_keeps_a_bounded_number_of_results(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data", result_memory_size=1))) as client:
        run_id, first = _stored_result(client)
        read_events(client, f"/api/runs/{run_id}/sample?{QUERY}&sampler=ddim")  # pushes the first out of memory
        client.app.state.store.result_path(first).unlink()  # type: ignore[attr-defined]
        assert client.get(f"/api/results/{first}").status_code == 410  # so it is read from disk, and gone
