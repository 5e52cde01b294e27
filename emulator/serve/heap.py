"""Giving freed memory back to the operating system after a burst of large requests.

glibc keeps freed heap memory in its arenas (one per thread that allocated, so each image
worker has its own) for reuse; after two hundred 9 MB bodies the process kept 1.2 GB it no
longer used. ``malloc_trim(0)`` returns every arena's free pages (a few milliseconds). A
:class:`Trimmer` asks for it once enough bytes were released and little is still held; the
trim itself runs off the event loop. Elsewhere than glibc (musl, macOS) it does nothing.

:func:`tune` sets glibc's thresholds once at start: by default every block over 128 KB (a
decoded picture, a cut-out's rows) is its own ``mmap`` and every free above 128 KB at the top
of a heap is trimmed, so each uncached request faulted ~850 fresh pages into the image workers
(2.1 ms of system time per 640x457 request, measured by ``benchmarks/uncached.py``). With
blocks up to 16 MiB kept in the arenas and trims from 32 MiB, that is 8 faults and 0.1 ms; the
RSS of the full benchmark did not change (the :class:`Trimmer` still returns bursts).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "Trimmer", "trim", "tune"]

#: glibc's ``mallopt`` parameters (malloc.h) and the values :func:`tune` gives them.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 16 * 1024 * 1024
TRIM_THRESHOLD = 32 * 1024 * 1024


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        function: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return function


def tune() -> bool:
    """Keep blocks up to 16 MiB in the arenas and trim from 32 MiB (False off glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


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
