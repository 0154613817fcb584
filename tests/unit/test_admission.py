"""A sampling gate's place goes back exactly once, however its holder ends (asyncio, no server)."""

from __future__ import annotations

import asyncio

import pytest

from server.streaming.admission import SamplingGate
from tests.support import run_async


def run(coroutine):  # type: ignore[no-untyped-def]
    return run_async(coroutine)


def test_a_full_gate_admits_no_one_until_a_place_is_back() -> None:
    gate = SamplingGate(concurrency=1, waiting=1)
    first, second = gate.admit(), gate.admit()
    assert first is not None and second is not None and gate.admit() is None
    first.release()
    first.release()  # twice: still one place back, not two
    assert gate.open_streams == 1
    assert gate.admit() is not None and gate.admit() is None


def test_an_error_before_the_hand_over_gives_the_place_back() -> None:
    gate = SamplingGate(concurrency=1, waiting=0)
    with pytest.raises(ValueError), gate.admit() as place:  # type: ignore[union-attr]
        assert place is not None and gate.open_streams == 1
        raise ValueError("Out of range float values are not JSON compliant")  # what encoding meta once raised
    assert gate.open_streams == 0


@pytest.mark.parametrize("end", ["finish", "fail", "cancel at once", "cancel while running"])
def test_a_task_holding_the_place_gives_it_back_however_it_ends(end: str) -> None:
    async def scenario() -> int:
        gate = SamplingGate(concurrency=1, waiting=0)
        started = asyncio.Event()

        async def work() -> None:
            started.set()
            await asyncio.sleep(0 if end in ("finish", "fail") else 10)
            if end == "fail":
                raise RuntimeError("sampling failed")

        place = gate.admit()
        assert place is not None
        with place:
            task = asyncio.create_task(work())
            place.hand_to(task)
        assert gate.open_streams == 1  # the with block ended, the task holds it
        if end == "cancel at once":
            task.cancel()  # before its first step: its body never runs, so no `finally` in it would either
        elif end == "cancel while running":
            await started.wait()
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)  # done callbacks run on the next loop turn
        return gate.open_streams

    assert run(scenario()) == 0
