"""The emulator's notion of now, injectable so signature expiry is tested without sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """Wall-clock time plus an adjustable offset; one instance per app."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self.offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch as the emulator sees them."""
        return self._source() + self.offset

    def set(self, epoch: float) -> None:
        """Make ``now()`` return ``epoch`` at this instant (and advance from there)."""
        self.offset = epoch - self._source()

    def shift(self, seconds: float) -> None:
        """Move the emulator's time by ``seconds``."""
        self.offset += seconds

    def reset(self) -> None:
        """Back to the wall clock."""
        self.offset = 0.0
