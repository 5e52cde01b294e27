"""Shared fixtures: one emulator per session on a free loopback port, its clock reset per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.tracing import traced  # noqa: F401 - a fixture for the fetch tests

if TYPE_CHECKING:
    from emulator.serve.server import EmulatorServer


@pytest.fixture(scope="session")
def server() -> Iterator[EmulatorServer]:
    from emulator.serve.server import EmulatorServer
    from emulator.settings import Settings

    with EmulatorServer(Settings(port=0, workers=2)) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").clock.reset()


@pytest.fixture
def endpoint(server: EmulatorServer) -> str:
    return server.endpoint
