"""Against a real uvicorn on loopback: distinct sample streams share the machine fairly, and streams beyond the
active places wait in order, told where they stand (``queue`` events), or are refused with a body that says so."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from server.settings import Settings
from tests.support import parse_sse

STREAMS = 5


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    # One worker slot, so streams can only finish in time if they take turns; 6 active, 2 waiting.
    return Settings(data_dir=tmp_path / "live-data", sampling_concurrency=1, sampling_active=STREAMS + 1,
                    sampling_waiting=2)


def oracle(client: httpx.Client) -> str:
    body = {"kind": "oracle", "config": {"data": {"dataset": "grid25"}, "schedule": {"T": 1000}}}
    return str(client.post("/api/runs", json=body).json()["run_id"])


def opened(stack: ExitStack, client: httpx.Client, url: str) -> Iterator[tuple[str, Any]]:
    response = stack.enter_context(client.stream("GET", url))
    assert response.status_code == 200, response.read()
    return parse_sse(response.iter_lines())


def test_each_new_stream_gets_a_first_frame_while_the_earlier_ones_still_compute(live_server: str,
                                                                                 live_app: FastAPI) -> None:
    gate = live_app.state.gate
    with httpx.Client(base_url=live_server, timeout=60) as client, ExitStack() as stack:
        url = f"/api/runs/{oracle(client)}/sample?n=500&frames=20&seed="
        streams = []
        for seed in range(STREAMS):  # one after the other: each opens while the earlier ones compute
            events = opened(stack, client, url + str(seed))
            assert [next(events)[0], next(events)[0]] == ["meta", "frame"]
            # Its first frame came before any earlier stream finished: nobody hogs the one slot.
            assert gate.active_streams == seed + 1, "an earlier stream finished before this one's first frame"
            streams.append(events)
        counts: list[int] = [0] * STREAMS

        def read(i: int) -> None:
            names = [name for name, _ in streams[i]]
            counts[i] = names.count("frame") + 1 if names[-1] == "done" else -1

        readers = [threading.Thread(target=read, args=(i,)) for i in range(STREAMS)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(120)
        assert counts == [20] * STREAMS  # every stream complete (the first frame was read above)
    assert gate.open_streams == 0


def test_beyond_the_active_places_streams_wait_in_order_and_are_told_where_they_stand(
        live_server: str, live_app: FastAPI) -> None:
    gate = live_app.state.gate
    long = "n=10000&frames=200"  # many seconds of work each: still computing while the others queue
    with httpx.Client(base_url=live_server, timeout=60) as client, ExitStack() as stack:
        url = f"/api/runs/{oracle(client)}/sample?{long}&seed="
        computing = [opened(stack, client, url + str(seed)) for seed in range(STREAMS + 1)]  # all active places
        assert [next(events)[0] for events in computing] == ["meta"] * (STREAMS + 1)  # (references kept: open)
        queued = []
        for ahead, seed in enumerate((100, 101)):  # the two waiting places, in arrival order
            events = opened(stack, client, url + str(seed))
            assert next(events)[0] == "meta"
            name, standing = next(events)
            assert name == "queue"
            assert standing == {"ahead": ahead, "eta_s": None, "message": f"{ahead} ahead of you"}
            queued.append(events)
        refused = client.get(url + "102")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"  # nothing measured yet
        assert refused.json() == {"detail": "too many sample streams at once: 2 ahead of you", "ahead": 2,
                                  "eta_s": None}
        assert (gate.open_streams, gate.active_streams) == (STREAMS + 3, STREAMS + 1)
        # Still waiting a moment later: told again (queue events repeat until the stream's turn comes).
        assert next(queued[1]) == ("queue", {"ahead": 1, "eta_s": None, "message": "1 ahead of you"})
    # Everyone left (the ExitStack closed every stream): every place is back, queued ones included.
    deadline = 50
    while gate.open_streams and deadline:
        threading.Event().wait(0.1)
        deadline -= 1
    assert (gate.open_streams, gate.active_streams) == (0, 0)
