"""The OpenAPI document, corrected where FastAPI's generator and the answers disagree.

FastAPI files every declared response under the route's own media type, so a stream's 404/409/422/429
would be documented as ``text/event-stream``; they are JSON (every check happens before a stream
starts), and so are the errors of the CSV/npz downloads. ``openapi(app)`` moves every 4xx/5xx body to
``application/json``, once, and caches the result as FastAPI does.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

JSON = "application/json"


def _json_errors(responses: dict[str, Any]) -> None:
    for code, response in responses.items():
        content = response.get("content")
        if not code.isdigit() or int(code) < 400 or not content or JSON in content:
            continue
        schema = next((media["schema"] for media in content.values() if "schema" in media), None)
        response["content"] = {JSON: {"schema": schema}} if schema is not None else {JSON: {}}


def openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                _json_errors(operation.get("responses", {}))
        app.openapi_schema = schema
    return app.openapi_schema
