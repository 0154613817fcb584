"""HTTP methods: HEAD wherever GET answers a whole response, and a 405 whose ``Allow`` names every
method of the path (the router alone names only the first route it tried)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fastapi.routing import APIRoute
from fastapi.sse import EventSourceResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send


def _headable(route: BaseRoute) -> bool:
    """A GET route that answers a whole response: HEAD costs what GET does, and a stream is never started
    just to be thrown away."""
    if isinstance(route, APIRoute):
        return "GET" in (route.methods or ()) and route.response_class is not EventSourceResponse
    return isinstance(route, Route) and "GET" in (route.methods or ())


def endpoints(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes under ``routes``, included routers opened (FastAPI keeps each included router as one
    entry holding the original router; its routes carry their full paths, this app's includes add no prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from endpoints(included.routes)
        else:
            yield route


def _probe(scope: Scope, method: str) -> Scope:
    """A bare scope for matching ``scope``'s path with ``method`` (no route state from the request)."""
    return {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", ""), "method": method}


def allowed(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method of the path the router chose (the first route template matching it: ``/api/runs/estimate``
    is that route, not ``/api/runs/{run_id}``), HEAD included where GET answers whole responses."""
    probe = _probe(scope, "GET")
    matching = [r for r in endpoints(routes)
                if isinstance(r, Route | APIRoute) and r.matches(probe)[0] is not Match.NONE]
    methods: set[str] = set()
    for route in matching:
        if route.path == matching[0].path:
            methods |= set(route.methods or ())
            if _headable(route):
                methods.add("HEAD")
    return sorted(methods)


class HeadAsGet:
    """A HEAD request for a headable route runs as GET; uvicorn sends the headers and drops the body."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]):
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            probe = _probe(scope, "GET")
            if any(_headable(r) and r.matches(probe)[0] is Match.FULL for r in endpoints(self.routes)):
                scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)
