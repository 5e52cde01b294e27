"""JSON read and written strictly: finite numbers only, as every other JSON parser reads it.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``1e400`` (read as infinity) and writes
them back as bare words that no other parser accepts. A non-finite number that reaches a
setting (the clock, a delay, a probability) switches checks off or breaks the next reply, so
everything the emulator reads as JSON — API bodies, admin bodies, scenario, credentials and
URL-map files — goes through :func:`loads`, which refuses them naming the JSON pointer, and the
admin API writes with :func:`dumps`, which never emits them.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

__all__ = ["NonFiniteNumber", "dumps", "loads", "pointer"]


class NonFiniteNumber(ValueError):
    """A ``NaN`` or infinity in a JSON text; ``where`` is its JSON pointer."""

    def __init__(self, where: str, value: float) -> None:
        super().__init__(f"at {where}: {value} is not a finite number")
        self.where = where


def pointer(path: list[Any] | tuple[Any, ...]) -> str:
    """RFC 6901 JSON pointer of a path inside a document ("/" for the document itself)."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts)


def loads(text: str | bytes) -> Any:
    """``json.loads``, refusing non-finite numbers with :class:`NonFiniteNumber`.

    Raises ``ValueError`` (``json.JSONDecodeError`` or :class:`NonFiniteNumber`) or
    ``RecursionError`` for deep nesting, like ``json.loads``.
    """
    found: list[float] = []

    def constant(name: str) -> float:
        value = float(name)  # "NaN", "Infinity", "-Infinity"
        found.append(value)
        return value

    def number(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            found.append(value)
        return value

    value = json.loads(text, parse_constant=constant, parse_float=number)
    if found:
        where = _find(value, [])
        raise NonFiniteNumber(pointer(where) if where is not None else "/", found[0])
    return value


def _find(value: Any, path: list[Any]) -> list[Any] | None:
    """The path of the first non-finite number (iterative depth is bounded by json itself)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        where = _find(item, [*path, key])
        if where is not None:
            return where
    return None


#: ``json.dumps`` that raises instead of writing ``NaN`` or ``Infinity``.
dumps = functools.partial(json.dumps, allow_nan=False)
