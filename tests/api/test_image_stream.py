"""The sample stream of an image run (Simple Shapes): events, agreement with the engine, every status code,
stored results, exports, and the point stream left as it was.

The run ids come from the bundled files (``app.state.bundled_shapes``), never from this file. Small n and short
chains keep the U-Net's cost (a few ms per image and step) to seconds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.app import create_app
from server.diffusion.config import ALGO_VERSION, SamplerConfig
from server.settings import Settings
from server.shapes.counting import LABELS, VALID
from server.shapes.detection import nearest_train_distance
from server.shapes.sampling import sample_images
from server.shapes.training import training_set
from server.streaming.encode import decode_typed_array
from server.streaming.image_results import to_u1
from tests.support import parse_sse, read_events

QUERY = "n=4&steps=10&window=5&frames=11&seed=2"


@pytest.fixture(scope="module")
def image_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("image-data"), warm_shapes=False))


@pytest.fixture(scope="module")
def image_client(image_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(image_app) as client:
        yield client


@pytest.fixture(scope="module")
def shapes(image_client: TestClient, image_app: FastAPI):  # type: ignore[no-untyped-def]
    """The first bundled Simple Shapes model (its trained and exact-denoiser runs)."""
    assert image_app.state.bundled_shapes, "models/ has no Simple Shapes checkpoint"
    return image_app.state.bundled_shapes[0]


@pytest.fixture(scope="module")
def streamed(image_client: TestClient, shapes) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    return read_events(image_client, f"/api/runs/{shapes.run_id}/sample?{QUERY}")


def raw_stream(client: TestClient, url: str) -> list[str]:
    """The stream's lines as sent (comments, i.e. keep-alive pings, left out)."""
    with client.stream("GET", url) as response:
        assert response.status_code == 200, response.read()
        return [line for line in response.iter_lines() if not line.startswith(":")]


def test_bundled_runs_are_listed_by_family(image_client: TestClient, shapes) -> None:  # type: ignore[no-untyped-def]
    runs = {r["run_id"]: r for r in image_client.get("/api/runs").json()}
    trained, oracle = runs[shapes.run_id], runs[shapes.oracle_run_id]
    assert (trained["family"], trained["kind"], trained["status"]) == ("shapes", "trained", "done")
    assert (oracle["family"], oracle["kind"], oracle["status"]) == ("shapes", "oracle", "done")
    assert trained["config"]["data"] == oracle["config"]["data"] and "unet" in oracle["config"]
    assert {r["family"] for r in runs.values()} == {"gaussian", "shapes"}
    assert image_client.get(f"/api/runs/{shapes.run_id}").json()["config"] == trained["config"]
    # Training image models through the API stays out of scope; the Gaussian views answer an image run with 409.
    posted = image_client.post("/api/runs", json={"config": trained["config"]})
    assert posted.status_code == 422 and "unet" in posted.text
    for view in ("mechanism?t=5", "detectors"):
        answer = image_client.get(f"/api/analysis/runs/{shapes.run_id}/{view}")
        assert answer.status_code == 409 and "Gaussian" in answer.json()["detail"], answer.text  # never a 500


def test_events_in_order_with_their_shapes(streamed: list[tuple[str, dict]], shapes) -> None:  # type: ignore[no-untyped-def]
    names = [name for name, _ in streamed]
    meta = streamed[0][1]
    assert names == ["meta"] + ["frame"] * 11 + ["result", "done"]
    assert streamed[-1] == ("done", {})
    res = shapes.config.data.resolution
    assert meta["family"] == "shapes" and meta["run_id"] == shapes.run_id and meta["kind"] == "trained"
    assert (meta["n"], meta["resolution"], meta["T"], meta["steps"], meta["window"], meta["seed"]) == (
        4, res, shapes.config.schedule.T, 10, 5, 2)
    assert meta["frame_ts"] == list(range(10, -1, -1))
    assert [c["shape"] for c in meta["columns"]] == ["triangle", "square", "pentagon"]
    assert meta["columns"][0]["x"][0] == 0 and meta["columns"][-1]["x"][1] == res
    assert meta["labels"] == list(LABELS) and meta["kinds"][-1] == "malformed"

    frames = [data for name, data in streamed if name == "frame"]
    assert [f["index"] for f in frames] == list(range(11)) and [f["t"] for f in frames] == meta["frame_ts"]
    assert frames[0]["x0"] is None
    for frame in frames:
        assert frame["x"]["dtype"] == "u1" and decode_typed_array(frame["x"]).shape == (4, res * res)
    assert decode_typed_array(frames[-1]["x0"]).shape == (4, res * res)

    result = streamed[-2][1]
    images = decode_typed_array(result["images"])
    np.testing.assert_array_equal(images, decode_typed_array(frames[-1]["x"]))  # the last frame is x_0
    label, counts = decode_typed_array(result["label"]), decode_typed_array(result["counts"])
    assert label.shape == (4,) and counts.shape == (4, 3, 4) and label.max() < len(LABELS)
    assert len(result["reasons"]) == 4 and all(isinstance(r, str) and r for r in result["reasons"])
    assert decode_typed_array(result["variance"]).dtype == np.float32
    assert decode_typed_array(result["x0_last"]).shape == (4, 5, res * res) and result["x0_last_ts"] == [4, 3, 2, 1, 0]
    comps = {k: decode_typed_array(v) for k, v in result["components"].items()}
    assert comps["box"].shape == (len(comps["image"]), 4) and len(comps["kind"]) == len(comps["column"])
    assert int(counts.sum()) == len(comps["image"])  # every counted component is listed
    roc = {k: decode_typed_array(v) for k, v in result["roc"].items()}
    assert roc["fpr"].shape == roc["tpr"].shape == roc["thresholds"].shape
    summary = result["summary"]
    assert summary["n"] == 4 and sum(v["count"] for v in summary["labels"].values()) == 4
    assert summary["duplicates"] == int((label == LABELS.index("duplicate")).sum())
    for name, entry in summary["labels"].items():
        low, high = entry["ci95"]
        assert low <= entry["share"] <= high, name


def test_stream_agrees_with_the_engine(streamed: list[tuple[str, dict]], image_app: FastAPI,  # type: ignore[no-untyped-def]
                                       shapes) -> None:
    """The same seed on the same strided chain as ``modelab sample``: the same images, counts and scores."""
    model = image_app.state.denoisers.get(image_app.state.store.get(shapes.run_id))
    engine = sample_images(model.denoiser(10), shapes.config, SamplerConfig(n=4, seed=2, window=5), 10)
    result = streamed[-2][1]
    np.testing.assert_array_equal(decode_typed_array(result["images"]), to_u1(engine.samples))
    np.testing.assert_array_equal(decode_typed_array(result["counts"]), engine.counts.counts)
    np.testing.assert_array_equal(decode_typed_array(result["label"]), engine.counts.labels)
    np.testing.assert_allclose(decode_typed_array(result["variance"]),
                               engine.x0_last.astype(np.float64).var(axis=1).mean(axis=1), rtol=1e-5)


def test_the_exact_denoiser_draws_training_images_never_duplicates(image_client: TestClient, shapes) -> None:  # type: ignore[no-untyped-def]
    events = read_events(image_client, f"/api/runs/{shapes.oracle_run_id}/sample?n=6&steps=10&window=4&frames=3")
    meta, result = events[0][1], events[-2][1]
    assert meta["kind"] == "oracle" and events[-1][0] == "done"
    assert result["summary"]["duplicates"] == 0
    assert (decode_typed_array(result["label"]) == VALID).all(), result["reasons"]
    train = training_set(shapes.config.data).images.reshape(shapes.config.data.n, -1).numpy()
    images = decode_typed_array(result["images"]).astype(np.float32) / 255 * 2 - 1
    assert (nearest_train_distance(images, train) == 0).all()  # each one is a training image, pixel for pixel


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("steps=30", "query.steps: steps must divide the run's T = 1000"),
        ("steps=3000", "query.steps: steps must divide the run's T = 1000"),
        ("steps=0", "query.steps: Input should be greater than or equal to 1"),
        ("n=65", "query.n: Input should be less than or equal to 64"),
        ("steps=10&frames=12", "query.frames: Input should be less than or equal to 11"),
        ("steps=10&frames=11&window=11", "query.window: Input should be less than or equal to 10"),
        ("n=64&steps=50&frames=51&window=40", "query.window: Input should be less than or equal to 30"),  # x̂0 budget
        ("steps=10&frames=11&eta=0.5", "query.eta: eta is only used by the ddim sampler"),
        ("sampler=euler", "query.sampler: Input should be 'ddpm' or 'ddim'"),
    ],
)
def test_bad_image_parameters_are_422(image_client: TestClient, shapes, query: str, message: str) -> None:  # type: ignore[no-untyped-def]
    response = image_client.get(f"/api/runs/{shapes.run_id}/sample?{query}")
    assert response.status_code == 422, response.text
    assert message in response.json()["message"], response.json()


def test_image_limit_is_a_setting(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path, max_image_n=8, warm_shapes=False))) as client:
        run_id = client.app.state.bundled_shapes[0].run_id  # type: ignore[attr-defined]
        response = client.get(f"/api/runs/{run_id}/sample?n=9")
        assert response.json()["message"] == "query.n: Input should be less than or equal to 8"
        assert client.get("/").status_code in (200, 503)


def test_unknown_run_is_404_and_unfinished_run_is_409(image_client: TestClient, image_app: FastAPI,  # type: ignore[no-untyped-def]
                                                      shapes) -> None:
    assert image_client.get("/api/runs/0123456789abcdef/sample?steps=7").status_code == 404
    config = shapes.config.model_copy(update={"train": shapes.config.train.model_copy(update={"steps": 7})})
    image_app.state.store.put(config.run_id(), "trained", config.canonical_json(), "running")
    response = image_client.get(f"/api/runs/{config.run_id()}/sample?steps=7")  # 409 before the bad steps
    assert response.status_code == 409 and "sampling needs a finished" in response.json()["detail"]


def test_damaged_model_file_is_409(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path, warm_shapes=False))) as client:
        model = client.app.state.bundled_shapes[0]  # type: ignore[attr-defined]
        path = client.app.state.store.model_path(model.run_id)  # type: ignore[attr-defined]
        path.write_bytes(path.read_bytes()[:5000])
        response = client.get(f"/api/runs/{model.run_id}/sample?{QUERY}")
        assert response.status_code == 409 and "model file" in response.json()["detail"], response.text


def test_too_many_streams_is_429(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, sampling_active=1, sampling_waiting=0, warm_shapes=False)
    with TestClient(create_app(settings)) as client:
        run_id = client.app.state.bundled_shapes[0].run_id  # type: ignore[attr-defined]
        url = f"/api/runs/{run_id}/sample?n=64&steps=1000&frames=200"  # minutes of work: still open below
        with client.stream("GET", url) as open_stream:
            events = parse_sse(open_stream.iter_lines())
            assert next(events)[0] == "meta"
            busy = client.get(f"/api/runs/{run_id}/sample?{QUERY}")
            assert busy.status_code == 429 and busy.headers["Retry-After"]
            assert busy.json()["ahead"] == 0


def test_replay_is_byte_identical_after_a_restart_and_a_lost_index(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", warm_shapes=False)
    with TestClient(create_app(settings)) as first:
        run_id = first.app.state.bundled_shapes[0].run_id  # type: ignore[attr-defined]
        live = raw_stream(first, f"/api/runs/{run_id}/sample?{QUERY}")
    result_id = json.loads(live[1].removeprefix("data:").strip())["result_id"]
    with TestClient(create_app(settings)) as second:
        assert raw_stream(second, f"/api/results/{result_id}/events") == live
        assert raw_stream(second, f"/api/runs/{run_id}/sample?{QUERY}") == live  # the request replays too
        assert second.get("/healthz").json()["computations_started"] == 0
        view = second.get(f"/api/results/{result_id}").json()
        assert view["family"] == "shapes" and view["kind"] == "trained"
        assert view["params"] == {"n": 4, "seed": 2, "sampler": "ddpm", "eta": 0.0, "window": 5, "frames": 11,
                                  "steps": 10}
    settings.db_path.unlink()  # the index is lost: the files alone bring the result back
    with TestClient(create_app(settings)) as third:
        assert raw_stream(third, f"/api/results/{result_id}/events") == live


def test_exports_of_an_image_result(image_client: TestClient, streamed: list[tuple[str, dict]]) -> None:
    rid = streamed[0][1]["result_id"]
    assert image_client.get(f"/api/results/{rid}").json()["family"] == "shapes"
    npz = image_client.get(f"/api/results/{rid}/export.npz")
    assert npz.status_code == 200
    with np.load(io.BytesIO(npz.content), allow_pickle=False) as data:
        assert str(data["format"]) == "mode-interpolation-lab/image-result/1"
        assert data["samples"].dtype == np.float32 and data["samples"].shape[0] == 4
        assert data["frame_x"].dtype == np.uint8 and data["frame_x"].shape[:2] == (11, 4)
        assert data["x0_last"].dtype == np.float32 and data["x0_last"].shape[:2] == (4, 5)
        assert json.loads(str(data["meta_json"]))["result_id"] == rid
        np.testing.assert_array_equal(to_u1(data["samples"]), decode_typed_array(streamed[-2][1]["images"]))
    table = image_client.get(f"/api/results/{rid}/export.csv")
    assert table.status_code == 200 and f"{rid}-images.csv" in table.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert len(rows) == 4 and rows[0].keys() >= {"image", "label", "reason", "square_square", "variance"}
    assert [r["reason"] for r in rows] == streamed[-2][1]["reasons"]
    assert [r["label"] for r in rows] == [LABELS[i] for i in decode_typed_array(streamed[-2][1]["label"])]
    assert image_client.get(f"/api/results/{rid}/export.csv?table=images").text == table.text
    wrong = image_client.get(f"/api/results/{rid}/export.csv?table=particles")
    assert wrong.status_code == 422 and "images" in wrong.json()["message"]


def test_point_results_keep_their_ids_bytes_and_tables(image_client: TestClient) -> None:
    body = {"kind": "oracle", "config": {"data": {"dataset": "grid25"}, "schedule": {"T": 30}}}
    run_id = image_client.post("/api/runs", json=body).json()["run_id"]
    query = "n=50&frames=6&window=3&seed=4"
    live = raw_stream(image_client, f"/api/runs/{run_id}/sample?{query}")
    rid = json.loads(live[1].removeprefix("data:").strip())["result_id"]
    params = {**SamplerConfig(n=50, seed=4, window=3).model_dump(mode="json"), "frames": 6}  # no "steps"
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    assert rid == hashlib.sha256(f"result/{ALGO_VERSION}/{run_id}/{text}".encode()).hexdigest()[:16]
    assert raw_stream(image_client, f"/api/runs/{run_id}/sample?{query}&steps=30") == live  # steps = T: the same
    bad = image_client.get(f"/api/runs/{run_id}/sample?{query}&steps=10")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "steps"]
    assert image_client.get(f"/api/results/{rid}").json()["params"] == {**params}
    particles = image_client.get(f"/api/results/{rid}/export.csv")
    assert particles.text.startswith("particle,x,y,label") and "particles.csv" in particles.headers[
        "content-disposition"]
    assert image_client.get(f"/api/results/{rid}/export.csv?table=images").status_code == 422
