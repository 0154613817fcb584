"""Response headers that make the pages safe to expose: a self-only Content-Security-Policy and friends.

A pure ASGI middleware (not ``BaseHTTPMiddleware``): it only adds headers to ``http.response.start``, so
streamed bodies (SSE, plotly.js) pass through untouched and a disconnect still reaches the route.

The policy allows scripts, styles, fonts and connections from this origin only. Three exceptions, each
measured in Chromium (tests/e2e): Plotly and Swagger UI insert ``<style>`` elements at run time, which
``style-src`` blocks unless ``'unsafe-inline'`` (styles cannot run code); exported charts, Swagger UI's
icons and the empty favicon are ``data:``/``blob:`` images; and Plotly's WebGL traces (the explorer's
2,000 particles) are drawn by regl, which compiles its draw calls with ``new Function``: without
``'unsafe-eval'`` Plotly shows "WebGL is not supported" in place of the main plot, and the SVG fallback
(static/js/theme.js) animates 2,000 particles at ~4 fps. No inline script anywhere, and no string of ours
or of a request is ever evaluated (the pages build no code from data).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-eval'",  # regl (Plotly's WebGL) compiles its draw calls: see above
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple((k.encode(), v.encode()) for k, v in (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),  # frame-ancestors for browsers that predate CSP level 2
    ("Cross-Origin-Opener-Policy", "same-origin"),
))


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP response (a route's own value of the same header wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k.lower(), v) for k, v in SECURITY_HEADERS if k.lower() not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
