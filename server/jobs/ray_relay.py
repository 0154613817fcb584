"""The web process's side of Ray tasks: relaying their items, cancelling them, naming their failures.

A job thread relays one or more streaming generator tasks (``relay_all``): it polls the job's cancel event
between items (``ray.wait`` with a short timeout) and ``ray.cancel``s what still runs when the job is
cancelled, a task fails or the consumer stops early. A task's failure comes out as the exception the runners
know: its own, ``Cancelled``, or ``WorkerLost`` once Ray's retries are used up. Also here: the count of the
cluster's nodes for /healthz and the address the web process joins a loopback cluster on.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import RayError, RayTaskError, TaskCancelledError

from ..diffusion.cancel import Cancelled, CancelToken

if TYPE_CHECKING:
    from ray import ObjectRefGenerator

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1  # how often a relaying thread looks at its job's cancel event


class WorkerLost(RuntimeError):
    """The Ray worker (or its node) died and the retries are used up."""


def loopback_node_ip(address: str) -> str | None:
    """For a cluster on a loopback address, the web process joins it as a node of that same address.

    Ray replaces only "127.0.0.1" and "localhost" by the network interface's address; a cluster started with
    ``--node-ip-address 127.0.0.2`` (any other loopback address) keeps all its traffic on the loopback device,
    and a driver must then name that address too, or Ray looks for its local node under the interface's."""
    host = address.rsplit(":", 1)[0].strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return None
    return host if loopback else None


def relay_all(streams: list[ObjectRefGenerator], cancel: CancelToken, retries: int
              ) -> Iterator[tuple[ObjectRefGenerator, Any]]:
    """(task, item) from several tasks as their items come; cancels those still running if ``cancel`` is set,
    one fails or the consumer stops early. ``retries``: Ray's for each task, named when a worker is lost."""
    running = list(streams)
    try:
        while running:
            for stream in wait_ready(running, cancel):
                try:
                    ref = next(stream)
                except StopIteration:
                    running.remove(stream)
                    continue
                try:
                    item = ray.get(ref)
                except BaseException as exc:
                    raise translate(exc, retries) from exc
                yield stream, item
    finally:
        for stream in running:
            cancel_task(stream)


def wait_ready(streams: list[ObjectRefGenerator], cancel: CancelToken) -> list[ObjectRefGenerator]:
    """Streams with an item (or an end) ready; raises ``Cancelled`` as soon as ``cancel`` is set."""
    while True:
        if cancel.is_set():
            raise Cancelled
        ready, _ = ray.wait(streams, num_returns=1, timeout=POLL_SECONDS)
        if ready:
            return ready


def translate(exc: BaseException, retries: int) -> BaseException:
    """A task's failure as the exception the runners know: its own error, ``Cancelled`` or ``WorkerLost``."""
    if isinstance(exc, TaskCancelledError):
        return Cancelled()
    if isinstance(exc, RayTaskError):
        cause = exc.cause
        if isinstance(cause, TaskCancelledError | KeyboardInterrupt):
            return Cancelled()
        return cause if isinstance(cause, Exception) else exc
    if isinstance(exc, RayError):
        tried = "retries are off (MODELAB_RAY_MAX_RETRIES=0)" if not retries else \
            f"{retries} {'retry' if retries == 1 else 'retries'} did not bring it back"
        return WorkerLost(f"the Ray worker running this work died ({type(exc).__name__}) and {tried}; "
                          "the store is unchanged, submit it again")
    return exc


def cancel_task(stream: ObjectRefGenerator) -> None:
    """Stop a task that may already have ended (then there is nothing to stop)."""
    try:
        ray.cancel(stream)
    except (RayError, ValueError, TypeError) as exc:
        log.debug("ray.cancel: %s", exc)


def count_alive() -> tuple[int | None, float | None]:
    """(alive nodes, their CPUs) from the head; (None, None) when it does not answer."""
    try:
        alive = [node for node in ray.nodes() if node.get("Alive")]
    except Exception as exc:  # a lost head, or ray shut down: unknown, not an error page
        log.warning("counting the Ray cluster's nodes failed: %s", exc)
        return None, None
    return len(alive), float(sum(node.get("Resources", {}).get("CPU", 0.0) for node in alive))
