"""Work on behalf of a client that has hung up is cancelled, so nobody's image work waits in
the queue for a reply no one will read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

__all__ = ["HANGUP_POLL", "cancelled_on_hangup"]

#: How often the connection of a request being answered is checked for a client hang-up.
HANGUP_POLL = 0.1


@contextlib.asynccontextmanager
async def cancelled_on_hangup(request: web.Request) -> AsyncIterator[None]:
    """Cancel the work inside once the client has closed its connection, so image work that
    nobody waits for any more is dropped before it starts
    (:func:`~emulator.actions.results.reply_for`).

    Scoped to the real answer: aiohttp's own handler cancellation would also cut short what
    must finish for a client that left (a ``hang`` fault, the journal entry).
    """
    task = asyncio.current_task()

    async def watch() -> None:
        while (transport := request.transport) is not None and not transport.is_closing():
            await asyncio.sleep(HANGUP_POLL)
        if task is not None:
            task.cancel()

    watcher = asyncio.create_task(watch())
    try:
        yield
    finally:
        watcher.cancel()
