"""Is a Ray head answering at an address? Asked before connecting, in seconds, without importing ray.

``ray.init`` on an address where nothing listens retries for minutes, then fails with a log of RPC
timeouts; ``modelab serve --ray`` and ``RayExecutor`` ask this first and stop with one sentence instead.
"""

from __future__ import annotations

import socket

CONNECT_SECONDS = 5.0
FORMAT = "expected HOST:PORT of the cluster's head (for example 10.0.0.5:6379), or 'auto' on a node of it"


class ClusterUnreachable(RuntimeError):
    """No Ray head answers at the configured address (or the address is not HOST:PORT)."""


def head_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of ``address``; None for "auto" (Ray finds the cluster this machine is a node of).
    Raises ``ClusterUnreachable`` when it is neither."""
    if address == "auto":
        return None
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterUnreachable(f"Ray address {address!r}: {FORMAT}")
    return host, int(port)


def check_head(address: str, timeout: float = CONNECT_SECONDS) -> None:
    """Raises ``ClusterUnreachable`` unless a TCP connection to the head's port opens within ``timeout``."""
    endpoint = head_endpoint(address)
    if endpoint is None:
        return
    try:
        socket.create_connection(endpoint, timeout=timeout).close()
    except OSError as exc:
        reason = f"no answer within {timeout:g} s" if isinstance(exc, TimeoutError) else \
            (exc.strerror or type(exc).__name__).lower()
        raise ClusterUnreachable(f"no Ray cluster answers at {address} ({reason}): start its "
                                 f"head with `ray start --head --port {endpoint[1]}`, or correct the address") from None
