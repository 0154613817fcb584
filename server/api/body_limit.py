"""Request bodies over ``Settings.max_body_kb`` get 413 before they are read whole.

A declared ``Content-Length`` over the limit is answered at once, without reading a byte of the
body; a body without one (chunked) is counted as it arrives and refused as soon as the count
passes the limit. No handler ever holds, parses or echoes more than the limit, so a 10 MB body
costs the event loop nothing. (FastAPI's own ``max_body_size`` answers a bare "Content Too Large";
this one names the limit and the setting, as every other error names its field.)
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_kb: int):
        self.app = app
        self.limit = limit_kb * 1024
        self.message = f"request body too large: at most {limit_kb} KB (MODELAB_MAX_BODY_KB)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            status, detail = (413, self.message) if declared.isdigit() else (400, "invalid Content-Length header")
            # Connection: close, so that the unread body is not taken for the next request.
            await JSONResponse({"detail": detail}, status, {"Connection": "close"})(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:  # raised in the handler's read of the body; the app answers 413
                raise HTTPException(413, self.message, headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)
