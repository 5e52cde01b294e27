"""Result files and video tasks in Redis, so any process or replica serves any of them.

Result files are Redis values (``file:<key>``, a hash of the bytes and the media type), not
files on a shared folder: the replicas then need nothing but the one Redis, and a 640x457
cut-out (~100 KB) or a short result video (~1 MB) is one round trip (measured in
``benchmarks/``). A file expires :data:`FILE_SECONDS` after it was stored (a day: longer than
any Url the emulator mints, as COS keeps objects longer than their Urls) or with its task.
Every process signs Urls with one secret, created by the first and read by the others.

Tasks are JSON records (``task:<TaskID>``) listed oldest first in ``tasks`` (a sorted set);
past ``max_tasks`` the oldest finished one goes, with its result file.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from typing import Any

from emulator.state.files import ResultFiles, StoredFile
from emulator.state.redis_link import RedisLink
from emulator.state.tasks import JobPlan, State, Task, moved

__all__ = ["FILE_SECONDS", "RedisFiles", "RedisTasks", "shared_secret"]

#: Seconds a result file is kept in Redis.
FILE_SECONDS = 24 * 3600


async def shared_secret(link: RedisLink) -> bytes:
    """The Url-signing secret every process of this emulator uses (made by the first)."""
    key = link.key("secret")
    await link.client.set(key, secrets.token_bytes(32), nx=True)
    value = await link.client.get(key)
    return bytes(value)


class RedisFiles(ResultFiles):
    """:class:`ResultFiles` whose bytes live in Redis; signing is the parent's."""

    def __init__(self, link: RedisLink, secret: bytes) -> None:
        super().__init__(max_files=0, max_bytes=0, secret=secret)
        self.link = link

    async def put(self, data: bytes, content_type: str) -> str:
        key = secrets.token_hex(16)
        name = self.link.key("file", key)
        pipe = self.link.client.pipeline(transaction=True)
        pipe.hset(name, mapping={"data": data, "type": content_type})
        pipe.expire(name, FILE_SECONDS)
        await pipe.execute()
        return key

    async def get(self, key: str) -> StoredFile | None:
        data, kind = await self.link.client.hmget(self.link.key("file", key), ["data", "type"])
        if data is None or kind is None:
            return None
        return StoredFile(bytes(data), kind.decode())

    async def delete(self, key: str) -> None:
        await self.link.client.unlink(self.link.key("file", key))


def _task_json(task: Task) -> str:
    data = asdict(task)
    data["history"] = [list(step) for step in task.history]
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def _task(text: bytes) -> Task:
    data: dict[str, Any] = json.loads(text)
    data["history"] = tuple((state, at) for state, at in data["history"])
    data["plan"] = JobPlan(**data["plan"])
    return Task(**data)


class RedisTasks:
    """:class:`emulator.state.tasks.TaskStore` in Redis."""

    def __init__(self, link: RedisLink, max_tasks: int,
                 on_evict: Callable[[Task], Awaitable[None]] | None = None) -> None:
        self.link = link
        self.max_tasks = max_tasks
        self.on_evict = on_evict
        self._index = link.key("tasks")

    def _key(self, task_id: str) -> str:
        return self.link.key("task", task_id)

    async def create(self, task: Task) -> None:
        task = replace(task, history=((task.state, task.created_at),))
        order = await self.link.client.incr(self.link.key("tasks", "order"))
        pipe = self.link.client.pipeline(transaction=True)
        pipe.set(self._key(task.task_id), _task_json(task))
        pipe.zadd(self._index, {task.task_id: order})
        await pipe.execute()
        await self._evict()

    async def get(self, task_id: str) -> Task | None:
        text = await self.link.client.get(self._key(task_id))
        return None if text is None else _task(text)

    async def _put(self, task: Task) -> Task:
        await self.link.client.set(self._key(task.task_id), _task_json(task), xx=True)
        return task

    async def transition(self, task_id: str, state: State, at: float, **changes: Any) -> Task:
        task = await self.get(task_id)
        if task is None:
            raise KeyError(task_id)
        return await self._put(moved(task, state, at, **changes))

    async def update(self, task_id: str, **changes: Any) -> Task:
        task = await self.get(task_id)
        if task is None:
            raise KeyError(task_id)
        return await self._put(replace(task, **changes))

    async def running(self, owner: str) -> int:
        return sum(1 for t in await self.all() if t.owner == owner and not t.finished)

    async def delete(self, task_id: str) -> None:
        pipe = self.link.client.pipeline(transaction=True)
        pipe.unlink(self._key(task_id))
        pipe.zrem(self._index, task_id)
        await pipe.execute()

    async def all(self) -> list[Task]:
        ids = [i.decode() for i in await self.link.client.zrange(self._index, 0, -1)]
        if not ids:
            return []
        texts = await self.link.client.mget([self._key(i) for i in ids])
        return [_task(text) for text in texts if text is not None]

    async def _evict(self) -> None:
        if await self.link.client.zcard(self._index) <= self.max_tasks:
            return
        tasks = await self.all()
        extra = len(tasks) - self.max_tasks
        for task in [t for t in tasks if t.finished][:max(extra, 0)]:
            await self.delete(task.task_id)
            if self.on_evict is not None:
                await self.on_evict(task)

    async def clear(self) -> None:
        for task in await self.all():
            await self.delete(task.task_id)
