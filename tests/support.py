"""Helpers shared by the API, live and browser tests: a tiny training config and SSE reading."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

# A model that trains in about a second: 1D three-mode mixture, short chain, small batch.
TINY_CONFIG: dict[str, Any] = {
    "data": {"dataset": "1d-123"},
    "schedule": {"T": 100},
    "train": {"steps": 200, "batch": 256, "warmup": 20},
}


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


# ---------------------------------------------------------------------------- live server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
