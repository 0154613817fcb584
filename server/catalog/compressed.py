"""A response body kept both raw and gzipped, compressed once: plotly.js and the shapes views are served many times
(``server.api.encoding.negotiated`` picks one per request)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass


@dataclass(frozen=True)
class Compressed:
    raw: bytes
    gzipped: bytes

    @classmethod
    def of(cls, raw: bytes) -> Compressed:
        return cls(raw=raw, gzipped=gzip.compress(raw, compresslevel=6, mtime=0))
