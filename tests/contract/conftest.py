"""Contract-test fixtures: servers with their own settings, stopped after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator.serve.server import EmulatorServer
from emulator.settings import Settings


@pytest.fixture
def make_server() -> Iterator[Callable[..., EmulatorServer]]:
    """Start servers with ``Settings(port=0, workers=1, **overrides)``; stopped after the test."""
    started: list[EmulatorServer] = []

    def make(**overrides: Any) -> EmulatorServer:
        server = EmulatorServer(Settings(**{"port": 0, "workers": 1, **overrides})).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
