"""The video task lifecycle: a bounded queue, workers off the event loop, and a clock the test
controls.

A task is created ``QUEUING`` (the input already downloaded and probed by the Create action),
becomes ``PROCESSING`` when a worker takes it, and ``FINISHED`` when both hold: its frames are
really segmented (PyAV, in the job executor), and the emulator's clock has reached the moment
the emulated service would finish it — ``started + duration × pace × pixels / (320 × 240)``.
So the real work bounds how fast a task can finish, the pace makes a long video take emulated
time, and ``POST /_emulator/clock`` jumps a task to its end without sleeping.

``EstimatedProcessingTime`` is that emulated time plus the emulated time of the work queued
ahead, shared by the workers: a deterministic function of the input and the queue, and, since
the real work of a small clip is far shorter than its emulated time, close to when the task
really finishes.

A failed task (a scenario's ``fail_at``, a video that stops decoding halfway) or a terminated
one ends ``FINISHED`` with an ``ErrorMsg`` and no result. Terminating a task whose work is done
while it waits for its finishing time is ``FailedOperation.JobConflict`` (it is being
finalised); terminating a finished one is ``FailedOperation.TerminateTaskFailed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any

from emulator.clock import Clock
from emulator.errors import ApiError
from emulator.state.files import ResultFiles
from emulator.state.tasks import (
    FINISHED,
    PROCESSING,
    QUEUING,
    JobPlan,
    StateError,
    Task,
    TaskStore,
)

log = logging.getLogger("bda_emulator.jobs")

__all__ = ["JobRunner", "JobSettings", "Submission"]

#: The picture size the pace is stated for.
REFERENCE_PIXELS = 320 * 240
#: How often a worker looks at the emulator's clock while a finished task waits for its time.
CLOCK_POLL = 0.05
#: How often an idle worker looks again without being woken (it is woken on every submit).
IDLE_POLL = 1.0
VIDEO_TYPE = "video/mp4"


@dataclass(frozen=True, slots=True)
class JobSettings:
    """The runner's bounds and pace (from :mod:`emulator.settings`)."""

    workers: int = 2
    queue: int = 8  # tasks QUEUING at once before FailedOperation.JobQueueFull
    per_account: int = 4  # unfinished tasks of one account before TaskLimitExceeded
    pace: float = 0.5  # emulated seconds of processing per second of 320x240 video
    keep: int = 200  # tasks kept (finished ones evicted first, with their result files)


@dataclass(frozen=True, slots=True)
class Submission:
    """What the Create action hands over: the owner, the input and its probe, the plan."""

    owner: str
    video: bytes
    info: dict[str, Any]  # VideoBasicInformation
    background: bytes | None = None
    plan: JobPlan = field(default_factory=JobPlan)


@dataclass(slots=True)
class _Work:
    submission: Submission
    cancel: threading.Event = field(default_factory=threading.Event)
    segmented: threading.Event = field(default_factory=threading.Event)  # the watcher stops
    done: bool = False  # frames segmented, result stored: only the clock is awaited


class JobFailed(Exception):
    """A task that must end with an ``ErrorMsg`` (raised in the worker thread)."""


Segmenter = Callable[..., tuple[bytes, str]]


class JobRunner:
    """Owns this process's queue and workers; changes tasks only through the store.

    With a shared store several runners (processes or replicas) share the tasks: each runs
    the tasks created through it (it holds their input), and any of them describes,
    terminates or moves any task through the store — a terminate or a move meant for a task
    another process runs is a flag on the task that its runner reads while it works.
    """

    def __init__(self, store: TaskStore, files: ResultFiles, clock: Clock, settings: JobSettings,
                 executor: Executor, segmenter: Segmenter,
                 refresh: Callable[[], Awaitable[None]] | None = None) -> None:
        self.store = store
        self.files = files
        self.clock = clock
        self.settings = settings
        self.executor = executor
        self.segmenter = segmenter  # (video, background, progress, cancelled) -> (mp4, codec)
        self.refresh = refresh  # brings a shared clock up to date before it is read
        self._queue: deque[str] = deque()
        self._work: dict[str, _Work] = {}
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- lifecycle of the runner ---------------------------------------------------------------

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._worker(), name=f"bda-job-{i}")
                         for i in range(self.settings.workers)]

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for work in self._work.values():
            work.cancel.set()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def reset(self, owner: str | None = None) -> None:
        """Forget every task (or one account's): queued ones dropped, running ones cancelled
        (admin reset, or an account deleted)."""
        for task in await self.store.all():
            if owner is not None and task.owner != owner:
                continue
            if task.task_id in self._queue:
                self._queue.remove(task.task_id)
            work = self._work.get(task.task_id)
            if work is not None:
                work.cancel.set()
            await self.store.delete(task.task_id)
            if task.result_key is not None:
                await self.files.delete(task.result_key)

    # -- the three actions ---------------------------------------------------------------------

    async def check_capacity(self, owner: str) -> None:
        """Refuse before any download: a full queue, or too many tasks of this account."""
        if len(self._queue) >= self.settings.queue:
            raise ApiError("FailedOperation.JobQueueFull",
                           explain=f"{len(self._queue)} tasks are queued (--task-queue)")
        if await self.store.running(owner) >= self.settings.per_account:
            raise ApiError("FailedOperation.TaskLimitExceeded",
                           explain=f"this account has {self.settings.per_account} unfinished "
                                   "tasks (--task-limit)")

    async def submit(self, submission: Submission) -> Task:
        """A new ``QUEUING`` task with an honest estimate."""
        await self.check_capacity(submission.owner)
        estimate = round(await self._queued_seconds() / self.settings.workers
                         + self.emulated_seconds(submission.info), 3)
        task = Task(task_id=_task_id(), owner=submission.owner,
                    created_at=self.clock.now(submission.owner), estimated_seconds=estimate,
                    video=submission.info, plan=submission.plan)
        await self.store.create(task)
        self._work[task.task_id] = _Work(submission)
        self._queue.append(task.task_id)
        self._wake.set()
        return task

    async def describe(self, owner: str, task_id: str) -> Task:
        task = await self.store.get(task_id)
        if task is None or not secrets.compare_digest(task.owner, owner):
            raise ApiError("FailedOperation.TaskNotExist")
        return task

    async def terminate(self, owner: str, task_id: str) -> Task:
        task = await self.describe(owner, task_id)
        if task.finished:
            raise ApiError("FailedOperation.TerminateTaskFailed",
                           explain=f"task {task_id} is already FINISHED")
        work = self._work.get(task_id)
        if (work is not None and work.done) or task.work_done:
            raise ApiError("FailedOperation.JobConflict",
                           explain=f"task {task_id} has done its work and is being finalised")
        if task_id in self._queue or (work is None and task.state == QUEUING):
            if task_id in self._queue:
                self._queue.remove(task_id)
            return await self._end(task_id, "task terminated") or task
        if work is not None:
            work.cancel.set()  # the worker stops within one frame and ends the task
            return task
        return await self.store.update(task_id, cancel=True)  # another process runs it

    async def move(self, task_id: str, state: str, error: str = "") -> Task:
        """An admin's manual transition (moto-style): ``PROCESSING`` takes it out of the
        queue's order and starts it next; ``FINISHED`` ends it now — with ``error`` as its
        ErrorMsg, or, without one, as soon as its work is done (the clock no longer awaited)."""
        task = await self.store.get(task_id)
        if task is None:
            raise KeyError(task_id)
        work = self._work.get(task_id)
        if state == PROCESSING and task.state == QUEUING:
            if task_id in self._queue:
                self._queue.remove(task_id)
                self._queue.appendleft(task_id)
            await self.store.update(task_id, plan=replace(task.plan, stuck_state=None))
        elif state == FINISHED and error:
            if task_id in self._queue:
                self._queue.remove(task_id)
            if work is not None:
                work.cancel.set()
            if not task.finished:
                return await self._end(task_id, error) or task
        elif state == FINISHED and not task.finished:
            await self.store.update(task_id, plan=replace(task.plan, stuck_state=None),
                                    forced=True)
        self._wake.set()
        return await self.store.get(task_id) or task

    # -- time ----------------------------------------------------------------------------------

    def emulated_seconds(self, info: dict[str, Any]) -> float:
        pixels = int(info["FrameWidth"]) * int(info["FrameHeight"])
        return float(info["Duration"]) * self.settings.pace * max(1.0, pixels / REFERENCE_PIXELS)

    async def _queued_seconds(self) -> float:
        total = 0.0
        for task_id in list(self._queue):
            task = await self.store.get(task_id)
            if task is not None and task.video is not None:
                total += self.emulated_seconds(task.video)
        return total

    async def _now(self, owner: str | None) -> float:
        if self.refresh is not None:
            await self.refresh()
        return self.clock.now(owner)

    # -- the workers -----------------------------------------------------------------------------

    async def _next(self) -> str:
        while not self._stopping:
            for task_id in list(self._queue):
                task = await self.store.get(task_id)
                if task is None or task.finished:  # reset, or terminated elsewhere
                    if task_id in self._queue:
                        self._queue.remove(task_id)
                    self._work.pop(task_id, None)
                    continue
                held = task.plan.stuck_state == QUEUING and \
                    await self._now(task.owner) < task.created_at + task.plan.stuck_seconds
                if not held and task_id in self._queue:
                    self._queue.remove(task_id)
                    return task_id
            if self._stopping:
                break
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOCK_POLL if self._queue else IDLE_POLL):
                    await self._wake.wait()
        # Stopping: raised here too, since a cancel was seen lost on Python 3.11.7 while the
        # loop made a shared store's round trips (docs/reference-notes.md).
        raise asyncio.CancelledError

    async def _worker(self) -> None:
        while True:
            task_id = await self._next()
            try:
                await self._run(task_id)
            except asyncio.CancelledError:
                raise
            except StateError:  # ended meanwhile (terminated or moved through the store)
                pass
            except Exception:  # a bug here must not stop the worker; the task says so
                log.exception("task %s failed in the emulator", task_id)
                with contextlib.suppress(Exception):
                    await self._end(task_id, "internal error")
            finally:
                self._work.pop(task_id, None)

    async def _watch(self, task_id: str, work: _Work, progress: list[int]) -> None:
        """While the frames are segmented (until ``work.segmented``): save progress and heed
        a terminate or reset made through the store (by another process, or an admin)."""
        saved = 0
        while not (self._stopping or work.segmented.is_set()):
            await asyncio.sleep(CLOCK_POLL)
            task = await self.store.get(task_id)
            if task is None or task.cancel or task.finished:
                work.cancel.set()
                return
            if progress[0] != saved:
                saved = progress[0]
                await self.store.update(task_id, frames_done=saved)

    async def _run(self, task_id: str) -> None:
        work = self._work[task_id]
        owner = work.submission.owner
        started = await self._now(owner)
        task = await self.store.transition(task_id, PROCESSING, started)
        loop = asyncio.get_running_loop()
        total = int(task.video["TotalFrames"]) if task.video else 0
        fail_at = task.plan.fail_at
        latest = [0]

        def progress(done: int, frames: int) -> None:
            latest[0] = done
            if fail_at is not None and done >= fail_at * max(frames, 1):
                raise JobFailed(task.plan.error_msg)

        def cancelled() -> bool:
            return work.cancel.is_set()

        if fail_at is not None and fail_at <= 0:
            await self._end(task_id, task.plan.error_msg)
            return
        sub = work.submission
        watcher = asyncio.create_task(self._watch(task_id, work, latest))
        try:
            mp4, _codec = await loop.run_in_executor(
                self.executor, self.segmenter, sub.video, sub.background, progress, cancelled)
        except JobFailed as failure:
            await self._end(task_id, str(failure))
            return
        except ApiError as error:  # the video stopped decoding halfway
            await self._end(task_id, error.message("en-US"))
            return
        except Exception as error:
            if work.cancel.is_set():  # the segmenter's own cancellation exception
                await self._end(task_id, "task terminated")
                return
            raise error
        finally:
            work.segmented.set()  # the watcher's flag: a cancel alone was seen lost
            watcher.cancel()
            await asyncio.wait([watcher], timeout=1.0)  # this task's cancel still propagates
        key = await self.files.put(mp4, VIDEO_TYPE)
        md5 = hashlib.md5(mp4, usedforsecurity=False).hexdigest().upper()
        if task.plan.corrupt_md5:
            md5 = hashlib.md5(mp4 + b"\0", usedforsecurity=False).hexdigest().upper()
        work.done = True
        current = await self.store.get(task_id)
        if current is None or current.finished:  # forgotten or ended meanwhile
            await self.files.delete(key)
            return
        await self.store.update(task_id, frames_done=total, work_done=True)
        ready = started + self.emulated_seconds(task.video or {"FrameWidth": 1,
                                                               "FrameHeight": 1,
                                                               "Duration": 0})
        if task.plan.stuck_state == PROCESSING:
            ready += task.plan.stuck_seconds
        while current is not None and not current.forced and not current.finished and \
                await self._now(owner) < ready:
            await asyncio.sleep(CLOCK_POLL)
            current = await self.store.get(task_id)
        if current is None or current.finished:  # forgotten by a reset meanwhile, or ended
            await self.files.delete(key)
            return
        await self.store.transition(task_id, FINISHED, await self._now(owner), result_key=key,
                                    result_md5=md5)

    async def _end(self, task_id: str, error: str) -> Task | None:
        task = await self.store.get(task_id)
        if task is None:  # forgotten by a reset meanwhile
            return None
        return await self.store.transition(task_id, FINISHED, await self._now(task.owner),
                                           error=error)


def _task_id() -> str:
    """A 20-digit decimal string like the docs' examples, unguessable (66 random bits)."""
    return str(10**19 + secrets.randbelow(9 * 10**19))

