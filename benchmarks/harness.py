"""Processes and what is measured of them: the server subprocess, the separate load process,
RSS and CPU sampling from /proc, and the conditions of a run (wall time, other processes' CPU).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Coroutine, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from emulator.testing import free_port

HEALTH = "/_emulator/health"
START_TIMEOUT = 20.0
#: Image workers of a default ``bda-emulator serve`` (its ``--workers`` default: one per CPU).
NPROC = os.cpu_count() or 1
ROOT = Path(__file__).resolve().parent.parent


# --- /proc sampling -----------------------------------------------------------------------------

def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (via /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    text = Path(f"/proc/{current}/task/{task}/children").read_text()
                    todo.extend(int(child) for child in text.split())
    return found


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, MB."""
    total = 0
    for each in _descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state is [0]); [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def cpu_by_process(pid: int) -> dict[tuple[int, int], float]:
    """User + system CPU seconds of ``pid`` and each descendant (all its threads: the
    process's /proc/<pid>/stat sums them), keyed by (pid, start time) so that a reused pid
    is a different process."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for each in _descendants(pid):
        if fields := _stat(each):
            found[each, int(fields[19])] = (int(fields[11]) + int(fields[12])) / tick
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants, seconds."""
    return sum(cpu_by_process(pid).values())


class CpuMeter:
    """CPU seconds of process trees (a root pid and its descendants) between :meth:`start`
    and :meth:`stop`, per process: a process born meanwhile counts from zero, one that
    ended meanwhile is lost (the servers keep theirs for their whole life); and the busy
    CPU seconds of the whole machine (:func:`busy_seconds`) over the same span."""

    def __init__(self, *roots: int) -> None:
        self.roots = roots
        self._begin: list[dict[tuple[int, int], float]] = [{} for _ in roots]
        self._end: list[dict[tuple[int, int], float]] = [{} for _ in roots]
        self.machine = 0.0

    def start(self) -> None:
        self._begin = [cpu_by_process(root) for root in self.roots]
        self.machine = -busy_seconds()

    def stop(self) -> None:
        self.machine += busy_seconds()
        self._end = [cpu_by_process(root) for root in self.roots]

    def split(self, index: int) -> list[float]:
        """CPU seconds of each process of tree ``index``, largest first."""
        begin, end = self._begin[index], self._end[index]
        return sorted((end[key] - begin.get(key, 0.0) for key in end), reverse=True)

    def seconds(self, index: int) -> float:
        """CPU seconds of tree ``index``."""
        return sum(self.split(index))


def listening_sockets(port: int) -> int:
    """How many TCP sockets listen on ``port`` (/proc/net/tcp and tcp6): one per process
    of a server whose processes each bind the port with ``SO_REUSEPORT``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if (len(fields) > 9 and fields[3] == "0A"
                        and int(fields[1].rpartition(":")[2], 16) == port):
                    inodes.add(fields[9])
    return len(inodes)


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and its waited-for children (servers, load process)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


class Conditions:
    """The conditions of a run, from construction to :meth:`stop`: wall time, the cores other
    processes used on average, the load averages."""

    def __init__(self) -> None:
        self.began = time.perf_counter()
        self.load_at_start = loadavg()
        self._busy0, self._own0 = busy_seconds(), own_seconds()
        self.wall = self.others = 0.0

    def stop(self) -> None:
        self.wall = time.perf_counter() - self.began
        others = (busy_seconds() - self._busy0) - (own_seconds() - self._own0)
        self.others = max(0.0, others) / self.wall

    def line(self, during: str = "") -> str:
        """The ``- Conditions:`` line of a results file (load average at end: now)."""
        return (f"- Conditions: wall time {self.wall:.0f} s; other processes used "
                f"{self.others:.2f} cores on average{during}; load average at start "
                f"{self.load_at_start}, at end {loadavg()}")


# --- server subprocess --------------------------------------------------------------------------

def http_call(port: int, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, bytes]:
    """One HTTP request to 127.0.0.1:``port``: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body, headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def health_ok(port: int, timeout: float = 5.0) -> bool:
    """Whether ``GET /_emulator/health`` answers 200."""
    try:
        return http_call(port, "GET", HEALTH, timeout=timeout)[0] == 200
    except OSError:
        return False


class Server:
    """A server subprocess on a free port: spawned, awaited healthy, stopped with SIGTERM.

    Polls health every 5 ms (not :func:`emulator.testing.wait_healthy`, which sleeps 50 ms
    between refused connections): ``start_seconds`` is a measurement. ``listeners``: a server
    of that many processes is ready when as many sockets listen on its port (each process
    binds it with ``SO_REUSEPORT``; the kernel spreads only over the sockets listening when a
    connection arrives). Processes it started are stopped with it.
    """

    def __init__(self, argv: Callable[[int], list[str]], name: str,
                 cwd: Path | None = None, listeners: int = 1) -> None:
        self.port = free_port()
        self.name = name
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        spawned = time.perf_counter()
        self.proc = subprocess.Popen(argv(self.port), stdout=subprocess.DEVNULL,
                                     stderr=self._log, cwd=cwd)
        while not (health_ok(self.port) and listening_sockets(self.port) >= listeners):
            if self.proc.poll() is not None or time.perf_counter() - spawned > START_TIMEOUT:
                text = self.log_text()
                self.stop()
                raise RuntimeError(f"{name} did not become healthy:\n{text}")
            time.sleep(0.005)
        self.start_seconds = time.perf_counter() - spawned

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        children = [key for key in cpu_by_process(self.pid) if key[0] != self.pid]
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _reap(children)
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _reap(processes: Sequence[tuple[int, int]], timeout: float = 5.0) -> None:
    """Wait for the (pid, start time) processes to end; SIGKILL the ones still running
    after ``timeout`` (a server's own processes, left behind by a parent that ended)."""
    deadline = time.monotonic() + timeout
    alive = list(processes)
    while alive:
        alive = [(pid, began) for pid, began in alive
                 if (fields := _stat(pid)) and int(fields[19]) == began and fields[0] != "Z"]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for pid, _ in alive:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def emulator_argv(cache_size: int | None = None, threads: int | None = None,
                  extra: Sequence[str] = ()) -> Callable[[int], list[str]]:
    """The ``bda-emulator serve`` command line for a port (``extra``: more serve arguments)."""
    script = Path(sys.executable).with_name("bda-emulator")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "emulator"]

    def argv(port: int) -> list[str]:
        options = [] if cache_size is None else ["--cache-size", str(cache_size)]
        options += [] if threads is None else ["--workers", str(threads)]
        return [*base, "serve", "--port", str(port), *options, *extra]

    return argv


# --- load process -------------------------------------------------------------------------------

class LoadProcess:
    """The separate load-generating process (spawned: it shares nothing with the sampler).

    ``target(conn, *args)`` runs one spec per message (see :func:`serve_specs`) and answers
    ``("started", t)``, any ``("progress", n)``, then ``("done", result)`` or
    ``("error", traceback)``.
    """

    def __init__(self, target: Callable[..., None], *args: object) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child, *args), daemon=True)
        self.proc.start()
        child.close()

    @property
    def pid(self) -> int:
        return self.proc.pid or 0

    def send(self, spec: object) -> None:
        self.conn.send(spec)

    def receive(self, every: float) -> tuple[str, Any] | None:
        """The next message within ``every`` seconds, or None; an error or death raises."""
        if self.conn.poll(every):
            kind, payload = self.conn.recv()
            if kind == "error":
                raise RuntimeError(f"load process failed:\n{payload}")
            return kind, payload
        if not self.proc.is_alive():
            raise RuntimeError("load process died")
        return None

    def close(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()


def serve_specs(conn: Connection, run: Callable[[Any], Coroutine[Any, Any, object]]) -> None:
    """The load process's loop: ``asyncio.run(run(spec))`` per spec received, until ``None``."""
    while (spec := conn.recv()) is not None:
        try:
            result = asyncio.run(run(spec))
        except Exception:
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("done", result))


def open_session(concurrency: int, timeout: float) -> aiohttp.ClientSession:
    """The load's client session: at most ``concurrency`` connections, ``timeout`` s a request."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                 timeout=aiohttp.ClientTimeout(total=timeout))


async def open_connections(session: aiohttp.ClientSession, host: str, count: int) -> None:
    """Open ``count`` connections before the timer (``count`` concurrent health checks)."""

    async def ping() -> None:
        async with session.get(f"http://{host}{HEALTH}") as resp:
            await resp.read()

    await asyncio.gather(*(ping() for _ in range(count)))
