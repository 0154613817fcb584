"""Classroom load: 30 students open the same sample link at once (one JSON object on stdout).

Starts ``uvicorn server.app:app`` on 127.0.0.1 in a subprocess, on a temporary data dir, with the
bundled models of ``models/`` (the ready grid25 preset; without one, the grid25 exact denoiser).
Then ``--clients`` threads, released together by a barrier (spread over ``--spread`` seconds if
given), each stream ``/api/runs/{run}/sample?n=2000&frames=100&seed=0`` (T = 1000 steps) to the end:

* ``first_frame_ms``: request sent → first ``frame`` event received, p50 / p95 / max;
* ``total_s``: request sent → ``done`` received, p50 / p95 / max;
* ``errors``: non-200 answers, transport errors, `error` events, wrong frame counts;
* ``computations``: sampling computations the server started (its /healthz counter): the goal is one;
* ``replay``: a second wave of the same clients on ``/api/results/{id}/events`` once it is stored.

Goals on the 2-core machine: p95 first frame ≤ 1 s, zero errors, one computation. Bounded: at most
100 clients, and every request gives up after ``--timeout`` seconds.

    python bench/bench_classroom.py [--clients 30] [--n 2000] [--frames 100] [--spread 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import serve_in_subprocess  # noqa: E402

FRAME, DONE, ERROR = b"event: frame\n", b"event: done\n", b"event: error\n"


def grid25_run(client: httpx.Client) -> tuple[str, str]:
    """(run id, what it is): the ready grid25 preset, else the grid25 exact denoiser."""
    for preset in client.get("/api/presets").json():
        if preset["ready"] and preset["config"]["data"]["dataset"] == "grid25":
            return preset["run_id"], preset["id"]
    body = {"kind": "oracle", "config": {"data": {"dataset": "grid25"}}}
    return client.post("/api/runs", json=body).json()["run_id"], "grid25-oracle"


def stream(url: str, timeout: float, start_gate: threading.Barrier, delay: float) -> dict[str, Any]:
    """One student: wait for the others, then read the whole stream counting events (bytes only:
    the client must not be what limits the measurement on 2 cores)."""
    out: dict[str, Any] = {"first_frame_s": None, "total_s": None, "frames": 0, "error": None, "result_id": None}
    client = httpx.Client(timeout=timeout)  # built before the start: a client's TLS setup is not the server's time
    start_gate.wait()
    time.sleep(delay)
    start = time.perf_counter()
    tail = b""
    try:
        with client, client.stream("GET", url) as response:
            if response.status_code != 200:
                out["error"] = f"HTTP {response.status_code}"
                return out
            for chunk in response.iter_bytes():
                window = tail + chunk
                frames = window.count(FRAME) - tail.count(FRAME)
                if frames and out["first_frame_s"] is None:
                    out["first_frame_s"] = time.perf_counter() - start
                out["frames"] += frames
                if out["result_id"] is None and b'"result_id":"' in window:
                    at = window.index(b'"result_id":"') + 13
                    out["result_id"] = window[at:at + 16].decode()
                if ERROR in window:
                    out["error"] = "error event"
                if DONE in window:
                    out["total_s"] = time.perf_counter() - start
                tail = window[-64:]
                if time.perf_counter() - start > timeout:
                    out["error"] = "timeout"
                    return out
    except httpx.HTTPError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    if out["total_s"] is None and out["error"] is None:
        out["error"] = "stream ended without done"
    return out


def wave(url: str, clients: int, spread: float, timeout: float, frames: int) -> dict[str, Any]:
    gate = threading.Barrier(clients)
    results: list[dict[str, Any]] = [{} for _ in range(clients)]

    def run(i: int) -> None:
        results[i] = stream(url, timeout, gate, spread * i / max(clients - 1, 1))

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + spread + 10)
    return summary(results, frames)


def summary(results: list[dict[str, Any]], frames: int) -> dict[str, Any]:
    """What a wave of ``stream`` results measured (quantiles, errors, the result ids seen)."""
    errors = [r.get("error") or ("missing frames" if r.get("frames") != frames else None) for r in results]
    first = [r["first_frame_s"] for r in results if r.get("first_frame_s") is not None]
    total = [r["total_s"] for r in results if r.get("total_s") is not None]
    return {
        "first_frame_ms": _quantiles([1000 * v for v in first], 1),
        "total_s": _quantiles(total, 3),
        "errors": sum(e is not None for e in errors),
        "error_kinds": sorted({e for e in errors if e is not None}),
        "result_ids": sorted({r["result_id"] for r in results if r.get("result_id")}),
    }


def _quantiles(values: list[float], digits: int) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    cuts = statistics.quantiles(values, n=20, method="inclusive") if len(values) > 1 else [values[0]] * 19
    return {"p50": round(statistics.median(values), digits), "p95": round(cuts[18], digits),
            "max": round(max(values), digits)}


@contextmanager
def grid25_server(prefix: str) -> Iterator[tuple[str, httpx.Client, str, str]]:
    """A loopback server on a temporary data dir: (base URL, a client of it, the grid25 run id, what it is)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        server, base = serve_in_subprocess(Path(tmp))
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                run_id, preset = grid25_run(client)
                yield base, client, run_id, preset
        finally:
            server.terminate()
            server.wait(15)


def class_arguments(doc: str | None) -> argparse.ArgumentParser:
    """The arguments every class bench takes: how many clients, and what each samples."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("--clients", type=int, default=30, choices=range(1, 101), metavar="1..100")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=100)
    return parser


def main() -> None:
    parser = class_arguments(__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spread", type=float, default=0.0, help="seconds over which the clients arrive")
    parser.add_argument("--timeout", type=float, default=120.0, help="per request, seconds")
    args = parser.parse_args()
    with grid25_server("modelab-classroom-") as (base, client, run_id, preset):
        before = client.get("/healthz").json()["computations_started"]
        url = f"{base}/api/runs/{run_id}/sample?n={args.n}&frames={args.frames}&seed={args.seed}"
        live = wave(url, args.clients, args.spread, args.timeout, args.frames)
        computations = client.get("/healthz").json()["computations_started"] - before
        replay = None
        if len(live["result_ids"]) == 1:
            replay_url = f"{base}/api/results/{live['result_ids'][0]}/events"
            replay = wave(replay_url, args.clients, args.spread, args.timeout, args.frames)
            replay.pop("result_ids")
        after = client.get("/healthz").json()["computations_started"] - before
    print(json.dumps({
        "clients": args.clients, "n": args.n, "T": 1000, "frames": args.frames, "spread_s": args.spread,
        "run": preset, "cpu_count": os.cpu_count(),
        "first_frame_ms": live["first_frame_ms"], "total_s": live["total_s"], "errors": live["errors"],
        "error_kinds": live["error_kinds"], "result_ids": live["result_ids"], "computations": computations,
        "replay": replay, "computations_after_replay": after,
        "goals": {"first_frame_ms_p95": 1000, "errors": 0, "computations": 1},
    }))


if __name__ == "__main__":
    main()
