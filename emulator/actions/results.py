"""Finished image replies: computed off the event loop, kept in a bounded LRU cache.

Keyed by the sha256 of the image bytes, the action and what else changes its answer (options,
scene), so the same picture sent as base64, through a Url, by JSON, GET or a v1 form gives the
same entry. An entry is the reply's fields already serialised (``envelope.fields_fragment``),
plus the raw files a Url-mode reply stores: a cache hit costs a dictionary lookup and one
concatenation, with no JSON or base64 work. Bounded by entry count and by bytes.
Identical requests in flight share one computation (:class:`Computation`); work that nobody
waits for any more is cancelled before it starts, and each wait has a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import functools
import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from emulator.errors import ApiError
from emulator.imaging import images
from emulator.imaging.rendering import segment
from emulator.lru import SizedLru
from emulator.wire.envelope import fields_fragment

CacheKey = tuple[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Reply:
    """The action's output fields, serialised, ready to be spliced into the envelope; and the
    files behind them, for actions that can answer with Urls instead (name → bytes)."""

    fragment: bytes
    files: tuple[tuple[str, bytes], ...] = ()
    flags: tuple[tuple[str, bool], ...] = ()

    @property
    def size(self) -> int:
        return len(self.fragment) + sum(len(data) for _, data in self.files)


@dataclass(frozen=True, slots=True)
class Picture:
    """An input image's bytes and what the journal and the cache know of it."""

    data: bytes
    sha256: str
    width: int | None
    height: int | None


class ResultCache(SizedLru[CacheKey, Reply]):
    """LRU over finished replies; ``max_entries == 0`` disables caching."""

    def __init__(self, max_entries: int, max_bytes: int = 256 * 1024 * 1024) -> None:
        super().__init__(max_entries, max_bytes)
        #: replies being computed: a second identical request waits for the first
        self.inflight: dict[CacheKey, Computation] = {}


def picture(data: bytes) -> Picture:
    """Hash the bytes and read the size from the header (no pixels decoded)."""
    width = height = None
    with contextlib.suppress(ApiError):  # refused later, with its code, when loaded
        width, height = images.header_size(data, images.sniff_format(data))
    return Picture(data, hashlib.sha256(data).hexdigest(), width, height)


def decode_picture(text: str) -> Picture:
    """The ``Image`` parameter, decoded and hashed (runs in a worker: megabytes of base64)."""
    return picture(images.decode_base64(text))


def compute_reply(image: bytes, options: Sequence[str], max_subjects: int) -> Reply:
    """Segment, encode and serialise; runs in a worker thread (pure: plain values in and out)."""
    result = segment(image, options, max_subjects)
    return Reply(fields_fragment({
        "PortraitImage": base64.b64encode(result.portrait_png).decode("ascii"),
        "MaskImage": base64.b64encode(result.mask_jpeg).decode("ascii"),
        "ImageRects": result.rects}))


@dataclass(slots=True, eq=False)
class Computation:
    """A reply being computed in the executor, shared by the identical requests awaiting it.

    When its last waiter leaves (client gone, deadline passed), work not yet started is
    cancelled. Work already running cannot be stopped (a thread cannot be killed mid-decode):
    it ends within the decode-cost bounds of
    :func:`emulator.imaging.images.check_decode_cost`, and its reply still goes to the cache,
    where a retry finds it.
    """

    work: concurrent.futures.Future[Reply]
    done: asyncio.Future[Reply]
    waiters: int = 0


async def reply_for(pic: Picture, options: Sequence[str], *, cache: ResultCache,
                    executor: Executor, max_subjects: int, timeout: float = 0.0) -> Reply:
    """``SegmentCustomizedPortraitPic``'s reply for ``pic`` and ``options`` (see
    :func:`cached_reply`)."""
    return await cached_reply((pic.sha256, tuple(sorted(options))), cache=cache,
                              executor=executor, timeout=timeout, compute=compute_reply,
                              args=(pic.data, tuple(options), max_subjects))


async def cached_reply(key: CacheKey, *, cache: ResultCache, executor: Executor,
                       timeout: float, compute: Callable[..., Reply],
                       args: tuple[object, ...]) -> Reply:
    """The cached reply under ``key``, or ``compute(*args)`` run in ``executor`` (never on the
    event loop), shared with identical requests in flight.

    A request waits ``timeout`` seconds at most (0: no limit), queueing included, then gets
    ``FailedOperation.RequestTimeout``; cancelled or timed out, it stops counting as a waiter.
    """
    cached = cache.get(key)
    if cached is not None:
        return cached
    job = cache.inflight.get(key)  # the same picture being segmented: share its result
    if job is None:
        job = _start(cache, key, executor, compute, args)
    job.waiters += 1
    try:
        async with asyncio.timeout(timeout or None) as deadline:
            return await asyncio.shield(job.done)
    except TimeoutError:
        if not deadline.expired():
            raise
        raise ApiError("FailedOperation.RequestTimeout",
                       explain=f"image work took over --image-timeout ({timeout:g} s)") from None
    finally:
        job.waiters -= 1
        if job.waiters == 0 and job.work.cancel() and cache.inflight.get(key) is job:
            del cache.inflight[key]  # never started, and now never will


def _start(cache: ResultCache, key: CacheKey, executor: Executor, compute: Callable[..., Reply],
           args: tuple[object, ...]) -> Computation:
    work = executor.submit(compute, *args)
    job = Computation(work, asyncio.wrap_future(work))
    cache.inflight[key] = job
    job.done.add_done_callback(functools.partial(_finished, cache, key, job))
    return job


def _finished(cache: ResultCache, key: CacheKey, job: Computation,
              done: asyncio.Future[Reply]) -> None:
    """In the loop, when the work ends: forget it, and cache its reply even if nobody waits."""
    if cache.inflight.get(key) is job:
        del cache.inflight[key]
    if not done.cancelled() and done.exception() is None:  # retrieved: never logged as lost
        cache.put(key, done.result())
