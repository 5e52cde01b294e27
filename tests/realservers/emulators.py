"""``bda-emulator serve`` as a child process: started and waited for, refused at start, its CPU."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emulator.testing import free_port, wait_healthy
from tests.realservers.components import LOOPBACK, START_TIMEOUT
from tests.realservers.process import Process


def in_process_state() -> dict[str, Any]:
    """``BDA_TEST_STATE=redis://host:port/db``: the in-process servers of the tests keep their
    state there (each under a prefix of its own) — the whole suite on the Redis store."""
    url = os.environ.get("BDA_TEST_STATE")
    return {"state": url, "state_prefix": "t" + secrets.token_hex(4)} if url else {}


def emulator_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without the caller's ``BDA_EMULATOR_*`` settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BDA_EMULATOR_")}
    env.update(extra or {})
    return env


class Emulator:
    """``bda-emulator serve`` (as ``python -m emulator serve``) on 127.0.0.1 with ``args``."""

    def __init__(self, args: Sequence[str | Path], workdir: Path, name: str = "emulator",
                 env: Mapping[str, str] | None = None, port: int = 0) -> None:
        self.workdir = workdir
        self.name = name
        self.port_file = workdir / f"{name}.port"
        self.requested_port = port
        self.port = 0
        self.process = Process(name, [sys.executable, "-m", "emulator", "serve",
                                      "--host", LOOPBACK, "--port", str(port),
                                      "--port-file", self.port_file, *args],
                               workdir / f"{name}.log", emulator_env(env))

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self) -> Emulator:
        """Start and wait until it is healthy (an early exit fails with its output)."""
        self.spawn()
        return self.wait_ready()

    def spawn(self) -> None:
        self.port_file.unlink(missing_ok=True)
        self.port = 0
        self.process.spawn()

    def wait_ready(self) -> Emulator:
        """Wait for the port file, then for ``/_emulator/health`` (stopped if it fails)."""
        try:
            return self._wait_ready()
        except BaseException:
            self.process.stop()
            raise

    def _wait_ready(self) -> Emulator:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.port:
            if not self.process.running():
                status = self.process.proc.poll() if self.process.proc else None
                raise AssertionError(f"{self.name} exited with {status}:\n"
                                     f"{self.process.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} wrote no port file in {START_TIMEOUT:g} s:\n"
                                     f"{self.process.log()[-3000:]}")
            with contextlib.suppress(OSError, ValueError):
                self.port = int(self.port_file.read_text())
            time.sleep(0.02)
        try:
            wait_healthy(self.url, timeout=START_TIMEOUT, alive=self.process.proc)
        except AssertionError as exc:
            raise AssertionError(f"{self.name}: {exc}\n{self.process.log()[-3000:]}") from None
        return self

    def stop(self) -> int | None:
        return self.process.stop()

    def log(self) -> str:
        return self.process.log()

    def children(self) -> list[int]:
        """The pids of its child processes (``--processes``), from /proc."""
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
        return sorted(found)


def run_to_exit(args: Sequence[str], workdir: Path, timeout: float = 30.0,
                env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """``python -m emulator serve --host 127.0.0.1 ARGS``, expected to exit by itself (a
    refusal at start): its exit status and output. The port is a free one, so a wrong start
    takes nobody's port; one still running after ``timeout`` s is stopped and fails."""
    name = f"refused-{len(list(workdir.glob('refused-*.log')))}"
    process = Process(name, [sys.executable, "-m", "emulator", "serve", "--host", LOOPBACK,
                             "--port", str(free_port(LOOPBACK)), *args],
                      workdir / f"{name}.log", emulator_env(env))
    process.spawn()
    assert process.proc is not None
    deadline = time.monotonic() + timeout
    while process.proc.poll() is None:
        started = "listening on" in process.log()
        if started or time.monotonic() > deadline:
            process.stop()
            what = "started" if started else f"still running after {timeout:g} s"
            raise AssertionError(f"{' '.join(process.argv)} {what} (expected to refuse to "
                                 f"start):\n{process.log()[-2000:]}")
        time.sleep(0.05)
    status = process.proc.returncode
    process.stop()  # its group too, should it have left children
    return status, process.log()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
