"""Waiting for SIGTERM / Ctrl-C, and several web processes on one listening socket
(`quorum serve --workers N`): spawned, restarted if one dies, stopped with SIGTERM."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)


class Signals:
    """SIGTERM and SIGINT caught from the moment this is made (in the main thread), so a
    signal that comes while the process is still starting is not lost to the default
    action (dying mid-start, nothing cleaned up) but ends the wait that follows. The
    handlers stay installed, so a second Ctrl-C during the shutdown does not interrupt it."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._done = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.received.append(signum)
        self._done.set()

    def wait(self, tick: Callable[[], bool] | None = None, every_s: float = 0.5) -> int | None:
        """Block until a signal came and return it; with `tick`, call it every `every_s`
        and return None as soon as it says False."""
        while not self._done.wait(every_s if tick is not None else None):
            if tick is not None and not tick():
                return None
        return self.received[0]


class WebProcesses:
    """`count` processes, each running `target(sock)`: serving HTTP on the listening
    socket they share (the kernel hands each connection to one of them). A process
    that dies is started again, after a pause that doubles while it keeps dying young."""

    def __init__(self, target: Callable[[socket.socket], None], sock: socket.socket, count: int):
        self.target = target
        self.sock = sock
        self.count = count
        self._spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads
        self.processes: list[BaseProcess | None] = [None] * count
        self._started_at = [0.0] * count
        self._restart_at = [0.0] * count
        self._pause = [0.5] * count  # doubled at each early death: 1 s, 2 s, … 30 s

    def start(self) -> WebProcesses:
        for n in range(self.count):
            self._start(n)
        return self

    def _start(self, n: int) -> None:
        process = self._spawn.Process(
            target=self.target, args=(self.sock,), name=f"quorum-web-{n + 1}"
        )
        process.start()
        self.processes[n] = process
        self._started_at[n] = time.monotonic()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p is not None and p.pid is not None]

    def check(self) -> bool:
        """Start again whatever died; always True (keep waiting), for Signals.wait."""
        now = time.monotonic()
        for n, process in enumerate(self.processes):
            if process is not None and process.is_alive():
                continue
            if process is not None:
                young = now - self._started_at[n] < 30
                self._pause[n] = min(self._pause[n] * 2, 30.0) if young else 1.0
                self._restart_at[n] = now + self._pause[n]
                log.warning(
                    "web process %s (pid %s) exited with %s; starting another in %.0f s",
                    n + 1,
                    process.pid,
                    process.exitcode,
                    self._pause[n],
                )
                process.close()
                self.processes[n] = None
            elif now >= self._restart_at[n]:
                self._start(n)
        return True

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM to each: no new connections, requests in progress finish, then the
        process stops like `quorum serve`. Those still running after `timeout_s` are killed."""
        running = [p for p in self.processes if p is not None and p.is_alive()]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + timeout_s
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("web process pid %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join(5)
        self.processes = [None] * self.count
