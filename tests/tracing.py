"""A client session that records every request it starts: proof that a refused Url was
never connected to (shared by the fetch tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

__all__ = ["Traced", "traced"]  # ``traced`` is registered as a fixture by tests/conftest.py


class Traced:
    """A plain session that records every request it starts."""

    def __init__(self) -> None:
        self.started: list[str] = []
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._on_start)
        self.session = aiohttp.ClientSession(trace_configs=[trace])

    async def _on_start(
        self, _: aiohttp.ClientSession, __: object, params: aiohttp.TraceRequestStartParams
    ) -> None:
        self.started.append(str(params.url))


@pytest_asyncio.fixture
async def traced() -> AsyncIterator[Traced]:
    recorder = Traced()
    async with recorder.session:
        yield recorder
