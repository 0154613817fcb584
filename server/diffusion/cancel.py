"""Cooperative cancellation: a token passed down to every long loop, checked between small units of work.

A token is anything with ``is_set()`` (a ``threading.Event`` in the server). Loops call ``check`` between
units that each take well under a second (a training step the budget keeps short, a 1,000-row slice of
particles), so a cancel stops the CPU work within one unit; nothing is killed from outside.
"""

from __future__ import annotations

from typing import Protocol


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


class Cancelled(Exception):
    """The work's cancel token was set; raised between two units of work."""


def check(cancel: CancelToken | None) -> None:
    """Raise ``Cancelled`` when ``cancel`` is set (None: never cancelled)."""
    if cancel is not None and cancel.is_set():
        raise Cancelled
