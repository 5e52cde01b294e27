"""Video segmentation tasks behind a small store interface: create, get, transition, evict.

Nothing else reaches into task records: the job runner (:mod:`emulator.actions.jobs`) changes
them only through :meth:`TaskStore.transition`, so a shared store can replace the in-memory one
(the reference behaviour) without touching the runner. States only move forward —
``QUEUING`` → ``PROCESSING`` → ``FINISHED`` — and every move is recorded with its time on the
emulator's clock. A task that fails or is terminated ends ``FINISHED`` with an ``ErrorMsg`` and
no result (the docs list only those three states).

Bounded: at most ``max_tasks`` tasks are kept; past that the oldest *finished* task (and its
result file, through ``on_evict``) goes first; unfinished tasks are bounded by the runner's
queue and worker limits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

__all__ = ["FINISHED", "PROCESSING", "QUEUING", "STATES", "JobPlan", "MemoryTasks", "Task",
           "TaskStore", "moved"]

State = Literal["QUEUING", "PROCESSING", "FINISHED"]
QUEUING: State = "QUEUING"
PROCESSING: State = "PROCESSING"
FINISHED: State = "FINISHED"
STATES: tuple[State, ...] = (QUEUING, PROCESSING, FINISHED)


@dataclass(frozen=True, slots=True)
class JobPlan:
    """How a scenario wants one task to misbehave (all optional, combinable).

    ``fail_at``: the task fails once this fraction of its frames is done (0: before the
    first), ending ``FINISHED`` with ``error_msg`` and no result; ``stuck_state`` and
    ``stuck_seconds``: the task stays ``QUEUING`` or ``PROCESSING`` that long (emulator
    clock) past when it would have moved on; ``corrupt_md5``: ``ResultVideoMD5`` is not the MD5
    of the bytes served; ``url_ttl``: its result Urls work only that many seconds.
    """

    fail_at: float | None = None
    error_msg: str = "video error"
    stuck_state: State | None = None
    stuck_seconds: float = 0.0
    corrupt_md5: bool = False
    url_ttl: float | None = None


class StateError(ValueError):
    """A transition backwards or from a finished task."""


@dataclass(frozen=True, slots=True)
class Task:
    """One task as the store keeps it (immutable: a transition makes a new record)."""

    task_id: str
    owner: str  # the SecretId that created it: nobody else sees it
    created_at: float
    estimated_seconds: float
    state: State = QUEUING
    video: dict[str, Any] | None = None  # VideoBasicInformation, once probed
    error: str = ""
    result_key: str | None = None  # the result file (emulator.state.files)
    result_md5: str | None = None  # as reported (a scenario may make it lie)
    history: tuple[tuple[State, float], ...] = field(default=())
    frames_done: int = 0
    plan: JobPlan = field(default_factory=JobPlan)
    work_done: bool = False  # frames segmented, result stored: only the clock is awaited
    cancel: bool = False  # terminated through another process: its runner stops it
    forced: bool = False  # an admin finished it: no clock to await

    @property
    def finished(self) -> bool:
        return self.state == FINISHED


class TaskStore(Protocol):
    """What the job runner needs of a task store (async: a shared store does I/O)."""

    async def create(self, task: Task) -> None: ...
    async def get(self, task_id: str) -> Task | None: ...
    async def transition(self, task_id: str, state: State, at: float,
                         **changes: Any) -> Task: ...
    async def update(self, task_id: str, **changes: Any) -> Task: ...
    async def running(self, owner: str) -> int: ...
    async def delete(self, task_id: str) -> None: ...
    async def all(self) -> list[Task]: ...


def moved(task: Task, state: State, at: float, **changes: Any) -> Task:
    """``task`` moved forward to ``state`` (a no-op move to the same state is allowed)."""
    if STATES.index(state) < STATES.index(task.state) or (task.finished and changes):
        raise StateError(f"task {task.task_id} is {task.state}; it cannot become {state}")
    history = task.history if state == task.state else (*task.history, (state, at))
    return replace(task, state=state, history=history, **changes)


class MemoryTasks:
    """The in-memory store: the default, and the reference behaviour."""

    def __init__(self, max_tasks: int,
                 on_evict: Callable[[Task], Awaitable[None]] | None = None) -> None:
        self.max_tasks = max_tasks
        self.on_evict = on_evict
        self._tasks: OrderedDict[str, Task] = OrderedDict()

    async def create(self, task: Task) -> None:
        self._tasks[task.task_id] = replace(task, history=((task.state, task.created_at),))
        await self._evict()

    async def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    async def transition(self, task_id: str, state: State, at: float, **changes: Any) -> Task:
        """Move ``task_id`` forward to ``state`` (:func:`moved`)."""
        updated = moved(self._tasks[task_id], state, at, **changes)
        self._tasks[task_id] = updated
        return updated

    async def update(self, task_id: str, **changes: Any) -> Task:
        """Change fields other than the state (progress, the probed video)."""
        updated = replace(self._tasks[task_id], **changes)
        self._tasks[task_id] = updated
        return updated

    async def running(self, owner: str) -> int:
        """Tasks of ``owner`` not finished yet."""
        return sum(1 for t in self._tasks.values() if t.owner == owner and not t.finished)

    async def _evict(self) -> None:
        while len(self._tasks) > self.max_tasks:
            oldest = next((t for t in self._tasks.values() if t.finished), None)
            if oldest is None:
                return  # only unfinished tasks: bounded by the runner's limits
            del self._tasks[oldest.task_id]
            if self.on_evict is not None:
                await self.on_evict(oldest)

    async def delete(self, task_id: str) -> None:
        self._tasks.pop(task_id, None)

    async def all(self) -> list[Task]:
        return list(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)
