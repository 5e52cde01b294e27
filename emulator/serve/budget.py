"""A budget of request-body bytes held at once, so memory under concurrency is bounded.

Every request holds its body, then the parsed JSON, the decoded image and its pixels until the
reply is written: about three times its body. Two hundred concurrent 9 MB bodies once took 2.5
GB. Each request now reserves its body's size (its ``Content-Length``; the whole size limit
when chunked, since its length is unknown) before a byte of it is read, and gives it back when
its reply is ready. Past the budget a request waits its turn, first come first served, with
its body left unread in the socket (TCP pushes back on the client); a request that waits longer
than ``--read-timeout`` is answered ``RequestLimitExceeded``. A body larger than the whole
budget waits until it is alone. Tests and the benchmark read ``used`` and ``peak``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

__all__ = ["ByteBudget"]


class ByteBudget:
    """Reservations of bytes against ``limit``, granted in arrival order (one event loop)."""

    def __init__(self, limit: int,
                 on_release: Callable[[int, int], None] | None = None) -> None:
        self.limit = limit
        #: called with (bytes released, bytes still held): e.g. to trim the heap
        self.on_release = on_release
        self.used = 0
        self.peak = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @asynccontextmanager
    async def hold(self, size: int, timeout: float) -> AsyncIterator[None]:
        """Hold ``size`` bytes for the block (see :meth:`acquire`)."""
        held = await self.acquire(size, timeout)
        try:
            yield
        finally:
            self.release(held)

    async def acquire(self, size: int, timeout: float) -> int:
        """Reserve ``size`` bytes (capped at ``limit``), waiting at most ``timeout`` seconds
        (``TimeoutError``); returns what was reserved, for :meth:`release`."""
        size = min(max(size, 0), self.limit)
        if not self._waiting and self.used + size <= self.limit:
            self._take(size)
            return size
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, turn)
        self._waiting.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await turn
        except BaseException:
            if turn.done() and not turn.cancelled():  # granted as we gave up: give it back
                self.release(size)
            else:
                if entry in self._waiting:
                    self._waiting.remove(entry)
                self._grant()  # those behind us may fit now
            raise
        return size

    def release(self, size: int) -> None:
        """Give back what :meth:`acquire` reserved."""
        self.used -= size
        if self.on_release is not None:
            self.on_release(size, self.used)
        self._grant()

    def _take(self, size: int) -> None:
        self.used += size
        self.peak = max(self.peak, self.used)

    def _grant(self) -> None:
        while self._waiting and self.used + self._waiting[0][0] <= self.limit:
            size, turn = self._waiting.popleft()
            if turn.done():  # cancelled, its owner not yet resumed to say so
                continue
            self._take(size)
            turn.set_result(None)

    @property
    def waiting(self) -> int:
        """Requests waiting for their turn."""
        return len(self._waiting)
