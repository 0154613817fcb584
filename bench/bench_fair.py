"""Fair sharing: 30 students each sample their own seed at once (one JSON object on stdout).

Starts ``uvicorn server.app:app`` on 127.0.0.1 in a subprocess (as bench_classroom.py does), with the
bundled grid25 model, then measures in the same run:

* ``back_to_back_s``: ``--clients`` computations (distinct seeds) one after the other, one client;
* ``concurrent``: ``--clients`` threads released together by a barrier, each streaming its own seed
  (seeds not used by the back-to-back pass, so nothing is replayed): first frame p50 / p95 / max,
  time to ``done``, errors (non-200 answers included: a 429 counts as an error), and ``wall_s``,
  first request → last ``done``;
* ``total_ratio``: concurrent wall time / back-to-back time (goal ≤ 1.10: fairness must not cost throughput);
* the load average before and after (the numbers mean little on a machine busy with other work).

Goals on the 2-core machine: p95 first frame ≤ 1 s, zero errors, every stream completes, ratio ≤ 1.10.
Bounded: at most 100 clients; every request gives up after ``--timeout`` seconds.

    python bench/bench_fair.py [--clients 30] [--n 2000] [--frames 100]
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_classroom import class_arguments, grid25_server, stream, summary  # noqa: E402


def concurrent(urls: list[str], timeout: float, frames: int) -> dict[str, Any]:
    gate = threading.Barrier(len(urls) + 1)
    results: list[dict[str, Any]] = [{} for _ in urls]

    def run(i: int) -> None:
        results[i] = stream(urls[i], timeout, gate, 0.0)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    gate.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join(timeout + 10)
    wall = time.perf_counter() - start
    measured = summary(results, frames)
    measured.pop("result_ids")
    completed = sum(r.get("total_s") is not None for r in results)
    return {**measured, "completed": completed, "wall_s": round(wall, 2)}


def back_to_back(urls: list[str], timeout: float) -> tuple[float, int]:
    """(seconds for all, errors): one computation after the other."""
    gate = threading.Barrier(1)
    start = time.perf_counter()
    errors = sum(stream(url, timeout, gate, 0.0)["error"] is not None for url in urls)
    return time.perf_counter() - start, errors


def main() -> None:
    parser = class_arguments(__doc__)
    parser.add_argument("--timeout", type=float, default=900.0, help="per request, seconds")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with grid25_server("modelab-fair-") as (base, client, run_id, preset):
        url = f"{base}/api/runs/{run_id}/sample?n={args.n}&frames={args.frames}&seed="
        sequential_s, sequential_errors = back_to_back([url + str(i) for i in range(args.clients)], args.timeout)
        load_between = os.getloadavg()
        live = concurrent([url + str(1000 + i) for i in range(args.clients)], args.timeout, args.frames)
        health = client.get("/healthz").json()
    print(json.dumps({
        "clients": args.clients, "n": args.n, "T": 1000, "frames": args.frames, "run": preset,
        "cpu_count": os.cpu_count(), "back_to_back_s": round(sequential_s, 2), "back_to_back_errors": sequential_errors,
        "concurrent": live, "total_ratio": round(live["wall_s"] / sequential_s, 3),
        "sample_streams_after": health["sample_streams"],
        "load_average": {"before": [round(v, 1) for v in load_before], "between": [round(v, 1) for v in load_between],
                         "after": [round(v, 1) for v in os.getloadavg()]},
        "goals": {"first_frame_ms_p95": 1000, "errors": 0, "completed": args.clients, "total_ratio": 1.10},
    }))


if __name__ == "__main__":
    main()
