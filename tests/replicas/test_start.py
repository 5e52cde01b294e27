"""What ``serve`` refuses at start with shared state: several processes on the in-memory store,
and a Redis nobody answers. Each exits with status 2 and a message saying why, leaving no
process behind (each run is bounded: 30 s, then it is stopped and the test fails; announcing
"listening on" fails it at once). These need neither Redis nor nginx; the first test is the one
line saying they are missing (see conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.testing import free_port
from tests.realservers import LOOPBACK, require, run_to_exit


def test_redis_server_and_nginx_are_installed() -> None:
    require("redis", "balancer")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_several_processes_on_the_memory_store_are_refused(tmp_path: Path, how: str) -> None:
    if how == "flag":
        status, output = run_to_exit(["--processes", "2"], tmp_path)
    else:
        status, output = run_to_exit([], tmp_path, env={"BDA_EMULATOR_PROCESSES": "2"})
    assert status == 2, output
    lowered = output.lower()
    assert "memory" in lowered and "redis" in lowered, output  # why, and what to do instead
    assert "traceback" not in lowered, output


def test_an_unreachable_redis_is_refused_naming_it(tmp_path: Path) -> None:
    address = f"{LOOPBACK}:{free_port(LOOPBACK)}"  # nothing listens there
    status, output = run_to_exit(["--state", f"redis://{address}/0"], tmp_path)
    assert status == 2, output
    assert address in output and "redis" in output.lower(), output
    assert "traceback" not in output.lower(), output


def test_an_unreachable_redis_is_refused_with_several_processes(tmp_path: Path) -> None:
    address = f"{LOOPBACK}:{free_port(LOOPBACK)}"
    status, output = run_to_exit(["--state", f"redis://{address}/0", "--processes", "2"],
                                 tmp_path)
    assert status == 2 and address in output, output
