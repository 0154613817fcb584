"""Abuse while a class works: does /healthz stay fast and does every legitimate stream finish?

Starts ``uvicorn server.app:app`` on 127.0.0.1 in a subprocess on a temporary data dir (with the
bundled models of ``models/``), then for ``--duration`` seconds, all at once:

* ``--big-senders`` loops POSTing a ``--body-mb`` JSON body to ``/api/runs`` (a million-number
  ``means`` list: what a careless script or an attacker sends);
* ``--job-senders`` loops POSTing the heaviest training config the field bounds allow (20,000 steps × batch
  20,000 × width 512 × 8 blocks), a new seed each time, so each would be a new job (the work budget,
  ``server.budgets``, refuses it with a 422 before anything is queued);
* ``--clients`` students (asyncio + httpx, one connection each) streaming small samples of the
  bundled grid25 model (``n``, ``frames``; a distinct seed per stream, so none is shared), one after
  another; a 429 is honoured by waiting its ``Retry-After`` and asking again;
* a probe in its own process GETting ``/healthz`` every ``--probe-interval`` seconds.

Streams still open at the deadline get ``--grace`` seconds to finish; then everything stops and the
server is terminated. Prints one JSON object: /healthz latency p50/p95/max (ms) and failures,
streams completed/failed (and why), status code counts per kind of request, body sizes sent and the
largest answer received. Goals (issue #10): p95 < 100 ms and no failed stream.

Loopback only; every loop is bounded by the deadline and every request by ``--timeout``.

    python bench/bench_abuse.py [--duration 60] [--clients 100] [--big-senders 2] [--job-senders 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import serve_in_subprocess  # noqa: E402

DONE, ERROR = b"event: done\n", b"event: error\n"
MAX_RETRY_WAIT = 10.0  # seconds: a Retry-After beyond this is obeyed only this long (the bench must end)
HEAVY_CONFIG: dict[str, Any] = {
    "data": {"dataset": "grid25"},
    "net": {"width": 512, "blocks": 8},
    "train": {"steps": 20_000, "batch": 20_000},
}


@dataclass
class Tally:
    codes: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in ("big", "job", "stream")})
    streams_done: int = 0
    streams_failed: Counter[str] = field(default_factory=Counter)
    retries_429: int = 0
    largest_answer: dict[str, int] = field(default_factory=lambda: {"big": 0, "job": 0})
    bytes_sent: dict[str, int] = field(default_factory=lambda: {"big": 0, "job": 0})


def big_body(mb: float) -> bytes:
    """A syntactically valid JSON run request of about ``mb`` megabytes (a huge custom mixture)."""
    count = int(mb * 1_000_000 / 4)  # "0.5," is four bytes
    numbers = b"0.5," * (count - 1) + b"0.5"
    return (b'{"kind":"trained","config":{"data":{"dataset":"custom","mixture":{"means":[' + numbers
            + b'],"sigma":0.05}}}}')


async def send_big(client: httpx.AsyncClient, body: bytes, deadline: float, tally: Tally) -> None:
    while time.monotonic() < deadline:
        try:
            response = await client.post("/api/runs", content=body, headers={"Content-Type": "application/json"})
            tally.codes["big"][str(response.status_code)] += 1
            tally.largest_answer["big"] = max(tally.largest_answer["big"], len(response.content))
        except httpx.HTTPError as exc:
            tally.codes["big"][type(exc).__name__] += 1
        tally.bytes_sent["big"] += len(body)


async def send_jobs(client: httpx.AsyncClient, first_seed: int, deadline: float, tally: Tally) -> None:
    seed = first_seed
    while time.monotonic() < deadline:
        body = {"kind": "trained", "config": {**HEAVY_CONFIG, "train": {**HEAVY_CONFIG["train"], "seed": seed}}}
        content = json.dumps(body).encode()
        seed += 1000
        try:
            response = await client.post("/api/runs", content=content, headers={"Content-Type": "application/json"})
            tally.codes["job"][str(response.status_code)] += 1
            tally.largest_answer["job"] = max(tally.largest_answer["job"], len(response.content))
            if response.status_code == 429:
                await asyncio.sleep(min(_retry_after(response), MAX_RETRY_WAIT, max(deadline - time.monotonic(), 0)))
        except httpx.HTTPError as exc:
            tally.codes["job"][type(exc).__name__] += 1
        tally.bytes_sent["job"] += len(content)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.1)
    except ValueError:
        return 1.0


async def student(base: str, url: str, index: int, deadline: float, hard_stop: float, timeout: float,
                  tally: Tally) -> None:
    """Stream one sample after another until the deadline; each has a seed no other stream uses."""
    seed = 1_000_000 + index * 10_000
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as client:
        while time.monotonic() < deadline:
            seed += 1
            outcome = await one_stream(client, f"{url}&seed={seed}", deadline, hard_stop, tally)
            if outcome == "done":
                tally.streams_done += 1
            elif outcome is not None:
                tally.streams_failed[outcome] += 1


async def one_stream(client: httpx.AsyncClient, url: str, deadline: float, hard_stop: float,
                     tally: Tally) -> str | None:
    """'done', a failure reason, or None when the deadline came while still being told to wait (429)."""
    while True:
        try:
            async with client.stream("GET", url) as response:
                tally.codes["stream"][str(response.status_code)] += 1
                if response.status_code == 429:
                    wait = _retry_after(response)
                else:
                    if response.status_code != 200:
                        return f"HTTP {response.status_code}"
                    tail = b""
                    async for chunk in response.aiter_bytes():
                        window = tail + chunk
                        if ERROR in window:
                            return "error event"
                        if DONE in window:
                            return "done"
                        if time.monotonic() > hard_stop:
                            return "unfinished after the grace period"
                        tail = window[-32:]
                    return "stream ended without done"
        except httpx.HTTPError as exc:
            return type(exc).__name__
        tally.retries_429 += 1
        if time.monotonic() + wait > deadline:
            return None  # not admitted before the end: not a failed stream, just not started
        await asyncio.sleep(min(wait, MAX_RETRY_WAIT))


def probe(base: str, interval: float, limit: float, timeout: float, ready: Any, stop: Any, out: Connection) -> None:
    """In its own process (its own GIL): /healthz latencies in ms, and failures, sent back on ``out`` once
    ``stop`` is set (or after ``limit`` seconds at most)."""
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    end = time.monotonic() + limit
    with httpx.Client(base_url=base, timeout=timeout) as client:
        client.get("/healthz")  # connected before the attack starts
        ready.set()
        while not stop.is_set() and time.monotonic() < end:
            start = time.perf_counter()
            try:
                response = client.get("/healthz")
                latencies.append(1000 * (time.perf_counter() - start))
                if response.status_code != 200:
                    failures[f"HTTP {response.status_code}"] += 1
            except httpx.HTTPError as exc:
                latencies.append(1000 * (time.perf_counter() - start))
                failures[type(exc).__name__] += 1
            time.sleep(max(interval - (time.perf_counter() - start), 0))
    out.send((latencies, dict(failures)))
    out.close()


def quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    cuts = statistics.quantiles(values, n=20, method="inclusive") if len(values) > 1 else [values[0]] * 19
    return {"p50": round(statistics.median(values), 1), "p95": round(cuts[18], 1), "max": round(max(values), 1)}


async def attack(base: str, run_id: str, args: argparse.Namespace) -> Tally:
    tally = Tally()
    body = big_body(args.body_mb)
    deadline = time.monotonic() + args.duration
    hard_stop = deadline + args.grace
    url = f"/api/runs/{run_id}/sample?n={args.n}&frames={args.frames}"
    limits = httpx.Limits(max_connections=args.big_senders + args.job_senders + 2)
    async with httpx.AsyncClient(base_url=base, timeout=args.timeout, limits=limits) as shared:
        tasks = [send_big(shared, body, deadline, tally) for _ in range(args.big_senders)]
        tasks += [send_jobs(shared, i + 1, deadline, tally) for i in range(args.job_senders)]
        tasks += [student(base, url, i, deadline, hard_stop, args.timeout, tally) for i in range(args.clients)]
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), args.duration + args.grace + args.timeout + 30)
        except TimeoutError:  # a safety net: every loop is bounded already
            tally.streams_failed["bench stopped waiting"] += 1
    return tally


def grid25_run(base: str) -> tuple[str, str]:
    """(run id, what it is): the ready bundled grid25 model, else the grid25 exact denoiser."""
    with httpx.Client(base_url=base, timeout=30) as client:
        for preset in client.get("/api/presets").json():
            if preset["ready"] and preset["config"]["data"]["dataset"] == "grid25":
                return preset["run_id"], preset["id"]
        body = {"kind": "oracle", "config": {"data": {"dataset": "grid25"}}}
        return client.post("/api/runs", json=body).json()["run_id"], "grid25-oracle"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of abuse (1 to 600)")
    parser.add_argument("--grace", type=float, default=60.0, help="seconds open streams get after the deadline")
    parser.add_argument("--clients", type=int, default=100, choices=range(0, 101), metavar="0..100")
    parser.add_argument("--big-senders", type=int, default=2, choices=range(0, 11), metavar="0..10")
    parser.add_argument("--job-senders", type=int, default=2, choices=range(0, 11), metavar="0..10")
    parser.add_argument("--body-mb", type=float, default=10.0)
    parser.add_argument("--n", type=int, default=200, help="particles per stream")
    parser.add_argument("--frames", type=int, default=20, help="frames per stream")
    parser.add_argument("--probe-interval", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    args = parser.parse_args()
    if not 1 <= args.duration <= 600 or not 0 <= args.grace <= 600 or not 0 < args.body_mb <= 200:
        parser.error("--duration must be 1..600 s, --grace 0..600 s, --body-mb in (0, 200]")
    with tempfile.TemporaryDirectory(prefix="modelab-abuse-") as tmp:
        server, base = serve_in_subprocess(Path(tmp))
        try:
            run_id, run_name = grid25_run(base)
            spawn = multiprocessing.get_context("spawn")
            receive, send = spawn.Pipe(duplex=False)
            ready, stop = spawn.Event(), spawn.Event()
            limit = args.duration + args.grace + args.timeout + 60
            prober = spawn.Process(target=probe, daemon=True,
                                   args=(base, args.probe_interval, limit, args.timeout, ready, stop, send))
            prober.start()
            if not ready.wait(60):
                raise SystemExit("the /healthz probe did not start")
            started = time.monotonic()
            tally = asyncio.run(attack(base, run_id, args))
            wall = time.monotonic() - started
            stop.set()
            latencies, probe_failures = receive.recv() if receive.poll(args.timeout + 10) else ([], {"no report": 1})
            prober.join(10)
            health = httpx.get(base + "/healthz", timeout=args.timeout).json()
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:  # a heavy job that does not stop in time: the bench still reports
                server.kill()
                server.wait(15)
    print(json.dumps({
        "duration_s": args.duration, "wall_s": round(wall, 1), "cpu_count": os.cpu_count(), "run": run_name,
        "healthz_ms": quantiles(latencies), "healthz_probes": len(latencies), "healthz_failures": probe_failures,
        "streams": {"clients": args.clients, "n": args.n, "frames": args.frames, "completed": tally.streams_done,
                    "failed": sum(tally.streams_failed.values()), "failures": dict(tally.streams_failed),
                    "retries_after_429": tally.retries_429},
        "status_codes": {kind: dict(codes) for kind, codes in tally.codes.items()},
        "body_bytes": {"big_body": len(big_body(args.body_mb)), "sent": tally.bytes_sent,
                       "largest_answer": tally.largest_answer},
        "server_at_end": health,
        "goals": {"healthz_p95_ms": 100, "failed_streams": 0},
    }))


if __name__ == "__main__":
    main()
