"""Admitting a request's body against the in-flight byte budget (:mod:`emulator.serve.budget`):
what a request will hold, holding it until its reply is ready, and trimming the heap after a
burst of large bodies (:mod:`emulator.serve.heap`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from emulator.errors import ApiError
from emulator.serve import heap
from emulator.serve.budget import ByteBudget
from emulator.serve.keys import BUDGET, SETTINGS
from emulator.wire.request import body_limit, drain

__all__ = ["TRIM_DELAY", "in_flight_budget", "reserved"]

#: Seconds after a burst of large bodies ends before free heap pages go back to the OS.
TRIM_DELAY = 0.5


def in_flight_budget(limit: int) -> ByteBudget:
    """The in-flight byte budget, trimming the heap once a burst of large bodies is over."""
    trimmer = heap.Trimmer()

    def released(size: int, still_held: int) -> None:
        if trimmer.released(size, still_held):  # a moment later: the reply still holds some
            loop = asyncio.get_running_loop()
            loop.call_later(TRIM_DELAY, loop.run_in_executor, None, heap.trim)

    return ByteBudget(limit, on_release=released)


@contextlib.asynccontextmanager
async def reserved(request: web.Request) -> AsyncIterator[None]:
    """Hold the body's bytes against the in-flight budget until the reply is ready
    (:mod:`emulator.serve.budget`); ``RequestLimitExceeded`` after ``--read-timeout`` waiting."""
    timeout = request.app[SETTINGS].read_timeout
    budget = request.app[BUDGET]
    try:
        held = await budget.acquire(_body_bytes(request), timeout)
    except TimeoutError:
        with contextlib.suppress(TimeoutError):  # unread, the body would reset the reply
            async with asyncio.timeout(timeout):
                await drain(request.content)
        raise ApiError("RequestLimitExceeded",
                       explain=f"waited {timeout:g} s for --max-inflight-bytes") from None
    try:
        yield
    finally:
        budget.release(held)


def _body_bytes(request: web.Request) -> int:
    """What a request's body will hold: its declared length, or its limit when chunked; an
    oversized one is drained without being kept."""
    if request.method not in ("GET", "POST") or not request.body_exists:
        return 0
    limit = body_limit(request.method, request.content_type)
    declared = request.content_length
    if declared is None:
        return limit
    return declared if declared <= limit else 0
