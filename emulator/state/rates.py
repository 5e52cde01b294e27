"""Request-rate windows per account and action: the documented "20 requests/s per action".

A sliding window of one second on the emulator's clock per (SecretId, action): a request that
would be the ``limit + 1``-th within the last second is refused. Bounded: at most ``max_keys``
windows are kept, the least recently used forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Protocol

__all__ = ["RateWindows", "Rates"]


class Rates(Protocol):
    """Where the windows live: here, or in Redis (:mod:`emulator.state.redis_counters`)."""

    async def allow(self, account: str, action: str, limit: int, now: float) -> bool: ...


class RateWindows:
    """In-memory sliding windows (the reference behaviour)."""

    def __init__(self, max_keys: int = 10_000, per_seconds: float = 1.0) -> None:
        self.max_keys = max_keys
        self.per_seconds = per_seconds
        self._windows: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    async def allow(self, account: str, action: str, limit: int, now: float) -> bool:
        """Count this request unless ``limit`` were already counted within the window."""
        key = (account, action)
        window = self._windows.pop(key, None)
        if window is None:
            window = deque()
            while len(self._windows) >= self.max_keys:
                self._windows.popitem(last=False)
        self._windows[key] = window
        while window and window[0] <= now - self.per_seconds:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True

    def clear(self) -> None:
        self._windows.clear()
