"""Who may change the lab: an optional shared token and a read-only mode (README, "Deploying").

Reading and sampling stay open to everyone. Whatever queues or cancels work (a new run, a training
job, an analysis job, a cancel) needs ``Authorization: Bearer <MODELAB_TOKEN>`` when a token is set
(401 otherwise), and is refused outright in read-only mode (403).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ..settings import Settings

READ_ONLY_MESSAGE = ("this lab is read-only (MODELAB_READ_ONLY): training, new runs and analysis jobs are switched "
                     "off; the bundled models and stored results can still be sampled and replayed")
TOKEN_MESSAGE = ("this lab asks for its token before {what}: send the header 'Authorization: Bearer <token>' "
                 "(the token is the server's MODELAB_TOKEN; ask whoever runs it)")

def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def check_write(request: Request, what: str) -> None:
    """403 in read-only mode; 401 unless the request carries the token (when one is set)."""
    settings: Settings = request.app.state.settings
    if settings.read_only:
        raise HTTPException(403, READ_ONLY_MESSAGE)
    if settings.token is None:
        return
    expected = settings.token.get_secret_value().encode()
    if not hmac.compare_digest(_bearer(request).encode(), expected):  # constant time: no guessing by timing
        raise HTTPException(401, TOKEN_MESSAGE.format(what=what), headers={"WWW-Authenticate": "Bearer"})


def write_access(request: Request) -> None:
    """Route dependency for operations that always change something (queueing or cancelling a job)."""
    check_write(request, "starting or cancelling work")


WriteAccess = Annotated[None, Depends(write_access)]
