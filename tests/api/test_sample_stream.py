"""The sample stream: event order and shapes, agreement with the engine, and its error statuses."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from server.app import create_app
from server.diffusion.config import SamplerConfig
from server.diffusion.sampling import run_sampler
from server.gaussian.checkpoint import load_checkpoint
from server.gaussian.denoisers import NetworkDenoiser
from server.gaussian.experiment import ExperimentRun
from server.settings import Settings
from server.streaming.encode import decode_typed_array
from tests.support import TINY_CONFIG, parse_sse, read_events


def oracle_run(client: TestClient, dataset: str = "grid25", T: int = 60) -> str:
    body = {"kind": "oracle", "config": {"data": {"dataset": dataset}, "schedule": {"T": T}}}
    return client.post("/api/runs", json=body).json()["run_id"]


def test_oracle_stream_events_and_shapes(client: TestClient) -> None:
    run_id = oracle_run(client)
    events = read_events(client, f"/api/runs/{run_id}/sample?n=300&frames=30&window=5&seed=3")
    names = [name for name, _ in events]
    meta = events[0][1]
    assert names == ["meta"] + ["frame"] * len(meta["frame_ts"]) + ["result", "done"]
    assert meta["run_id"] == run_id and meta["kind"] == "oracle"
    assert (meta["n"], meta["dim"], meta["T"], meta["window"], meta["seed"]) == (300, 2, 60, 5, 3)
    assert meta["frame_ts"][0] == 60 and meta["frame_ts"][-1] == 0 and len(meta["frame_ts"]) == 30
    assert len(meta["means"]) == 25 and len(meta["sigmas"]) == 25 and meta["radius_sigma"] == 6.0
    assert len(meta["nn_pairs"]) == 40  # a 5×5 grid has 2·5·4 nearest-neighbour edges
    lo, hi = meta["bounds"]["x"]
    assert lo <= -4 and hi >= 4 and meta["data_bounds"]["x"][1] < hi

    frames = [data for name, data in events if name == "frame"]
    assert [f["index"] for f in frames] == list(range(len(frames)))
    assert [f["t"] for f in frames] == meta["frame_ts"]
    assert frames[0]["x0"] is None
    for frame in frames:
        x = decode_typed_array(frame["x"])
        assert x.shape == (300, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    assert decode_typed_array(frames[-1]["x0"]).shape == (300, 2)

    result = events[-2][1]
    samples = decode_typed_array(result["samples"])
    np.testing.assert_array_equal(samples, decode_typed_array(frames[-1]["x"]))  # last frame is x_0
    assert decode_typed_array(result["label"]).shape == (300,)
    assert set(np.unique(decode_typed_array(result["label"]))) <= {0, 1, 2}
    assert decode_typed_array(result["between"]).shape == (300, 2)
    assert decode_typed_array(result["nearest_mode"]).max() < 25
    assert decode_typed_array(result["x0_last"]).shape == (300, 5, 2)
    assert result["x0_last_ts"] == [4, 3, 2, 1, 0]
    assert decode_typed_array(result["variance"]).shape == (300,)
    assert result["summary"]["n_samples"] == 300
    roc = {k: decode_typed_array(v) for k, v in result["roc"].items()}
    assert roc["fpr"].shape == roc["tpr"].shape == roc["thresholds"].shape
    assert events[-1] == ("done", {})


def test_one_dimensional_stream(client: TestClient) -> None:
    run_id = oracle_run(client, "1d-1245", T=40)
    events = read_events(client, f"/api/runs/{run_id}/sample?n=64&frames=200")
    meta = events[0][1]
    assert meta["dim"] == 1 and len(meta["frame_ts"]) == 41  # T + 1 frames at most
    assert meta["bounds"]["y"] is None and meta["nn_pairs"] == [[0, 1], [2, 3]]
    assert decode_typed_array(events[1][1]["x"]).shape == (64, 1)
    assert "gaps" in events[-2][1]["summary"]


def test_same_seed_same_samples_and_ddim(client: TestClient) -> None:
    run_id = oracle_run(client, T=30)
    url = f"/api/runs/{run_id}/sample?n=50&frames=5&sampler=ddim&eta=0.5&seed=7"
    first, second = read_events(client, url), read_events(client, url)
    assert first[-2][1]["samples"] == second[-2][1]["samples"]
    assert first[0][1]["sampler"] == "ddim" and first[0][1]["eta"] == 0.5


def test_trained_stream_matches_the_engine(client: TestClient, trained_run: str, app) -> None:
    """The stream runs the very sampler the CLI runs: same seed, same final samples."""
    events = read_events(client, f"/api/runs/{trained_run}/sample?n=200&frames=10&seed=5&window=4")
    streamed = decode_typed_array(events[-2][1]["samples"])
    checkpoint = load_checkpoint(app.state.store.model_path(trained_run))
    run = ExperimentRun.from_config(checkpoint.config)
    torch.set_num_threads(1)
    expected = run_sampler(NetworkDenoiser(checkpoint.net), run.schedule, SamplerConfig(n=200, seed=5, window=4))
    np.testing.assert_allclose(streamed, expected.samples, rtol=0, atol=1e-6)
    np.testing.assert_allclose(decode_typed_array(events[-2][1]["x0_last"]), expected.x0_pred_last, atol=1e-6)
    # A second stream reuses the loaded network.
    read_events(client, f"/api/runs/{trained_run}/sample?n=10&frames=2")
    assert app.state.denoisers.loads == 1


def test_sampling_a_run_that_is_not_done_is_409(client: TestClient) -> None:
    config = {**TINY_CONFIG, "train": {"steps": 20_000, "batch": 64}}
    run_id = client.post("/api/runs", json={"config": config}).json()["run_id"]
    response = client.get(f"/api/runs/{run_id}/sample")
    assert response.status_code == 409 and "sampling needs a finished" in response.json()["detail"]
    client.delete(f"/api/runs/{run_id}/job")


def test_missing_model_file_is_409(client: TestClient, trained_run: str, app) -> None:
    app.state.store.model_path(trained_run).unlink()
    response = client.get(f"/api/runs/{trained_run}/sample")
    assert response.status_code == 409 and "model file" in response.json()["detail"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("n=10001", "query.n: Input should be less than or equal to 10000"),
        ("n=0", "query.n: Input should be greater than or equal to 1"),
        ("n=abc", "query.n: Input should be a valid integer"),
        ("frames=1", "query.frames: Input should be greater than or equal to 2"),
        ("frames=201", "query.frames: Input should be less than or equal to 200"),
        ("window=61", "query.window: Input should be less than or equal to 60"),  # window ≤ T
        ("window=1", "query.window: Input should be greater than or equal to 2"),
        ("eta=0.5", "query.eta: eta is only used by the ddim sampler"),
        ("sampler=ddim&eta=1.5", "query.eta: Input should be less than or equal to 1"),
        ("sampler=euler", "query.sampler: Input should be 'ddpm' or 'ddim'"),
        ("bogus=1", "query.bogus: Extra inputs are not permitted"),
    ],
)
def test_bad_sample_parameters_are_422(client: TestClient, query: str, message: str) -> None:
    run_id = oracle_run(client)
    response = client.get(f"/api/runs/{run_id}/sample?{query}")
    assert response.status_code == 422, response.text
    assert message in response.json()["message"], response.json()


def test_x0_budget_limits_window(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path, max_x0_values=1000, max_sample_n=500))) as client:
        run_id = oracle_run(client)
        too_many = client.get(f"/api/runs/{run_id}/sample?n=100&window=6")  # 100 × 6 × 2 > 1000
        assert too_many.status_code == 422
        assert too_many.json()["message"] == "query.window: Input should be less than or equal to 5"
        assert "less than or equal to 500" in client.get(f"/api/runs/{run_id}/sample?n=501").json()["message"]


def test_unknown_run_is_404_before_bad_parameters(client: TestClient) -> None:
    assert client.get("/api/runs/0123456789abcdef/sample?n=-1").status_code == 404


def test_too_many_streams_is_429(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, sampling_concurrency=1, sampling_active=1, sampling_waiting=0)
    with TestClient(create_app(settings)) as client:
        run_id = oracle_run(client, T=1000)
        url = f"/api/runs/{run_id}/sample?n=10000&frames=200"  # about 10 s of work: still open below
        with client.stream("GET", url) as open_stream:
            events = parse_sse(open_stream.iter_lines())  # keep a reference: dropping it closes the stream
            assert next(events)[0] == "meta"  # admitted and streaming
            assert client.get("/healthz").json()["sample_streams"] == 1
            busy = client.get(url + "&seed=1")  # another computation (the same url would join the open one)
            assert busy.status_code == 429 and busy.headers["Retry-After"] == "2"  # nothing measured yet
            # Where it would stand: nobody queued ahead (no queue here), no ETA before a place has come back.
            assert busy.json() == {"detail": "too many sample streams at once: 0 ahead of you",
                                   "ahead": 0, "eta_s": None}
        # The place comes back when the first stream ends (here: the client left it early).
        ok = read_events(client, f"/api/runs/{run_id}/sample?n=10&frames=2")
        assert ok[-1][0] == "done"
        assert client.get("/healthz").json()["sample_streams"] == 0


def test_streams_run_concurrently_from_threads(client: TestClient) -> None:
    """Several clients at once all finish with complete streams (the semaphore only orders chunks)."""
    run_id = oracle_run(client, T=40)
    results: list[list[str]] = []

    def read() -> None:
        results.append([name for name, _ in read_events(client, f"/api/runs/{run_id}/sample?n=100&frames=10")])

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 4 and all(r[-1] == "done" and r.count("frame") == 10 for r in results)
