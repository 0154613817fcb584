"""A local Ray cluster for the tests and the bench: real ``ray start`` nodes, one CPU each, on this machine."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import ray

from tests.support import REPO, free_port

# 127.0.0.2, not 127.0.0.1: Ray replaces "127.0.0.1" and "localhost" by the address of the machine's network
# interface ("remotely reachable"), so a cluster on 127.0.0.1 talks over eth0's address; any other loopback
# address it keeps, so the nodes and the drivers stay on the loopback device.
NODE_IP = "127.0.0.2"
COMMON = ["--block", "--num-cpus", "1", "--node-ip-address", NODE_IP, "--disable-usage-stats"]


class LocalCluster:
    """``ray start --block`` for a head and a second node, each in its own process group (so teardown ends
    exactly the processes these two started), on the loopback address ``NODE_IP``, with their files in a
    temporary directory."""

    def __init__(self, temp: Path):
        self.temp, self.port = temp, free_port()
        self.address = f"{NODE_IP}:{self.port}"
        # The workers import this checkout, whichever copy the virtualenv installed.
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                                                if p),
                    "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        # Ray's token authentication is for clusters on a network; this one is private to the test.
        self.env["RAY_AUTH_MODE"] = "disabled"
        self.nodes: list[subprocess.Popen[bytes]] = []

    def start(self, nodes: int = 2) -> None:
        """A head and ``nodes - 1`` more nodes, once the cluster counts all their CPUs."""
        self._start(["--head", "--port", str(self.port), "--include-dashboard", "false",
                     "--temp-dir", str(self.temp), *COMMON])
        for _ in range(nodes - 1):
            self.add_node()

    def add_node(self) -> None:
        self._start(["--address", self.address, *COMMON])
        ray.init(address=self.address, log_to_driver=False, _node_ip_address=NODE_IP)
        try:
            deadline = time.monotonic() + 120
            while ray.cluster_resources().get("CPU", 0) < len(self.nodes):
                if time.monotonic() > deadline or any(node.poll() is not None for node in self.nodes):
                    raise RuntimeError(f"a Ray node did not join; see {self.temp}/node*.log")
                time.sleep(0.2)
        finally:
            ray.shutdown()

    def _start(self, args: list[str]) -> None:
        ray_cli = Path(sys.executable).parent / "ray"
        log = (self.temp / f"node{len(self.nodes)}.log").open("wb")
        self.nodes.append(subprocess.Popen([str(ray_cli), "start", *args], env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))
        if len(self.nodes) == 1:  # the second node needs the head's GCS to answer
            deadline = time.monotonic() + 120
            while True:
                try:
                    socket.create_connection((NODE_IP, self.port), timeout=1).close()
                    return
                except OSError:
                    if time.monotonic() > deadline or self.nodes[0].poll() is not None:
                        raise RuntimeError(f"the Ray head did not start; see {self.temp}/node0.log") from None
                    time.sleep(0.2)

    def stop(self) -> None:
        for node in reversed(self.nodes):  # SIGTERM: `ray start --block` stops the processes it started
            node.terminate()
        for node in reversed(self.nodes):
            try:
                node.wait(30)
            except subprocess.TimeoutExpired:
                node.kill()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)  # stragglers of this node's own process group


def worker_pids(task_prefix: str) -> list[int]:
    """Worker processes running a task whose name starts with ``task_prefix`` (Ray titles them ``ray::<name>``)."""
    return list(worker_titles(task_prefix))


def worker_titles(task_prefix: str) -> dict[int, str]:
    """pid → name of the task it runs, for the workers running a task whose name starts with ``task_prefix``."""
    titles = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(f"ray::{task_prefix}"):
            titles[int(entry.name)] = title.removeprefix("ray::")
    return titles


class TaskWatch:
    """The names of the tasks starting with ``task_prefix`` that ran while inside ``with``: /proc polled every
    20 ms in a thread (a task that runs for less may be missed; the recursive ones run for seconds)."""

    def __init__(self, task_prefix: str):
        self.task_prefix, self.seen = task_prefix, set[str]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="task-watch", daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.02):
            self.seen.update(worker_titles(self.task_prefix).values())

    def __enter__(self) -> TaskWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
