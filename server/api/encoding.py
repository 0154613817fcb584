"""Content negotiation for bodies kept compressed (``server.catalog.compressed``)."""

from __future__ import annotations

from fastapi import Request, Response

from ..catalog.compressed import Compressed


def negotiated(request: Request, body: Compressed, media_type: str, headers: dict[str, str] | None = None) -> Response:
    """The gzipped body when the client accepts gzip, else the raw one; ``Vary: Accept-Encoding`` either way."""
    headers = {**(headers or {}), "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(body.gzipped, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(body.raw, media_type=media_type, headers=headers)
