"""A child process of the test run, leading its own session, stopped by its id in teardown."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO


def private_dir(prefix: str) -> Path:
    """A fresh directory under the system's temporary directory, readable by all (nginx's
    workers run as ``nobody`` when the tests run as root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class Process:
    """A child process leading its own session, its output in ``log_path``."""

    def __init__(self, name: str, argv: Sequence[str | Path], log_path: Path,
                 env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.proc: subprocess.Popen[bytes] | None = None
        #: after :meth:`stop`: whether the signal left some of the group running (killed then)
        self.outlived = False
        self.signalled = False
        self._log: IO[bytes] | None = None

    def spawn(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        self._log = self.log_path.open("ab")
        self.signalled = False
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def group_alive(self) -> bool:
        """Whether any process of its session's group is still there (children included)."""
        if self.proc is None:
            return False
        self.proc.poll()  # reap the leader if it exited
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover - a recycled group id of another user
            return False
        return True

    def send(self, signum: int) -> None:
        """Send ``signum`` (:meth:`stop` then only waits for the process to end)."""
        if self.running():
            assert self.proc is not None
            self.proc.send_signal(signum)
            self.signalled = True

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """``sig`` to the process, wait up to ``timeout`` s for it and its group, then
        SIGKILL the whole group (children it left behind too); returns its exit status.
        :attr:`outlived` tells whether anything of the group had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None and not self.signalled:
            self.proc.send_signal(sig)
        deadline = time.monotonic() + timeout
        while self.group_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.outlived = self.group_alive()
        self._kill_group()
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode

    def _kill_group(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while self.group_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
