"""Turn-taking and the waiting queue of the sampling gate: order only (no clock, no threads, no server)."""

from __future__ import annotations

import asyncio

from server.streaming.admission import SamplingGate, TurnQueue
from tests.support import run_async


def test_first_chunks_go_first_then_everyone_in_the_order_they_asked() -> None:
    turns = TurnQueue()
    for who, first in [("a", False), ("b", False), ("new1", True), ("c", False), ("new2", True)]:
        turns.push(who, first=first)
    assert len(turns) == 5
    assert [turns.pop() for _ in range(6)] == ["new1", "new2", "a", "b", "c", None]


def test_a_computation_asking_again_goes_to_the_back_of_the_line() -> None:
    turns = TurnQueue()
    for who in "abc":
        turns.push(who, first=False)
    served = []
    for _ in range(7):  # each served computation asks for its next chunk at once: round robin
        who = turns.pop()
        served.append(who)
        turns.push(who, first=False)
    assert "".join(map(str, served)) == "abcabca"


def test_a_waiter_that_leaves_is_no_longer_in_line() -> None:
    turns = TurnQueue()
    for who, first in [("a", False), ("b", True), ("c", False)]:
        turns.push(who, first=first)
    turns.remove("b")
    turns.remove("a")
    assert [turns.pop(), turns.pop()] == ["c", None]


def test_chunks_of_several_streams_interleave_on_one_slot() -> None:
    """Three streams of three chunks each on one worker slot: served round robin, a newcomer's first chunk
    ahead of the others' next ones."""
    async def scenario() -> list[str]:
        gate = SamplingGate(concurrency=1, waiting=0, active=10)
        order: list[str] = []

        async def stream(name: str, chunks: int) -> None:
            for i in range(chunks):
                async with gate.compute(first=i == 0):
                    order.append(f"{name}{i}")
                    for _ in range(3):  # the chunk's worker thread: meanwhile the others ask for their turn
                        await asyncio.sleep(0)

        long = asyncio.create_task(stream("L", 3))
        await asyncio.sleep(0)  # L takes the slot, then asks again behind whoever waits
        others = [asyncio.create_task(stream(name, 2)) for name in "xy"]
        await asyncio.gather(long, *others)
        return order

    assert run_async(scenario()) == ["L0", "x0", "y0", "L1", "x1", "y1", "L2"]


def test_a_cancelled_waiter_passes_the_slot_on() -> None:
    async def scenario() -> tuple[list[str], int]:
        gate = SamplingGate(concurrency=1, waiting=0, active=10)
        order: list[str] = []
        release = asyncio.Event()

        async def chunk(name: str) -> None:
            async with gate.compute():
                order.append(name)
                if name == "holder":
                    await release.wait()

        holder = asyncio.create_task(chunk("holder"))
        await asyncio.sleep(0)
        leaver, stayer = asyncio.create_task(chunk("leaver")), asyncio.create_task(chunk("stayer"))
        await asyncio.sleep(0)
        leaver.cancel()
        release.set()
        await asyncio.gather(holder, leaver, stayer, return_exceptions=True)
        return order, gate._slots

    order, free = run_async(scenario())
    assert order == ["holder", "stayer"] and free == 1  # the slot is back once all are done


def test_beyond_the_active_places_streams_wait_first_come_first_served() -> None:
    async def scenario() -> None:
        gate = SamplingGate(concurrency=1, waiting=3, active=2)
        places = [gate.admit() for _ in range(5)]
        assert all(p is not None for p in places[:5]) and gate.admit() is None  # 2 active + 3 waiting
        a, b, c, d, e = places
        assert [p.queued for p in places] == [False, False, True, True, True]  # type: ignore[union-attr]
        assert [gate.standing(p)["ahead"] for p in (c, d, e)] == [0, 1, 2]
        assert gate.standing(None)["ahead"] == 3  # a refused newcomer: everyone queued is ahead
        d.release()  # type: ignore[union-attr]  # a queued stream leaves: the one behind moves up
        assert gate.standing(e)["ahead"] == 1 and gate.active_streams == 2
        b.release()  # type: ignore[union-attr]  # an active place comes back: the first in line computes
        assert not c.queued and e.queued and gate.standing(e)["ahead"] == 0  # type: ignore[union-attr]
        await asyncio.wait_for(c.active(), 1)  # type: ignore[union-attr]
        assert (gate.open_streams, gate.active_streams) == (3, 2)

    run_async(scenario())


def test_eta_and_retry_after_follow_the_measured_drain_rate() -> None:
    gate = SamplingGate(concurrency=1, waiting=5, active=1)
    assert gate.standing(None) == {"ahead": 0, "eta_s": None, "message": "0 ahead of you"}
    assert gate.retry_after() == 2  # nothing measured yet
    gate._drained.extend([100.0, 102.0, 104.0])  # a place back every 2 s
    assert gate.drain_per_second() == 0.5
    gate._queue.extend([object(), object()])  # type: ignore[arg-type]  # two already waiting
    assert gate.standing(None) == {"ahead": 2, "eta_s": 6, "message": "2 ahead of you, about 6 s"}
    assert gate.retry_after() == 2
