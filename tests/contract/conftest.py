"""Contract-test fixtures: servers with their own settings, stopped after the test — in this
process, or on the shared-state topologies.

The same tests run against emulators that share their state in a real Redis
(:mod:`tests.realservers`), through the same fixtures, ``server`` (and ``endpoint``) and
``make_server``, parametrised by ``topology``:

- ``process``: the in-process :class:`EmulatorServer` (every test; on the Redis store too with
  ``BDA_TEST_STATE=redis://...``);
- ``processes``: one ``bda-emulator serve --processes 2 --state redis://...``;
- ``replicas``: two ``bda-emulator serve --state redis://...`` (same Redis, same prefix)
  behind nginx, round-robin: consecutive requests of one test reach both.

The modules in :data:`DEFAULT_TOPOLOGIES` also run on those topologies in every ``make test``
(where redis-server and nginx are installed; tests/replicas says in one line when they are not);
``pytest tests/contract --topology=processes,replicas`` runs every contract module there
(``--topology=replicas`` alone: only there). Tests that cannot pass on a topology for a reason
outside the emulator are listed, with the reason, in :data:`NOT_ON`: they run on the others.
Each deployment has its own key prefix in the session's one Redis.

Starting two emulator processes costs about a second and a half, so ``make_server`` keeps the
last deployments it started (per topology and settings) and hands one out again after
``POST /_emulator/reset`` (the documented start state: scenarios, counters, journal, coverage,
clock, tasks), where the in-process topology gets a new server. (Accounts created at run time
outlive a reset; each has its own random SecretId, so no later test meets them.)
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from tests.realservers import (
    TOPOLOGIES,
    Deployment,
    RedisServer,
    in_process_state,
    missing,
    required,
    stop_all,
)

#: Modules that run on these topologies too in every ``make test``.
DEFAULT_TOPOLOGIES: dict[str, tuple[str, ...]] = {
    "test_concurrency.py": ("processes", "replicas"),
    "test_segment.py": ("replicas",),
    "test_portrait.py": ("processes", "replicas"),
    "test_video_tasks.py": ("replicas",),
    "test_accounts.py": ("processes", "replicas"),
    "test_wire.py": ("processes", "replicas"),
}
#: ``module::test`` → the topologies it cannot pass on for a reason outside the emulator, and
#: that reason (it runs on the others).
NOT_ON: dict[str, tuple[tuple[str, ...], str]] = {
    "test_wire.py::test_tccli_style_host_with_scheme": (
        ("replicas",), "nginx answers 400 itself to a Host header with a scheme (tccli's)"),
    "test_portrait.py::test_a_host_header_with_a_scheme_still_gives_a_plain_base": (
        ("replicas",), "nginx answers 400 itself to a Host header with a scheme (tccli's)"),
    "test_inflight_budget.py::test_concurrent_large_bodies_never_hold_more_than_the_budget": (
        ("processes", "replicas"), "reads the in-process app's byte budget"),
    "test_inflight_budget.py::test_a_request_waiting_past_the_read_timeout_gets_request_limit_"
    "exceeded": (("processes", "replicas"), "reads the in-process app's byte budget"),
    "test_video_tasks.py::test_terminate_in_each_state": (
        ("processes", "replicas"), "--task-workers is per process: with two, its second task "
        "is not queued but processed at once"),
    "test_video_tasks.py::test_queue_and_account_limits": (
        ("processes", "replicas"), "--task-workers is per process: with two, its second task "
        "is not queued, so the queue is not full"),
}
#: Deployments ``make_server`` keeps for reuse (each is two emulator processes).
KEEP = 4
_PREFIXES = itertools.count(1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise the tests that use a server by the topologies they run on."""
    if not {"server", "make_server"} & set(metafunc.fixturenames):
        return
    module = metafunc.definition.path.name
    chosen = [t for t in metafunc.config.getoption("topology").split(",") if t]
    names = chosen or ["process", *(t for t in DEFAULT_TOPOLOGIES.get(module, ())
                                     if not missing(*TOPOLOGIES[t]) or required(*TOPOLOGIES[t]))]
    excluded = NOT_ON.get(f"{module}::{metafunc.definition.originalname}", ((), ""))[0]
    names = [n for n in names if n not in excluded] or ["process"]
    if names != ["process"] or chosen:
        metafunc.parametrize("topology", names, indirect=True, scope="session")


def _prefix() -> str:
    return f"contract-{os.getpid()}-{next(_PREFIXES)}"


@pytest.fixture(scope="session")
def server(server: EmulatorServer, topology: str, request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session's server on this test's topology (the in-process one for ``process``)."""
    if topology == "process":
        yield server
        return
    deployment = Deployment(topology, request.getfixturevalue("redis_server"),
                            tmp_path_factory.mktemp(topology), _prefix(),
                            {"workers": 2}).start()
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session")
def _deployments(redis_server: RedisServer
                 ) -> Iterator[OrderedDict[tuple[str, str], Deployment]]:
    """The deployments ``make_server`` keeps, oldest first; stopped at the end (before
    Redis)."""
    kept: OrderedDict[tuple[str, str], Deployment] = OrderedDict()
    yield kept
    stop_all(list(kept.values()))


def _fresh(deployment: Deployment) -> None:
    """Back to the start state for the next test (what a new server would be)."""
    headers = {"X-Emulator-Token": deployment.settings.admin_token} \
        if deployment.settings.admin_token else {}
    requests.post(deployment.url + "/_emulator/reset", headers=headers,
                  timeout=10).raise_for_status()


@pytest.fixture
def make_server(topology: str, request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Callable[..., EmulatorServer]]:
    """Start servers with ``Settings(port=0, workers=1, **overrides)`` on this test's
    topology; stopped after the test (kept for the next test elsewhere, see above)."""
    started: list[EmulatorServer] = []

    def make(**overrides: Any) -> EmulatorServer:
        settings = {"port": 0, "workers": 1, **overrides}
        if topology == "process":
            server = EmulatorServer(Settings(**{**in_process_state(), **settings})).start()
            started.append(server)
            return server
        kept = request.getfixturevalue("_deployments")
        key = (topology, repr(sorted(settings.items())))
        if key in kept:
            kept.move_to_end(key)
            deployment = kept[key]
            _fresh(deployment)
        else:
            while len(kept) >= KEEP:
                kept.popitem(last=False)[1].stop()
            deployment = Deployment(topology, request.getfixturevalue("redis_server"),
                                    tmp_path_factory.mktemp(topology), _prefix(),
                                    settings).start()
            kept[key] = deployment
        return deployment  # type: ignore[no-any-return]

    yield make
    for server in started:
        server.stop()
