"""A throwaway ``redis-server`` for the benchmark's Redis cells: started on a free loopback
port with no persistence (``--save '' --appendonly no``, its own temporary directory),
stopped at the end; and the three commands the benchmark sends it (``PING``, ``FLUSHALL``,
``INFO``) over a plain socket (RESP), so the benchmark needs no Redis client of its own."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from emulator.testing import free_port

from .harness import START_TIMEOUT

#: Debian's package puts it here; ``redis-server`` on PATH is tried first.
DEBIAN_REDIS = "/usr/bin/redis-server"


def find_redis_server(given: str | None = None) -> str | None:
    """The redis-server executable: ``given``, else on PATH, else Debian's; None if absent."""
    for candidate in (given, shutil.which("redis-server"), DEBIAN_REDIS):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _read_reply(stream: io.BufferedReader) -> bytes:
    """One RESP reply: a status or error line's text, or a bulk string's bytes."""
    line = stream.readline()
    if line[:1] in (b"+", b"-", b":"):
        if line[:1] == b"-":
            raise RuntimeError(f"redis-server: {line[1:].strip().decode(errors='replace')}")
        return line[1:].rstrip(b"\r\n")
    if line[:1] == b"$":
        size = int(line[1:])
        data = b""
        while len(data) < size + 2:
            chunk = stream.read(size + 2 - len(data))
            if not chunk:
                raise RuntimeError("redis-server closed the connection")
            data += chunk
        return data[:size]
    raise RuntimeError(f"redis-server: unexpected reply {line[:80]!r}")


def redis_call(port: int, *args: str, timeout: float = 5.0) -> bytes:
    """Send one command to the redis-server on 127.0.0.1:``port``; its reply."""
    parts = [arg.encode() for arg in args]
    payload = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part)
                                                  for part in parts)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        with sock.makefile("rb") as stream:
            return _read_reply(stream)


class RedisServer:
    """``redis-server`` on a free 127.0.0.1 port, without persistence, until :meth:`stop`."""

    def __init__(self, executable: str) -> None:
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self._log = Path(self._dir.name) / "redis.log"
        self.proc = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self._dir.name, "--logfile", str(self._log),
             "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(OSError, RuntimeError):
                if redis_call(self.port, "PING", timeout=1.0) == b"PONG":
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = self.log_text()
                self.stop()
                raise RuntimeError(f"redis-server did not start:\n{text}")
            time.sleep(0.01)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        """The ``--state`` value of the emulator (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def version(self) -> str:
        return self.info().get("redis_version", "?")

    def info(self) -> dict[str, str]:
        """``INFO`` as a dict of its ``key:value`` lines."""
        text = redis_call(self.port, "INFO").decode(errors="replace")
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def flush(self) -> None:
        """Drop every key (between two servers: each cell starts from an empty store)."""
        redis_call(self.port, "FLUSHALL")

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self._log.read_text(errors="replace")[-2000:]
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # no persistence configured: nothing saved
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
