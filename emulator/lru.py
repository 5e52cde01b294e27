"""A least-recently-used map bounded in entries and in bytes: the emulator's caches (finished
computations in :mod:`emulator.actions.results`, whole replies in
:mod:`emulator.serve.replycache`) keep values that know their own ``size``."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Protocol, TypeVar

__all__ = ["Sized", "SizedLru"]


class Sized(Protocol):
    @property
    def size(self) -> int: ...


K = TypeVar("K")
V = TypeVar("V", bound=Sized)


class SizedLru(Generic[K, V]):
    """At most ``max_entries`` values and ``max_bytes`` of their sizes, the least recently
    used evicted first; a value larger than ``max_bytes`` is not kept; 0 entries keeps none."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._bytes = 0

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.max_entries == 0 or value.size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._entries[key] = value
        self._bytes += value.size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)
