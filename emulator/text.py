"""Client-controlled text made safe to keep and to print: clipped, and always encodable.

aiohttp decodes header bytes with ``surrogateescape`` and JSON may carry lone ``\\udXXX``
escapes, so a string from a client can hold lone surrogates that no UTF-8 encoder accepts:
echoed into an error message, the journal or a log line it would crash the reply. Everything
the emulator keeps or echoes from a client passes through :func:`clean` or :func:`clip`.
"""

from __future__ import annotations

__all__ = ["ELLIPSIS", "clean", "clip"]

ELLIPSIS = "…"


def clean(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (unchanged when encodable)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def clip(text: str, limit: int) -> str:
    """:func:`clean` text of at most ``limit`` characters, marked with … when cut."""
    return clean(text if len(text) <= limit else text[:limit] + ELLIPSIS)
