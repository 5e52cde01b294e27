"""Shared fixtures: one emulator per session on a free loopback port, its clock reset per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.realservers import (
    in_process_state,
    redis_server,  # noqa: F401 - for tests/contract and tests/replicas
)
from tests.tracing import traced  # noqa: F401 - a fixture for the fetch tests

if TYPE_CHECKING:
    from emulator.serve.server import EmulatorServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--topology", default="", metavar="NAMES",
                     help="run every contract test on these topologies, comma-separated: "
                          "process, processes (serve --processes 2 on Redis), replicas (two "
                          "serve on Redis behind nginx); default: each module's own "
                          "(tests/contract/conftest.py)")


@pytest.fixture(scope="session")
def topology(request: pytest.FixtureRequest) -> str:
    """Where a test's servers run: ``process`` unless tests/contract/conftest.py parametrises
    it (here, so that its ``make_server`` works wherever it is imported: tests/browser)."""
    return getattr(request, "param", "process")


@pytest.fixture(scope="session")
def server() -> Iterator[EmulatorServer]:
    from emulator.serve.server import EmulatorServer
    from emulator.settings import Settings

    with EmulatorServer(Settings(port=0, workers=2, **in_process_state())) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").clock.reset()


@pytest.fixture
def endpoint(server: EmulatorServer) -> str:
    return server.endpoint
