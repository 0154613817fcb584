"""The server on a local Ray cluster (one JSON object on stdout): a sweep on 1 vs 2 nodes, and many students.

Needs the ``ray`` extra. Starts real ``ray start`` nodes of one CPU each on this machine (tests/ray/cluster.py)
and ``uvicorn server.app:app`` in a subprocess with ``MODELAB_RAY_ADDRESS`` pointing at them:

* ``sweep``: one sweep of ``--points`` values (n_train, one seed, ``--steps`` training steps each), every point
  a Ray task, timed from POST to ``done`` on a one-node cluster, then, on a fresh data dir (nothing cached),
  after a second node joined: ``ratio`` = seconds on 1 node / seconds on 2 nodes;
* ``students``: ``--clients`` clients released together, each streaming the bundled grid25 model (else the
  grid25 exact denoiser) with its own seed, n = ``--n``, against the 2-node cluster: first frame p50/p95/max,
  total time, errors (the server admits all of them: MODELAB_SAMPLING_WAITING = clients).

The nodes share this machine's cores, so on a 2-core machine the ratio shows whether the work spreads over
both nodes and what the relaying costs, not what two machines would give.

    python bench/bench_ray.py [--points 4] [--steps 600] [--clients 100] [--n 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_classroom import _quantiles, grid25_run, stream  # noqa: E402

from tests.ray.cluster import LocalCluster  # noqa: E402
from tests.support import serve_in_subprocess  # noqa: E402


def timed_sweep(base: str, points: int, steps: int) -> float:
    body = {"base": {"data": {"dataset": "1d-123"}, "schedule": {"T": 200},
                     "train": {"steps": steps, "batch": 256, "warmup": 10}},
            "sampler": {"n": 1000}, "param": "n_train", "values": [200 * (i + 1) for i in range(points)],
            "seeds": [0]}
    with httpx.Client(base_url=base, timeout=600) as client:
        start = time.perf_counter()
        job = client.post("/api/analysis/sweeps", json=body)
        assert job.status_code == 202, job.text
        while (view := client.get(f"/api/analysis/jobs/{job.json()['job_id']}").json())["status"] in ("queued",
                                                                                                   "running"):
            time.sleep(0.1)
        assert view["status"] == "done", view
        return time.perf_counter() - start


def students(base: str, clients: int, n: int, frames: int, timeout: float) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=30) as client:
        run_id, what = grid25_run(client)
    gate = threading.Barrier(clients)
    results: list[dict[str, Any]] = [{} for _ in range(clients)]

    def run(i: int) -> None:
        results[i] = stream(f"{base}/api/runs/{run_id}/sample?n={n}&frames={frames}&seed={1000 + i}", timeout,
                            gate, 0.0)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 10)
    errors = [r.get("error") or ("missing frames" if r.get("frames") != frames else None) for r in results]
    return {
        "run": what, "clients": clients, "n": n, "frames": frames,
        "first_frame_ms": _quantiles([1000 * r["first_frame_s"] for r in results if r.get("first_frame_s")], 1),
        "total_s": _quantiles([r["total_s"] for r in results if r.get("total_s")], 2),
        "wall_s": round(time.perf_counter() - start, 2),
        "errors": sum(e is not None for e in errors), "error_kinds": sorted({e for e in errors if e is not None}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=4, choices=range(2, 9), metavar="2..8")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--clients", type=int, default=100, choices=range(1, 101), metavar="1..100")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600.0, help="per stream, seconds")
    args = parser.parse_args()
    os.environ["RAY_AUTH_MODE"] = "disabled"  # as the nodes: a private loopback cluster
    out: dict[str, Any] = {"cpu_count": os.cpu_count(), "nodes_cpus": 1}
    with tempfile.TemporaryDirectory(prefix="modelab-ray-") as tmp:
        cluster = LocalCluster(Path(tmp) / "ray")
        cluster.temp.mkdir()
        try:
            cluster.start(nodes=1)
            seconds = {}
            for nodes in (1, 2):
                if nodes == 2:
                    cluster.add_node()
                data = Path(tmp) / f"data{nodes}"
                server, base = serve_in_subprocess(data, {"MODELAB_RAY_ADDRESS": cluster.address,
                                                          "MODELAB_SAMPLING_WAITING": str(args.clients)})
                try:
                    seconds[nodes] = timed_sweep(base, args.points, args.steps)
                    if nodes == 2:
                        out["students"] = students(base, args.clients, args.n, args.frames, args.timeout)
                finally:
                    server.terminate()
                    server.wait(30)
            out["sweep"] = {"points": args.points, "steps": args.steps, "seconds_1_node": round(seconds[1], 2),
                            "seconds_2_nodes": round(seconds[2], 2), "ratio": round(seconds[1] / seconds[2], 2)}
        finally:
            cluster.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
