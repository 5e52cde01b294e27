"""A bounded LRU cache of finished segmentation replies, and computing them off the event loop.

Keyed by the sha256 of the image bytes and the selected options, so the same picture sent as
base64, through a Url, by JSON, GET or a v1 form gives the same entry. Bounded by entry count and
by bytes; an entry is the reply's fields with the base64 strings already built.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from emulator.rendering import segment

CacheKey = tuple[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Reply:
    """The action's output fields, ready to serialise."""

    fields: dict[str, Any]
    size: int


class ResultCache:
    """LRU over finished replies; ``max_entries == 0`` disables caching."""

    def __init__(self, max_entries: int, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[CacheKey, Reply] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> Reply | None:
        reply = self._entries.get(key)
        if reply is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return reply

    def put(self, key: CacheKey, reply: Reply) -> None:
        if self.max_entries == 0 or reply.size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._entries[key] = reply
        self._bytes += reply.size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


def cache_key(image: bytes, options: Sequence[str]) -> CacheKey:
    """Content-addressed key: the image's sha256 and the sorted selected options."""
    return hashlib.sha256(image).hexdigest(), tuple(sorted(options))


def compute_reply(image: bytes, options: Sequence[str], max_subjects: int) -> Reply:
    """Segment and encode; runs in a worker (plain arguments, picklable result)."""
    result = segment(image, options, max_subjects)
    portrait = base64.b64encode(result.portrait_png).decode("ascii")
    mask = base64.b64encode(result.mask_jpeg).decode("ascii")
    fields = {"PortraitImage": portrait, "MaskImage": mask, "ImageRects": result.rects}
    return Reply(fields, len(portrait) + len(mask))


async def reply_for(image: bytes, options: Sequence[str], *, cache: ResultCache,
                    executor: Executor, max_subjects: int) -> Reply:
    """The cached reply, or one computed in ``executor`` (never on the event loop)."""
    key = cache_key(image, options)
    cached = cache.get(key)
    if cached is not None:
        return cached
    loop = asyncio.get_running_loop()
    reply = await loop.run_in_executor(executor, compute_reply, image, tuple(options),
                                       max_subjects)
    cache.put(key, reply)
    return reply
