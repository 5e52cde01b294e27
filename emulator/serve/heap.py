"""Giving freed memory back to the operating system after a burst of large requests.

glibc keeps freed heap memory in its arenas (one per thread that allocated, so each image
worker has its own) for reuse; after two hundred 9 MB bodies the process kept 1.2 GB it no
longer used. ``malloc_trim(0)`` returns every arena's free pages (a few milliseconds). A
:class:`Trimmer` asks for it once enough bytes were released and little is still held; the
trim itself runs off the event loop. Elsewhere than glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

__all__ = ["Trimmer", "trim"]


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        function: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return function


def trim() -> bool:
    """Return free heap pages to the OS; whether anything was returned (False off glibc)."""
    function = _malloc_trim()
    return bool(function(0)) if function is not None else False


class Trimmer:
    """Decides when a trim is worth it: ``threshold`` bytes released since the last one and
    no more than ``threshold`` still held."""

    def __init__(self, threshold: int = 32 * 1024 * 1024) -> None:
        self.threshold = threshold
        self._released = 0

    def released(self, size: int, still_held: int) -> bool:
        """Note ``size`` bytes given back; True when the caller should trim now."""
        self._released += size
        if self._released < self.threshold or still_held > self.threshold:
            return False
        self._released = 0
        return True
