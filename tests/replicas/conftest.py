"""Fixtures of the replica tests: emulator processes, nginx and a Redis of the test's own, all
real, on 127.0.0.1, stopped in teardown (:mod:`tests.realservers`). The session's shared
``redis_server`` comes from ``tests/conftest.py``.

Without redis-server (or nginx) the modules that need it are not collected, and
test_start.py's ``test_redis_server_and_nginx_are_installed`` skips in one line saying what to
install — unless ``BDA_REQUIRE_REDIS=1`` / ``BDA_REQUIRE_BALANCER=1``: then they all run and fail.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.realservers import Emulator, Nginx, RedisServer, missing, required

_PREFIXES = itertools.count(1)
#: Each module and the components it needs (test_start.py needs none).
NEEDS = {"test_processes.py": ("redis",), "test_outage.py": ("redis",),
         "test_replicas.py": ("redis", "balancer")}
collect_ignore = [module for module, components in NEEDS.items()
                  if missing(*components) and not required(*components)]


def new_prefix(name: str) -> str:
    """A key prefix no other emulator of this run uses."""
    return f"{name}-{os.getpid()}-{next(_PREFIXES)}"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test alone (stopped, killed or restarted by it)."""
    server = RedisServer(tmp_path / "redis")
    server.workdir.mkdir()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    """``start_emulator(args, name=..., env=...)``: a healthy ``bda-emulator serve``."""
    started: list[Emulator] = []

    def start(args: Sequence[str], name: str = "emulator",
              env: dict[str, str] | None = None) -> Emulator:
        emu = Emulator(args, tmp_path, f"{name}-{len(started)}", env)
        started.append(emu)
        return emu.start()

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture
def start_balancer() -> Iterator[Callable[[Sequence[int]], Nginx]]:
    """``start_balancer(ports)``: nginx, round-robin over those 127.0.0.1 ports."""
    started: list[Nginx] = []

    def start(ports: Sequence[int]) -> Nginx:
        balancer = Nginx(ports)
        started.append(balancer)
        return balancer.start()

    yield start
    for balancer in started:
        balancer.stop()
