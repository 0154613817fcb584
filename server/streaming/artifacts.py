"""Stored results of either family, by their format: load, save, export (the registry and routes call these).

A point result (``results``) and an image result (``image_results``) each have their own npz format string; a file
is read by the loader its format names, so a permalink replays whichever it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .image_results import (
    IMAGE_CSV_TABLE,
    IMAGE_RESULT_FORMAT,
    ImageResultArrays,
    StreamResult,
    image_csv,
    image_npz_bytes,
    load_image_result,
    save_image_result,
)
from .results import StoredRun, export_csv, load_result, npz_bytes, result_format, save_result

AnyCsvTable = Literal["particles", "frames", "x0_last", "images"]


class WrongTable(ValueError):
    """A CSV table the result does not have; the message names those it has."""


def load_any_result(path: Path) -> StreamResult:
    """A stored result of either family. Raises ``ResultDamaged`` (unknown format included)."""
    if result_format(path) == IMAGE_RESULT_FORMAT:
        return load_image_result(path)
    return load_result(path)


def save_any_result(path: Path, arrays: StreamResult, run: StoredRun | None = None) -> None:
    if isinstance(arrays, ImageResultArrays):
        save_image_result(path, arrays, run)
    else:
        save_result(path, arrays, run)


def any_npz_bytes(arrays: StreamResult) -> bytes:
    return image_npz_bytes(arrays) if isinstance(arrays, ImageResultArrays) else npz_bytes(arrays)


def csv_tables(arrays: StreamResult) -> tuple[str, ...]:
    """The CSV tables of a result, its default first."""
    return (IMAGE_CSV_TABLE,) if isinstance(arrays, ImageResultArrays) else ("particles", "frames", "x0_last")


def any_csv(arrays: StreamResult, table: AnyCsvTable | None) -> str:
    """One CSV table (None: the result's default). Raises ``WrongTable``."""
    tables = csv_tables(arrays)
    table = table or tables[0]  # type: ignore[assignment]
    if table not in tables:
        raise WrongTable(f"table must be one of {', '.join(tables)} for this result, got {table!r}")
    if isinstance(arrays, ImageResultArrays):
        return image_csv(arrays)
    return export_csv(arrays, table)  # type: ignore[arg-type]
