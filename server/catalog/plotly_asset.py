"""plotly.min.js from the installed ``plotly`` wheel, served by us under a versioned URL (no CDN).

The 4.8 MB file is gzipped once (about 0.2 s, off the event loop) and kept in memory; compressing
per request on the loop would cost ~176 ms of blocked loop per page load.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import re
from dataclasses import dataclass

from .compressed import Compressed

_BANNER = re.compile(rb"plotly\.js v(\d+\.\d+\.\d+\S*)")


def _resource() -> importlib.resources.abc.Traversable:
    return importlib.resources.files("plotly") / "package_data" / "plotly.min.js"


@functools.cache
def plotly_version() -> str:
    """The bundled plotly.js version, read from the file's banner (cheap: no plotly import)."""
    with _resource().open("rb") as handle:
        match = _BANNER.search(handle.read(512))
    if match is None:
        raise RuntimeError("plotly/package_data/plotly.min.js has no version banner")
    return match.group(1).decode()


def plotly_url() -> str:
    return f"/static/vendor/plotly-{plotly_version()}.min.js"


@dataclass(frozen=True)
class Asset:
    body: Compressed
    etag: str  # strong, quoted


@functools.cache
def plotly_asset() -> Asset:
    """Read and compress once per process (the file only changes with the installed package)."""
    raw = _resource().read_bytes()
    etag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
    return Asset(body=Compressed.of(raw), etag=etag)
