"""``--processes N``: N server processes on one port, one emulator through a shared store.

Each child is a whole emulator (its event loop, image threads and job workers) binding the
same port with ``SO_REUSEPORT``, so the kernel spreads connections over them; they agree on
everything a client can see because ``--state redis://…`` holds it (the in-memory store is
refused: each process would have its own tasks, scenarios, journal and counters). The parent
only starts the children, says the port once every child listens, forwards SIGINT/SIGTERM,
and stops them all when one dies.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from emulator.settings import Settings, SettingsError, where

__all__ = ["START_TIMEOUT", "check", "supervise"]

#: Seconds every child has to start listening before the start is called failed.
START_TIMEOUT = 60.0


def check(settings: Settings) -> None:
    """Refuse several processes without a shared store, saying why."""
    if settings.processes > 1 and settings.state == "memory":
        raise SettingsError(
            f"{where('processes')}: {settings.processes} processes need a shared store "
            f"({where('state')} redis://host:port/db): with `memory` each process would "
            "keep its own scenarios, counters, tasks and journal, so a task created through "
            "one would be unknown to the next")


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_listening(pipes: list[Connection], children: list[Any],
                    stopping: Callable[[], bool]) -> bool:
    """Whether every child said it listens within :data:`START_TIMEOUT` (a child that exits
    first closes its pipe unsaid: the start failed)."""
    deadline = time.monotonic() + START_TIMEOUT
    waiting = list(pipes)
    while waiting and not stopping() and time.monotonic() < deadline:
        for pipe in list(waiting):
            if pipe.poll(0.05):
                try:
                    pipe.recv()
                except EOFError:
                    return False
                waiting.remove(pipe)
        if any(child.exitcode is not None for child in children):
            return False
    return not waiting and not stopping()


def supervise(settings: Settings, run: Callable[[Settings, Connection], Any],
              announce: Callable[[Settings], None]) -> int:
    """Start ``settings.processes`` children running ``run(child_settings, ready_pipe)``;
    ``announce`` once all listen; the exit code of the first to fail, or 0 when stopped."""
    def bound(port: int | None) -> int | None:
        return _free_port(settings.host) if port == 0 else port

    child_settings = replace(settings, processes=1, port=bound(settings.port) or settings.port,
                             tls_port=bound(settings.tls_port),
                             proxy_port=bound(settings.proxy_port))
    context = multiprocessing.get_context("fork")  # before any event loop exists
    children = []
    pipes = []
    for _ in range(settings.processes):
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=run, args=(child_settings, send), daemon=False)
        child.start()
        send.close()
        children.append(child)
        pipes.append(receive)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        started = _wait_listening(pipes, children, lambda: stopping)
        if started:
            announce(child_settings)
        while not stopping and all(c.exitcode is None for c in children):
            time.sleep(0.1)
        stop(signal.SIGTERM, None)
        for child in children:
            child.join(timeout=30)
            if child.exitcode is None:
                child.kill()
                child.join()
        failed = [c.exitcode for c in children if c.exitcode not in (0, None, -signal.SIGTERM)]
        if failed:
            return int(failed[0]) if failed[0] and failed[0] > 0 else 1
        return 0 if started else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
