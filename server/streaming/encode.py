"""Wire encoding: Plotly typed-array specs, frame timestep selection and SSE event builders.

Arrays cross the wire as ``{"dtype", "bdata", "shape"}`` (base64 of little-endian bytes), which
Plotly.js decodes natively; JSON number lists would be ~1.4x larger and ~20x slower to build.
"""

from __future__ import annotations

import base64
import math
from typing import Any, Literal

import numpy as np
from fastapi.sse import ServerSentEvent

Dtype = Literal["f4", "u1", "i2", "i4"]
_NUMPY_DTYPES: dict[str, str] = {"f4": "<f4", "u1": "|u1", "i2": "<i2", "i4": "<i4"}

# SSE event names, shared with the page through the template bootstrap.
EVENT_PROGRESS = "progress"
EVENT_DONE = "done"
EVENT_ERROR = "error"
EVENT_META = "meta"
EVENT_FRAME = "frame"
EVENT_RESULT = "result"
EVENT_QUEUE = "queue"  # a queued sample stream: where it stands (admission.SamplingGate.standing)
EVENT_NAMES = {name: name for name in (EVENT_PROGRESS, EVENT_DONE, EVENT_ERROR, EVENT_META, EVENT_FRAME,
                                       EVENT_RESULT, EVENT_QUEUE)}

TAIL_FRAMES = 20  # the last reverse steps, where modes (and bridges) form, are always all sent


def typed_array(values: Any, dtype: Dtype) -> dict[str, str]:
    """``{"dtype", "bdata", "shape"}`` for an array of any rank (shape "N", "N,D", "N,K,D")."""
    array = np.ascontiguousarray(np.asarray(values), dtype=_NUMPY_DTYPES[dtype])
    return {
        "dtype": dtype,
        "bdata": base64.b64encode(array.tobytes()).decode("ascii"),
        "shape": ",".join(str(s) for s in array.shape),
    }


def decode_typed_array(spec: dict[str, str]) -> np.ndarray:
    """Inverse of ``typed_array`` (tests and the benchmark read streams with it)."""
    shape = tuple(int(s) for s in spec["shape"].split(",")) if spec["shape"] else ()
    raw = base64.b64decode(spec["bdata"])
    return np.frombuffer(raw, dtype=_NUMPY_DTYPES[spec["dtype"]]).reshape(shape)


def frame_timesteps(T: int, frames: int, tail: int = TAIL_FRAMES) -> list[int]:
    """Timesteps of the frames to send, descending: T (initial noise), evenly spaced steps, then the tail.

    Returns exactly ``min(frames, T + 1)`` distinct values; the last ``min(tail, frames − 1)`` steps
    (t = tail−1 … 0) are all included, so t = 0 (the final samples) always is.
    """
    if frames < 2:
        raise ValueError(f"frames must be at least 2, got {frames}")
    slots = min(frames, T + 1) - 1  # frames after the initial one
    tail = min(tail, slots)
    spread = slots - tail  # evenly spaced among t = T−1 … tail
    if spread:
        # Every k-th step (k ≈ (T − tail) / spread) counted down from T, rounded to distinct steps.
        # floor(v + 0.5), not np.round: values ≥ 1 apart must stay distinct (round-half-even merges 2.5, 1.5).
        picks = np.floor(np.linspace(T - 1, tail, spread, endpoint=spread == T - tail) + 0.5).astype(int)
        body = [int(t) for t in picks]
    else:
        body = []
    return [T, *body, *range(tail - 1, -1, -1)]


def finite_or_none(value: Any) -> Any:
    """JSON has no NaN/inf: recursively turn non-finite floats (numpy or Python) into None."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def sse(event: str, data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(event=event, data=data)


def error_event(message: str, **extra: Any) -> ServerSentEvent:
    return sse(EVENT_ERROR, {"message": message, **extra})
