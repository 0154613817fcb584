"""Sample-stream latency and throughput against a real uvicorn on loopback (one JSON object on stdout).

Trains the paper's width-128 network on grid25 briefly (sampling speed does not depend on how well
it is trained), registers it as a finished run in a temporary data dir, starts ``uvicorn
server.app:app`` in a subprocess (so the client's parsing does not share the server's GIL), then
streams ``n`` particles × T = 1000 steps with ``frames`` frames, ``repeats`` times:

* ``first_frame_ms``: request sent → first ``frame`` event received (goal ≤ 100 ms);
* ``total_s``: request sent → ``done`` received, every event read and JSON-decoded (goal ≤ 5 s);
* ``engine_s``: the bare ``reverse_process`` loop in this process, same model, n, T and particle threads
  (``MODELAB_SOLO_SAMPLE_THREADS``, default every core),
  interleaved with the streams: on a busy shared machine, ``total_s / engine_s`` is the server's cost.

The first request also loads the checkpoint (reported separately as ``cold``).

    python bench/bench_stream.py [--n 2000] [--frames 100] [--repeats 3] [--train-steps 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from server.diffusion.sampling import reverse_process  # noqa: E402
from server.diffusion.training import train_steps  # noqa: E402
from server.gaussian.checkpoint import save_checkpoint  # noqa: E402
from server.gaussian.config import ExperimentConfig  # noqa: E402
from server.gaussian.denoisers import NetworkDenoiser  # noqa: E402
from server.gaussian.training import TrainingSetup  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.store import Store  # noqa: E402
from tests.support import serve_in_subprocess  # noqa: E402


def train_model(data_dir: Path, steps: int) -> tuple[str, TrainingSetup]:
    """A grid25 width-128 model, registered as a done run; returns its run id and training setup."""
    config = ExperimentConfig.model_validate({"data": {"dataset": "grid25"}, "train": {"steps": steps, "batch": 512}})
    setup = TrainingSetup.create(config)
    for _ in train_steps(setup, report_every=steps):
        pass
    store = Store.open(data_dir)
    store.put(config.run_id(), "trained", config.canonical_json(), "done")
    save_checkpoint(store.model_path(config.run_id()), setup.net, config)
    store.close()
    return config.run_id(), setup


def engine_seconds(setup: TrainingSetup, n: int, threads: int) -> float:
    start = time.perf_counter()
    denoiser = NetworkDenoiser(setup.net, threads=threads)
    for _ in reverse_process(denoiser, setup.schedule, n=n, generator=torch.Generator().manual_seed(0)):
        pass
    return time.perf_counter() - start


def stream_once(client: httpx.Client, url: str) -> dict[str, float]:
    start = time.perf_counter()
    first_frame = None
    frames, event, size = 0, "", 0
    with client.stream("GET", url) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            size += len(line) + 1
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                json.loads(line[5:])
                if event == "frame":
                    frames += 1
                    first_frame = first_frame or time.perf_counter() - start
                elif event == "error":
                    raise SystemExit(f"stream error: {line}")
    assert first_frame is not None
    return {"first_frame_ms": first_frame * 1000, "total_s": time.perf_counter() - start, "frames": frames,
            "megabytes": size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    threads = Settings.from_env().solo_sample_threads  # what the server gives a stream that runs alone
    with tempfile.TemporaryDirectory(prefix="modelab-bench-") as tmp:
        data_dir = Path(tmp)
        run_id, setup = train_model(data_dir, args.train_steps)
        server, base = serve_in_subprocess(data_dir)
        try:
            url = f"{base}/api/runs/{run_id}/sample?n={args.n}&frames={args.frames}"
            runs, engine = [], []
            with httpx.Client(timeout=120) as client:
                for seed in range(args.repeats + 1):
                    # A new seed each time: identical requests replay the stored result (server.streaming.sharing).
                    runs.append(stream_once(client, f"{url}&seed={seed}"))
                    engine.append(engine_seconds(setup, args.n, threads))
        finally:
            server.terminate()
            server.wait(15)
    cold, warm = runs[0], runs[1:]
    ratios = [r["total_s"] / e for r, e in zip(runs, engine, strict=True)]
    print(json.dumps({
        "n": args.n, "T": 1000, "frames": args.frames, "width": 128, "dataset": "grid25",
        "cpu_count": os.cpu_count(), "particle_threads_per_stream": threads,
        "cold": {k: round(v, 3) for k, v in cold.items()},
        "first_frame_ms_median": round(statistics.median(r["first_frame_ms"] for r in warm), 2),
        "total_s_median": round(statistics.median(r["total_s"] for r in warm), 3),
        "total_s_best": round(min(r["total_s"] for r in warm), 3),
        "engine_s_median": round(statistics.median(engine), 3),
        "engine_s_best": round(min(engine), 3),
        "total_over_engine_median": round(statistics.median(ratios), 3),
        "megabytes_per_stream": round(warm[0]["megabytes"], 2),
        "goals": {"first_frame_ms": 100, "total_s": 5},
    }))


if __name__ == "__main__":
    main()
