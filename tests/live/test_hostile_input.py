"""Against a real uvicorn on loopback: failing streams give back their gate place, stored runs an older version
accepted (NaN means) block nothing, and a 10 MB body is refused without stalling anyone."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from server.gaussian.config import ExperimentConfig
from server.settings import Settings
from tests.support import TINY_CONFIG, parse_sse, register_run


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    # A small gate, so that a leak of a few places would show: 1 computing + 2 waiting.
    return Settings(data_dir=tmp_path / "live-data", sampling_concurrency=1, sampling_active=1, sampling_waiting=2)


def gate_counters(client: httpx.Client) -> tuple[int, int]:
    health = client.get("/healthz").json()
    return health["sample_streams"], health["sample_viewers"]


def nan_run(app: FastAPI, index: int) -> str:
    """A done oracle run whose stored config holds a NaN mean, written as an older version wrote it."""
    data = json.loads(ExperimentConfig.model_validate(TINY_CONFIG).canonical_json())
    data["data"] = {"dataset": "custom", "n": None, "mixture": {"means": [[math.nan], [1.0], [float(index)]],
                                                                "n": 20000, "sigma": 0.1, "weights": None}}
    run_id = f"{index:016x}"
    app.state.store.put(run_id, "oracle", json.dumps(data, sort_keys=True), "done")
    return run_id


def sample_to_the_end(client: httpx.Client, run_id: str) -> list[str]:
    with client.stream("GET", f"/api/runs/{run_id}/sample?n=50&frames=4&window=4") as response:
        assert response.status_code == 200, response.read()
        return [event for event, _ in parse_sse(response.iter_lines())]


def test_failing_streams_leave_the_gate_as_they_found_it(live_server: str, live_app: FastAPI,
                                                         tiny_checkpoint: tuple[str, Path], tmp_path: Path) -> None:
    store, gate = live_app.state.store, live_app.state.gate
    # A run whose model file is damaged: admitted by the gate, then its load fails (409) before any task starts.
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(tiny_checkpoint[1].read_bytes()[:1000])
    broken = register_run(store, tiny_checkpoint[0], damaged)
    with httpx.Client(base_url=live_server, timeout=30) as client:
        before = gate_counters(client)
        assert before == (0, 0)
        for i in range(gate.limit * 3):
            failed = client.get(f"/api/runs/{broken}/sample?n=50&frames=4&seed={i}")
            assert failed.status_code == 409 and "model file" in failed.json()["detail"]
            assert gate_counters(client) == before, f"failing stream {i} kept a gate place"
        # The case: NaN means stored by an older version. Refused by name before admission, listed nowhere.
        for i in range(gate.limit * 3):
            bad = nan_run(live_app, i + 1)
            refused = client.get(f"/api/runs/{bad}/sample?n=50&frames=4")
            assert refused.status_code == 409 and bad in refused.json()["detail"]
            assert gate_counters(client) == before
        listed = client.get("/api/runs")
        assert listed.status_code == 200 and all(r["config"]["data"].get("dataset") != "custom" for r in listed.json())
        # After all that, the bundled-model path still runs: a stream of a good run completes.
        good = client.post("/api/runs", json={"kind": "oracle", "config": {}}).json()["run_id"]
        assert sample_to_the_end(client, good)[-1] == "done"
        # A stream left right after its first frame (cancel) also gives its place back.
        with client.stream("GET", f"/api/runs/{good}/sample?n=2000&frames=100&seed=7") as response:
            events = parse_sse(response.iter_lines())
            assert next(events)[0] == "meta"
        deadline = time.monotonic() + 5
        while gate_counters(client) != before:
            assert time.monotonic() < deadline, "a disconnected stream kept its gate place"
            time.sleep(0.02)


def test_a_10_mb_body_is_413_while_healthz_stays_fast(live_server: str) -> None:
    """A client sends a 10 MB body (declared, then chunked) as slowly as the socket allows; meanwhile
    /healthz answers at once, and the 413 comes before the body is read."""
    host, port = urlsplit(live_server).hostname, urlsplit(live_server).port
    body = b'{"config": {"data": {"dataset": "custom", "mixture": {"means": [' + b"1," * 5_000_000 + b"1]}}}}"
    answers: list[bytes] = []

    def send_big(chunked: bool) -> None:
        with socket.create_connection((host, port), timeout=30) as sock:
            framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body)
            sock.sendall(b"POST /api/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing
                         + b"\r\n\r\n")
            try:
                for i in range(0, len(body), 65536):
                    piece = body[i:i + 65536]
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except OSError:
                pass  # the server answered and closed: the rest of the body was never read
            answers.append(sock.recv(65536))

    latencies = []
    with httpx.Client(base_url=live_server, timeout=10) as client:
        client.get("/healthz")
        for chunked in (False, True):
            sender = threading.Thread(target=send_big, args=(chunked,))
            sender.start()
            until = time.monotonic() + 0.5
            while sender.is_alive() or time.monotonic() < until:
                start = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - start)
                time.sleep(0.01)
            sender.join()
    assert len(answers) == 2
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"MODELAB_MAX_BODY_KB" in answer
    assert max(latencies) < 0.5, f"/healthz took up to {max(latencies) * 1000:.0f} ms during a 10 MB upload"
