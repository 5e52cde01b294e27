"""Image work has a deadline, and work nobody waits for any more is dropped before it starts.

``reply_for`` is driven directly with a one-worker executor that a gated job keeps busy, so
what is queued behind it, cancelled or shared is under the test's control.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from emulator.actions import results
from emulator.actions.results import Picture, Reply, ResultCache, reply_for
from emulator.errors import ApiError

pytestmark = pytest.mark.asyncio

GATE = threading.Event()  # holds every "slow…" computation until the test opens it


def pic(name: str) -> Picture:
    return Picture(name.encode(), name, 64, 64)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The inputs ``compute_reply`` ran on; an input starting with ``slow`` waits for
    ``gate`` (the worker is busy until the test opens it)."""
    seen: list[bytes] = []

    def fake(image: bytes, options: tuple[str, ...], max_subjects: int) -> Reply:
        seen.append(image)
        if image.startswith(b"slow"):
            assert GATE.wait(10)
        return Reply(b'"' + image + b'"')

    monkeypatch.setattr(results, "compute_reply", fake)
    return seen


@pytest.fixture
def worker() -> Iterator[ThreadPoolExecutor]:
    GATE.clear()
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        yield executor
    finally:
        GATE.set()
        executor.shutdown(wait=True)


async def settle(condition: Callable[[], bool], *, seconds: float = 5.0) -> None:
    """Yield to the loop (and the worker) until ``condition()`` holds."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_queued_work_whose_only_waiter_leaves_never_runs(
        calls: list[bytes], worker: ThreadPoolExecutor) -> None:
    cache = ResultCache(8)
    busy = asyncio.create_task(reply_for(pic("slow"), ["Head"], cache=cache, executor=worker,
                                         max_subjects=5))
    await settle(lambda: calls == [b"slow"])  # the only worker is taken
    queued = asyncio.create_task(reply_for(pic("queued"), ["Head"], cache=cache,
                                           executor=worker, max_subjects=5))
    await settle(lambda: len(cache.inflight) == 2)
    queued.cancel()  # its client hung up
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert len(cache.inflight) == 1  # forgotten at once: a retry starts afresh
    GATE.set()
    assert (await busy).fragment == b'"slow"'
    await asyncio.to_thread(worker.shutdown, wait=True)
    assert calls == [b"slow"]  # the queued computation never ran
    assert cache.inflight == {}


async def test_shared_work_is_kept_while_another_waiter_remains(
        calls: list[bytes], worker: ThreadPoolExecutor) -> None:
    cache = ResultCache(8)
    busy = asyncio.create_task(reply_for(pic("slow"), ["Head"], cache=cache, executor=worker,
                                         max_subjects=5))
    await settle(lambda: calls == [b"slow"])
    first, second = (asyncio.create_task(reply_for(pic("shared"), ["Head"], cache=cache,
                                                   executor=worker, max_subjects=5))
                     for _ in range(2))
    await settle(lambda: len(cache.inflight) == 2 and
                 cache.inflight[("shared", ("Head",))].waiters == 2)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert cache.inflight[("shared", ("Head",))].waiters == 1
    GATE.set()
    assert (await second).fragment == b'"shared"'
    await busy
    assert calls == [b"slow", b"shared"]  # computed once, for the waiter that stayed
    assert cache.get(("shared", ("Head",))) is not None


async def test_running_work_whose_waiters_left_still_fills_the_cache(
        calls: list[bytes], worker: ThreadPoolExecutor) -> None:
    """A thread cannot be stopped mid-decode; its reply serves the client's retry."""
    cache = ResultCache(8)
    waiting = asyncio.create_task(reply_for(pic("slow-retried"), ["Head"], cache=cache,
                                            executor=worker, max_subjects=5))
    await settle(lambda: calls == [b"slow-retried"])
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(cache.inflight) == 1  # still running: a retry joins it
    GATE.set()
    await settle(lambda: not cache.inflight)
    retry = await reply_for(pic("slow-retried"), ["Head"], cache=cache, executor=worker,
                            max_subjects=5)
    assert retry.fragment == b'"slow-retried"'
    assert calls == [b"slow-retried"]


async def test_deadline_answers_request_timeout_and_drops_queued_work(
        calls: list[bytes], worker: ThreadPoolExecutor) -> None:
    cache = ResultCache(8)
    busy = asyncio.create_task(reply_for(pic("slow"), ["Head"], cache=cache, executor=worker,
                                         max_subjects=5))
    await settle(lambda: calls == [b"slow"])
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ApiError) as excinfo:
        await reply_for(pic("late"), ["Head"], cache=cache, executor=worker, max_subjects=5,
                        timeout=0.2)
    assert 0.2 <= loop.time() - started < 1.0
    assert excinfo.value.code == "FailedOperation.RequestTimeout"
    assert excinfo.value.explain is not None and "--image-timeout" in excinfo.value.explain
    with pytest.raises(ApiError) as excinfo:  # the running one times out as well
        await reply_for(pic("slow"), ["Head"], cache=cache, executor=worker, max_subjects=5,
                        timeout=0.05)
    assert excinfo.value.code == "FailedOperation.RequestTimeout"
    GATE.set()
    await busy
    await asyncio.to_thread(worker.shutdown, wait=True)
    assert calls == [b"slow"]


async def test_failures_reach_every_waiter_and_are_not_cached(
        monkeypatch: pytest.MonkeyPatch, worker: ThreadPoolExecutor) -> None:
    def failing(image: bytes, options: tuple[str, ...], max_subjects: int) -> Reply:
        assert GATE.wait(10)
        raise ApiError("FailedOperation.ImageDecodeFailed", reason="test")

    monkeypatch.setattr(results, "compute_reply", failing)
    cache = ResultCache(8)
    waiters = [asyncio.create_task(reply_for(pic("bad"), ["Head"], cache=cache,
                                             executor=worker, max_subjects=5))
               for _ in range(3)]
    await settle(lambda: bool(cache.inflight) and
                 cache.inflight[("bad", ("Head",))].waiters == 3)
    GATE.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(o, ApiError) and o.code == "FailedOperation.ImageDecodeFailed"
               for o in outcomes)
    assert len(cache) == 0 and cache.inflight == {}
