"""Real components for tests: ``redis-server``, nginx and ``bda-emulator serve`` processes.

Each is a child process of the test run on a free 127.0.0.1 port, with its files (config, logs,
pid, temporary files) in a directory of its own, and is stopped by its process id — SIGTERM,
then SIGKILL of the process group it leads (its session: the emulator's ``--processes``
children and nginx's workers are in it) — in teardown, even when the test failed.

- :class:`RedisServer`: Debian's ``/usr/bin/redis-server`` without persistence (``--save ''
  --appendonly no``); :meth:`~RedisServer.kill` and :meth:`~RedisServer.start` again bring it
  back on the same port (the outage test); :meth:`~RedisServer.command` speaks RESP over a
  socket, so the tests need no Redis client library.
- :class:`Nginx`: Debian's ``/usr/sbin/nginx`` (``daemon off; master_process on;``) as a
  round-robin balancer over emulator ports. Keep-alive is on at both sides — clients to nginx
  and nginx to the emulators (``keepalive 8``), as production balancers run — with nginx's
  idle upstream connections closed after 10 s, before the emulator's 30 s ``--read-timeout``
  would close them under it (nginx does not retry a POST on a reused connection that died).
  The client's ``Host`` goes upstream unchanged (``$http_host``): it is signed (TC3) and it is
  the base of result Urls. Bodies are streamed, unlimited in size, so the emulator (not nginx)
  answers every size limit. The access log records the replica (``$upstream_addr``) of each
  request: :meth:`Nginx.upstreams_used`.
- :class:`Emulator`: ``python -m emulator serve --host 127.0.0.1 --port 0 --port-file F`` with
  the given flags; waits for ``/_emulator/health`` (:func:`emulator.testing.wait_healthy`).

A missing ``redis-server`` or ``nginx`` skips in one line (:func:`require`; the test modules and
topologies that need one are then not collected: tests/replicas/conftest.py,
tests/contract/conftest.py), unless ``BDA_REQUIRE_REDIS=1`` / ``BDA_REQUIRE_BALANCER=1`` (set by
``.ci/run``) make it a failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.realservers.components import (
    COMPONENTS,
    LOOPBACK,
    NGINX,
    REDIS_SERVER,
    START_TIMEOUT,
    missing,
    require,
    required,
)
from tests.realservers.deployment import TOPOLOGIES, Deployment, RemoteClock, stop_all
from tests.realservers.emulators import (
    Emulator,
    cpu_seconds,
    emulator_env,
    in_process_state,
    run_to_exit,
)
from tests.realservers.nginx import Nginx
from tests.realservers.process import Process, private_dir
from tests.realservers.redisserver import RedisError, RedisServer

__all__ = ["COMPONENTS", "LOOPBACK", "NGINX", "REDIS_SERVER", "START_TIMEOUT", "TOPOLOGIES",
           "Deployment", "Emulator", "Nginx", "Process", "RedisError", "RedisServer",
           "RemoteClock", "cpu_seconds", "emulator_env", "in_process_state", "missing",
           "private_dir", "redis_server", "require", "required", "run_to_exit", "stop_all"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; each user keeps to its own key prefix."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()
