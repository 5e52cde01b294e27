"""A real redis-server on 127.0.0.1 without persistence, and the few RESP commands the tests
send it over a socket (no Redis client library)."""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from pathlib import Path
from typing import IO, Any

from emulator.testing import free_port
from tests.realservers.components import LOOPBACK, REDIS_SERVER, START_TIMEOUT, require
from tests.realservers.process import Process


class RedisError(Exception):
    """An error reply (``-ERR ...``) of redis-server."""


class RedisServer:
    """A redis-server on 127.0.0.1, no persistence, its dir and log in ``workdir``."""

    def __init__(self, workdir: Path, port: int = 0) -> None:
        self.workdir = workdir
        self.port = port or free_port(LOOPBACK)
        require("redis")
        self.process = Process("redis-server", [
            REDIS_SERVER, "--port", str(self.port), "--bind", LOOPBACK,
            "--save", "", "--appendonly", "no", "--dir", str(workdir),
            "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "notice",
        ], workdir / "redis.log")

    def url(self, db: int = 0) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"

    def start(self) -> RedisServer:
        """Start (again, on the same port) and wait for PING (stopped again if it fails)."""
        self.process.spawn()
        try:
            return self._wait_ping()
        except BaseException:
            self.process.stop()
            raise

    def _wait_ping(self) -> RedisServer:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.process.running():
                raise AssertionError(f"redis-server exited at start:\n{self.process.log()[-2000:]}")
            with contextlib.suppress(OSError, RedisError):
                if self.command("PING") == "PONG":
                    return self
            time.sleep(0.02)
        raise AssertionError(f"redis-server did not answer PING within {START_TIMEOUT:g} s")

    def kill(self) -> None:
        """A crash: SIGKILL, nothing flushed (there is nothing to flush)."""
        self.process.stop(signal.SIGKILL)

    def stop(self) -> None:
        self.process.stop()

    def command(self, *args: str | int, timeout: float = 5.0) -> Any:
        """One command over a fresh connection; the decoded reply (str, int, list, None)."""
        with socket.create_connection((LOOPBACK, self.port), timeout=timeout) as sock:
            parts = [str(a).encode() for a in args]
            sock.sendall(b"*%d\r\n" % len(parts)
                         + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
            return _read_reply(sock.makefile("rb"))

    def keys(self) -> list[str]:
        """Every key of every database (``SCAN`` per database, so a large one is no problem)."""
        found: list[str] = []
        for db in range(16):
            with socket.create_connection((LOOPBACK, self.port), timeout=5) as sock:
                reader = sock.makefile("rb")
                sock.sendall(_encode("SELECT", db))
                _read_reply(reader)
                cursor = "0"
                while True:
                    sock.sendall(_encode("SCAN", cursor, "COUNT", 1000))
                    cursor, batch = _read_reply(reader)
                    found.extend(batch)
                    if cursor == "0":
                        break
        return found


def _encode(*args: str | int) -> bytes:
    parts = [str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def _read_reply(reader: IO[bytes]) -> Any:
    line = reader.readline()
    if not line.endswith(b"\r\n"):
        raise OSError("connection closed mid-reply")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else reader.read(size + 2)[:-2].decode(errors="replace")
    if kind == b"*":
        size = int(rest)
        return None if size < 0 else [_read_reply(reader) for _ in range(size)]
    raise OSError(f"not a RESP reply: {line[:40]!r}")
