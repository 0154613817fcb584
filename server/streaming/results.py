"""Sampling results: their content-addressed id, their arrays, the npz artifact and the exports.

A result is what one sample stream produced: the frames, the final samples with labels and detector
scores, and the summary. Its id hashes the run id, the sampler parameters and ``ALGO_VERSION``, so
a permalink names *numbers*, not settings: replaying it sends the stored arrays, never recomputes.

The live stream and every replay build their events from the same ``ResultArrays`` through the
same functions, so a replay is byte-identical to the stream it records. The npz holds plain numeric
arrays plus two JSON strings (as numpy unicode scalars); it is read with ``allow_pickle=False``. The
stored file also names its run's kind and config (``run_json``), so a lost index can be rebuilt from
the files alone (``server.catalog.reindex``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np

from ..diffusion.config import ALGO_VERSION, SamplerConfig
from ..gaussian.ground_truth import LABEL_NAMES
from .encode import Dtype, typed_array

RESULT_FORMAT = "mode-interpolation-lab/result/1"
CsvTable = Literal["particles", "frames", "x0_last"]

# name → (dtype, rank) of every array in the file; shapes are cross-checked on load.
_ARRAYS: dict[str, tuple[str, int]] = {
    "frame_t": ("<i4", 1), "frame_x": ("<f4", 3), "frame_x0": ("<f4", 3),
    "samples": ("<f4", 2), "label": ("|u1", 1), "nearest_mode": ("<i2", 1), "between": ("<i2", 2),
    "distance_sigma": ("<f4", 1), "variance": ("<f4", 1), "x0_last": ("<f4", 3), "x0_last_t": ("<i4", 1),
    "roc_fpr": ("<f4", 1), "roc_tpr": ("<f4", 1), "roc_thresholds": ("<f4", 1),
}


class ResultDamaged(ValueError):
    """A stored result file that is missing, truncated or not ours; the message says which."""


def result_params(sampler: SamplerConfig, frames: int, steps: int | None = None) -> dict[str, Any]:
    """Everything besides the run that determines a result's numbers (``steps``: an image run's chain length;
    absent for Gaussian runs, whose ids predate it)."""
    params = {**sampler.model_dump(mode="json"), "frames": frames}
    return params if steps is None else {**params, "steps": steps}


def result_id(run_id: str, sampler: SamplerConfig, frames: int, steps: int | None = None) -> str:
    """16 hex digits: sha256 of run id, canonical sampler parameters and the algorithm version."""
    params = json.dumps(result_params(sampler, frames, steps), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"result/{ALGO_VERSION}/{run_id}/{params}".encode()).hexdigest()[:16]


def frame_payload(index: int, t: int, x: np.ndarray, x0: np.ndarray | None, dtype: Dtype = "f4") -> dict[str, Any]:
    """The `frame` event: x_{t−1} after step t (x_T for t = T) and x̂0 predicted at t."""
    return {"index": index, "t": t, "x": typed_array(x, dtype), "x0": None if x0 is None else typed_array(x0, dtype)}


class StoredArrays:
    """What the stored results of every family share (a frozen dataclass with these fields and ``SPEC``, its
    arrays' name → (dtype, rank)): the cast on building, the id, the frames as events, the size."""

    SPEC: ClassVar[dict[str, tuple[str, int]]]
    FRAME_DTYPE: ClassVar[Dtype] = "f4"
    meta: dict[str, Any]
    frame_t: np.ndarray
    frame_x: np.ndarray
    frame_x0: np.ndarray

    @classmethod
    def build(cls, **fields: Any) -> Self:
        """Cast every array to its stored dtype once, so stream, file and replay agree bit for bit."""
        cast: dict[str, Any] = {k: np.ascontiguousarray(v, dtype=cls.SPEC[k][0]) if k in cls.SPEC else v
                                for k, v in fields.items()}
        return cls(**cast)

    @property
    def result_id(self) -> str:
        return str(self.meta["result_id"])

    def frame(self, index: int) -> dict[str, Any]:
        x0 = None if index == 0 else self.frame_x0[index - 1]
        return frame_payload(index, int(self.frame_t[index]), self.frame_x[index], x0, self.FRAME_DTYPE)

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self.SPEC)


@dataclass(frozen=True)
class ResultArrays(StoredArrays):
    SPEC: ClassVar[dict[str, tuple[str, int]]] = _ARRAYS
    meta: dict[str, Any]  # the `meta` event, result_id included
    frame_t: np.ndarray  # (F,) timesteps of the frames, T first
    frame_x: np.ndarray  # (F, N, D)
    frame_x0: np.ndarray  # (F − 1, N, D): the initial frame has no x̂0
    samples: np.ndarray  # (N, D)
    label: np.ndarray  # (N,) 0 in support, 1 between modes, 2 outside
    nearest_mode: np.ndarray  # (N,)
    between: np.ndarray  # (N, 2), −1 if none
    distance_sigma: np.ndarray  # (N,)
    variance: np.ndarray  # (N,) the detector score
    x0_last: np.ndarray  # (N, K, D) x̂0 at t = K−1 … 0
    x0_last_t: np.ndarray  # (K,)
    roc_fpr: np.ndarray
    roc_tpr: np.ndarray
    roc_thresholds: np.ndarray
    summary: dict[str, Any]

    def result(self) -> dict[str, Any]:
        """The `result` event."""
        return {
            "samples": typed_array(self.samples, "f4"),
            "label": typed_array(self.label, "u1"),
            "nearest_mode": typed_array(self.nearest_mode, "i2"),
            "between": typed_array(self.between, "i2"),
            "distance_sigma": typed_array(self.distance_sigma, "f4"),
            "variance": typed_array(self.variance, "f4"),
            "x0_last": typed_array(self.x0_last, "f4"),
            "x0_last_ts": [int(t) for t in self.x0_last_t],
            "summary": self.summary,
            "roc": {"fpr": typed_array(self.roc_fpr, "f4"), "tpr": typed_array(self.roc_tpr, "f4"),
                    "thresholds": typed_array(self.roc_thresholds, "f4")},
        }


# ---------------------------------------------------------------------------- the npz artifact


def _npz_content(arrays: ResultArrays, run: StoredRun | None = None) -> dict[str, np.ndarray]:
    return npz_content(RESULT_FORMAT, {name: getattr(arrays, name) for name in _ARRAYS}, arrays.meta,
                       arrays.summary, run)


def npz_content(fmt: str, arrays: dict[str, np.ndarray], meta: dict[str, Any], summary: dict[str, Any],
                run: StoredRun | None) -> dict[str, np.ndarray]:
    """A stored result's npz entries: its arrays, then the format, meta, summary (and run) as JSON strings."""
    content: dict[str, np.ndarray] = dict(arrays)
    content["format"] = np.array(fmt)
    content["meta_json"] = np.array(json.dumps(meta, allow_nan=False))
    content["summary_json"] = np.array(json.dumps(summary, allow_nan=False))
    if run is not None:
        content["run_json"] = np.array(json.dumps({"kind": run.kind, "config": run.config_json}))
    return content


@dataclass(frozen=True)
class StoredRun:
    """The run a stored result came from, as written into its file."""

    kind: str
    config_json: str


def stored_run(path: Path) -> StoredRun | None:
    """The run named in a stored result file (None in files written before it was, or if unreadable)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "run_json" not in npz.files:
                return None
            value = json.loads(str(npz["run_json"]))
        return StoredRun(str(value["kind"]), str(value["config"]))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None


def npz_bytes(arrays: ResultArrays) -> bytes:
    """The export: what ``save_result`` writes, less the run's config (``/api/runs/{id}/config.json``)."""
    return content_bytes(_npz_content(arrays))


def content_bytes(content: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **content)  # type: ignore[arg-type]
    return buffer.getvalue()


def save_result(path: Path, arrays: ResultArrays, run: StoredRun | None = None) -> None:
    """Write atomically (``write_npz``)."""
    write_npz(path, _npz_content(arrays, run))


def write_npz(path: Path, content: dict[str, np.ndarray]) -> None:
    """Write atomically: temp file in the same directory, fsync, rename. A crash leaves a ``*.tmp`` at worst."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **content)  # type: ignore[arg-type]
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_result(path: Path) -> ResultArrays:
    """Read and check a stored result. Raises ``ResultDamaged``; never unpickles (allow_pickle=False)."""
    fields = read_npz(path, RESULT_FORMAT, _ARRAYS)
    arrays = ResultArrays(**fields)
    _check_shapes(arrays)
    return arrays


def read_npz(path: Path, fmt: str, spec: dict[str, tuple[str, int]]) -> dict[str, Any]:
    """The arrays named in ``spec`` (name → dtype, rank, each checked), ``meta`` and ``summary`` of a stored result
    of format ``fmt``. Raises ``ResultDamaged``; never unpickles."""
    if not path.is_file():
        raise ResultDamaged("the result file is missing")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if str(npz["format"]) != fmt:
                raise ResultDamaged(f"unknown result format {str(npz['format'])[:60]!r}")
            fields: dict[str, Any] = {name: npz[name] for name in spec}
            fields["meta"] = json.loads(str(npz["meta_json"]))
            fields["summary"] = json.loads(str(npz["summary_json"]))
    except ResultDamaged:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ResultDamaged(f"the result file is damaged ({type(exc).__name__}: {str(exc)[:120]})") from exc
    for name, (dtype, rank) in spec.items():
        if fields[name].dtype != np.dtype(dtype) or fields[name].ndim != rank:
            raise ResultDamaged(f"the result file is damaged ({name} has dtype {fields[name].dtype}, "
                                f"{fields[name].ndim} dimensions)")
    if not isinstance(fields["meta"], dict) or not isinstance(fields["summary"], dict) \
            or "result_id" not in fields["meta"]:
        raise ResultDamaged("the result file is damaged (bad meta or summary)")
    return fields


def result_format(path: Path) -> str:
    """The ``format`` string of a stored result file (what its loader is). Raises ``ResultDamaged``."""
    if not path.is_file():
        raise ResultDamaged("the result file is missing")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return str(npz["format"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ResultDamaged(f"the result file is damaged ({type(exc).__name__}: {str(exc)[:120]})") from exc


def _check_shapes(a: ResultArrays) -> None:
    F, N, D = a.frame_x.shape
    K = len(a.x0_last_t)
    expected = {
        "frame_t": (F,), "frame_x0": (F - 1, N, D), "samples": (N, D), "label": (N,), "nearest_mode": (N,),
        "between": (N, 2), "distance_sigma": (N,), "variance": (N,), "x0_last": (N, K, D),
    }
    for name, shape in expected.items():
        if getattr(a, name).shape != shape:
            raise ResultDamaged(f"the result file is damaged ({name} has shape {getattr(a, name).shape}, "
                                f"expected {shape})")


# ---------------------------------------------------------------------------- CSV export


def export_csv(a: ResultArrays, table: CsvTable) -> str:
    """One CSV table: per particle (final sample, label, scores), per frame and particle, or x̂0 last-K."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    D = a.samples.shape[1]
    axes = ["x", "y"][:D]
    if table == "particles":
        writer.writerow(["particle", *axes, "label", "label_name", "nearest_mode", "between_i", "between_j",
                         "distance_sigma", "variance"])
        for i in range(len(a.samples)):
            writer.writerow([i, *_floats(a.samples[i]), int(a.label[i]), LABEL_NAMES[int(a.label[i])],
                             int(a.nearest_mode[i]), int(a.between[i, 0]), int(a.between[i, 1]),
                             _float(a.distance_sigma[i]), _float(a.variance[i])])
    elif table == "frames":
        writer.writerow(["frame", "t", "particle", *axes, *(f"x0_{axis}" for axis in axes)])
        for f, t in enumerate(a.frame_t):
            x0 = a.frame_x0[f - 1] if f else None
            for i in range(a.frame_x.shape[1]):
                tail = _floats(x0[i]) if x0 is not None else [""] * D
                writer.writerow([f, int(t), i, *_floats(a.frame_x[f, i]), *tail])
    else:
        writer.writerow(["t", "particle", *(f"x0_{axis}" for axis in axes)])
        for k, t in enumerate(a.x0_last_t):
            for i in range(a.x0_last.shape[0]):
                writer.writerow([int(t), i, *_floats(a.x0_last[i, k])])
    return out.getvalue()


def _float(value: Any) -> str:
    return str(np.float32(value))  # the shortest text that reads back as the same float32


def _floats(values: np.ndarray) -> list[str]:
    return [_float(v) for v in values]
