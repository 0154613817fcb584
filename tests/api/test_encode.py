"""Wire encoding: typed arrays round-trip, frame selection keeps its promises, NaN becomes null."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from server.streaming.encode import decode_typed_array, finite_or_none, frame_timesteps, typed_array


def test_typed_arrays_round_trip_little_endian() -> None:
    x = np.arange(12, dtype=np.float64).reshape(4, 3) / 7
    spec = typed_array(x, "f4")
    assert spec["dtype"] == "f4" and spec["shape"] == "4,3"
    np.testing.assert_array_equal(decode_typed_array(spec), x.astype(np.float32))
    labels = typed_array(np.array([0, 1, 2], dtype=np.int8), "u1")
    assert labels == {"dtype": "u1", "bdata": "AAEC", "shape": "3"}
    assert typed_array(np.array([1, -1]), "i2")["bdata"] == "AQD//w=="  # 1, −1 little-endian int16


@given(T=st.integers(1, 4000), frames=st.integers(2, 200))
def test_frame_timesteps(T: int, frames: int) -> None:
    ts = frame_timesteps(T, frames)
    assert len(ts) == min(frames, T + 1) == len(set(ts))
    assert ts[0] == T and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    tail = min(20, len(ts) - 1)
    assert ts[-tail:] == list(range(tail - 1, -1, -1))  # all of the last steps


def test_finite_or_none() -> None:
    value = {"a": math.nan, "b": [1.0, math.inf, np.float32(2.5)], "c": {"d": -math.inf}, "e": "x", "f": None}
    assert finite_or_none(value) == {"a": None, "b": [1.0, None, 2.5], "c": {"d": None}, "e": "x", "f": None}
