"""Image sample streams of the bundled Simple Shapes model against a real uvicorn on loopback (one JSON object on
stdout).

Starts ``uvicorn server.app:app`` in a subprocess on a temporary data dir with the bundled models of ``models/``
(the shapes runs are registered at start; the start-up warm-up of the default grid is turned off, so that nothing
else computes while it measures), takes the first registered bundled shapes model, then measures:

* ``first_frame_ms``: request sent → first ``frame`` event of a new (never computed) stream: a fresh seed each
  time; the first request also loads the checkpoint (reported as ``cold``); goal ≤ 200 ms;
* ``overhead``: the whole stream (request → end, every event read and JSON-decoded: bench_stream.stream_once)
  against the bare ``reverse_process`` loop in this process on the same U-Net, n, chain steps and seed,
  interleaved with the streams: on a busy shared machine the ratio of the two is the server's cost (encoding,
  counting, scoring, transport); goal: total ≤ 1.15 × engine. The loop runs on ``--engine-threads`` torch threads
  (default 1): on this small U-Net (n = 16 images of 32×32) one thread is the fastest on a shared 2-core machine
  (two measured 8–30× slower under load, OpenMP threads waiting on each other), so the ratio is against the
  engine at its best, whatever the server's own thread count costs it (``MODELAB_IMAGE_SAMPLE_THREADS``, default 1,
  caps ``MODELAB_SOLO_SAMPLE_THREADS`` for image streams: set it to 2 to measure two OpenMP threads);
* ``classroom``: ``--clients`` students open one new link at once (bench_classroom.wave): first frame and total
  times, errors, and the sampling computations the server started (its /healthz counter): the goal is one.

    python bench/bench_shapes_stream.py [--n 16] [--steps 100] [--frames 60] [--repeats 3] [--clients 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_classroom import wave  # noqa: E402
from bench.bench_stream import stream_once  # noqa: E402
from server.catalog.bundled import discover_shapes  # noqa: E402
from server.catalog.shapes_sets import BundledShapesSet, samples_path  # noqa: E402
from server.diffusion.sampling import reverse_process  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.shapes.checkpoint import load_unet_checkpoint  # noqa: E402
from server.shapes.sampling import strided_schedule, unet_denoiser  # noqa: E402
from tests.support import serve_in_subprocess  # noqa: E402


def registered_shapes_set(client: httpx.Client) -> BundledShapesSet:
    """The first bundled shapes model (by file name) that the server registered as a done run."""
    for model in discover_shapes(REPO / "models"):
        answer = client.get(f"/api/runs/{model.run_id}")
        if answer.status_code == 200 and answer.json().get("status") == "done":
            return BundledShapesSet(model.name, model.run_id, model.config, model.path, samples_path(model.path))
    raise SystemExit("no bundled Simple Shapes run is registered by the server (models/*.safetensors of family "
                     "'shapes')")


def engine_seconds(found: BundledShapesSet, n: int, steps: int, seed: int, threads: int) -> float:
    """The bare reverse process of the stream's U-Net on the same strided chain (x̂0 clipped, as streamed)."""
    checkpoint = load_unet_checkpoint(found.model_path)
    denoiser = unet_denoiser(checkpoint.net, checkpoint.config, steps)
    schedule = strided_schedule(checkpoint.config, steps)
    torch.set_num_threads(threads)
    start = time.perf_counter()
    with torch.inference_mode():
        for _ in reverse_process(denoiser, schedule, n=n, generator=torch.Generator().manual_seed(seed)):
            pass
    seconds = time.perf_counter() - start
    torch.set_num_threads(1)
    return seconds


@contextmanager
def shapes_server(timeout: float) -> Iterator[tuple[str, httpx.Client, BundledShapesSet]]:
    """A loopback server on a temporary data dir: (base URL, a client of it, its bundled shapes set)."""
    with tempfile.TemporaryDirectory(prefix="modelab-shapes-bench-") as tmp:
        server, base = serve_in_subprocess(Path(tmp), {"MODELAB_WARM_SHAPES": "false"})
        try:
            with httpx.Client(base_url=base, timeout=timeout) as client:
                yield base, client, registered_shapes_set(client)
        finally:
            server.terminate()
            server.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100, help="chain steps (must divide the run's T)")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=30, choices=range(1, 101), metavar="1..100")
    parser.add_argument("--timeout", type=float, default=300.0, help="per request, seconds")
    parser.add_argument("--engine-threads", type=int, default=1, help="torch threads of the bare engine loop")
    args = parser.parse_args()
    torch.set_num_threads(1)
    server = Settings.from_env()  # the subprocess reads the same environment
    with shapes_server(args.timeout) as (base, client, found):
        path = f"/api/runs/{found.run_id}/sample?n={args.n}&steps={args.steps}&frames={args.frames}"
        runs, engine = [], []
        for i in range(args.repeats + 1):
            seed = 1000 + i  # a new seed each time: an identical request replays the stored result
            runs.append(stream_once(client, f"{path}&seed={seed}"))
            engine.append(engine_seconds(found, args.n, args.steps, seed, args.engine_threads))
        before = client.get("/healthz").json()["computations_started"]
        classroom = wave(f"{base}{path}&seed=5000", args.clients, 0.0, args.timeout, min(args.frames, args.steps + 1))
        computations = client.get("/healthz").json()["computations_started"] - before
    warm = runs[1:]
    ratios = [r["total_s"] / e for r, e in zip(warm, engine[1:], strict=True)]
    print(json.dumps({
        "run": found.name, "run_id": found.run_id, "n": args.n, "steps": args.steps, "frames": args.frames,
        "cpu_count": os.cpu_count(),
        "server_threads_per_stream": min(server.solo_sample_threads, server.image_sample_threads),
        "engine_threads": args.engine_threads,
        "cold": {k: round(v, 3) for k, v in runs[0].items()},
        "first_frame_ms": [round(r["first_frame_ms"], 1) for r in warm],
        "first_frame_ms_median": round(statistics.median(r["first_frame_ms"] for r in warm), 1),
        "overhead": {
            "stream_s": [round(r["total_s"], 3) for r in warm], "engine_s": [round(e, 3) for e in engine[1:]],
            "ratio_median": round(statistics.median(ratios), 3), "ratio_best": round(min(ratios), 3),
        },
        "megabytes_per_stream": round(warm[0]["megabytes"], 2),
        "classroom": {"clients": args.clients, **classroom, "computations": computations},
        "goals": {"first_frame_ms": 200, "stream_over_engine": 1.15, "classroom_computations": 1},
    }))


if __name__ == "__main__":
    main()
