"""Helpers shared by the API, live and browser tests (and the benches): a tiny training config, SSE
reading, and a real uvicorn on loopback (in a thread, or in a subprocess with its own GIL)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.gaussian.config import ExperimentConfig
from server.store import Store

REPO = Path(__file__).resolve().parents[1]

# A model that trains in about a second: 1D three-mode mixture, short chain, small batch.
TINY_CONFIG: dict[str, Any] = {
    "data": {"dataset": "1d-123"},
    "schedule": {"T": 100},
    "train": {"steps": 200, "batch": 256, "warmup": 20},
}


def run_async(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` in a thread of its own: after the browser tests, Playwright keeps a loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """(event, decoded JSON data) pairs from an iterator of SSE lines; comments (pings) skipped."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, json.loads("\n".join(data))


def read_events(client: TestClient, url: str) -> list[tuple[str, Any]]:
    """Read a whole SSE stream; fails on a non-200 answer."""
    with client.stream("GET", url) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(parse_sse(response.iter_lines()))


def register_run(store: Store, config_json: str, checkpoint: Path) -> str:
    """Put a finished trained run (``config_json`` with the weights at ``checkpoint``) into ``store``, as
    if trained through the API; returns its run id."""
    run_id = ExperimentConfig.model_validate_json(config_json).run_id()
    metrics = {"steps": 200, "train_seconds": 1.0, "final_loss": 0.3, "loss_history": [[200, 0.3]]}
    store.put(run_id, "trained", config_json, "done", metrics=metrics)
    store.model_path(run_id).parent.mkdir(parents=True, exist_ok=True)
    store.model_path(run_id).write_bytes(checkpoint.read_bytes())
    return run_id


# ---------------------------------------------------------------------------- live server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_in_thread(app: FastAPI, *, name: str | None = None,
                    **options: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    """uvicorn serving ``app`` on a free loopback port in a daemon thread, once started:
    (server, thread, base URL). Stop it with ``server.should_exit = True`` and ``thread.join``."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def serve_in_subprocess(data_dir: Path, settings: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``uvicorn server.app:app`` in a child process on ``data_dir`` (one torch thread), once
    /healthz answers: (process, base URL). A separate process, so a client measuring it does not
    share its GIL. ``settings``: more ``MODELAB_*`` variables. Stop it with ``terminate`` and ``wait``."""
    port = free_port()
    env = {**os.environ, "MODELAB_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           **(settings or {})}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "server.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"], cwd=REPO, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit("the server did not start")
        time.sleep(0.1)
