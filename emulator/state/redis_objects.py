"""Result files and video tasks in Redis, so any process or replica serves any of them.

Result files are Redis values (``file:<key>``, a hash of the bytes and the media type), not
files on a shared folder: the replicas then need nothing but the one Redis, and a 640x457
cut-out (~100 KB) takes 0.5 / 0.2 ms to store / read (a local folder 0.3 / 0.1 ms: the page
cache; a 9 MB video ~30 ms against ~2 ms), measured by ``benchmarks/resultfiles.py``. They are
bounded in count and bytes like the in-memory store (the oldest evicted first), and expire
:data:`FILE_SECONDS` after they were stored at the latest.
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


#: Store a file, index it oldest first, and evict past the bounds, atomically.
_PUT = """
local index, sizes, total, order, prefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1]
local key, size = ARGV[2], string.len(ARGV[3])
redis.call('HSET', prefix .. key, 'data', ARGV[3], 'type', ARGV[4])
redis.call('EXPIRE', prefix .. key, tonumber(ARGV[5]))
redis.call('ZADD', index, redis.call('INCR', order), key)
redis.call('HSET', sizes, key, size)
local bytes = redis.call('INCRBY', total, size)
local evicted = 0
while redis.call('ZCARD', index) > tonumber(ARGV[6]) or bytes > tonumber(ARGV[7]) do
  local old = redis.call('ZRANGE', index, 0, 0)[1]
  if not old then break end
  bytes = redis.call('DECRBY', total, tonumber(redis.call('HGET', sizes, old) or '0'))
  redis.call('ZREM', index, old)
  redis.call('HDEL', sizes, old)
  redis.call('UNLINK', prefix .. old)
  evicted = evicted + 1
end
return evicted
"""

_DELETE = """
local key, prefix = ARGV[1], ARGV[2]
local size = redis.call('HGET', KEYS[2], key)
if size then
  redis.call('DECRBY', KEYS[3], tonumber(size))
  redis.call('HDEL', KEYS[2], key)
end
redis.call('ZREM', KEYS[1], key)
redis.call('UNLINK', prefix .. key)
return 0
"""


class RedisFiles(ResultFiles):
    """:class:`ResultFiles` whose bytes live in Redis, bounded like the in-memory store
    (``--result-files``, ``--result-bytes``: the oldest evicted first, over all processes);
    signing is the parent's."""

    def __init__(self, link: RedisLink, max_files: int, max_bytes: int) -> None:
        super().__init__(max_files=max_files, max_bytes=max_bytes, secret=b"")
        self.link = link
        self._keys = [link.key("files"), link.key("files", "sizes"), link.key("files", "bytes"),
                      link.key("files", "order")]
        self._put = link.script(_PUT)
        self._delete = link.script(_DELETE)

    async def put(self, data: bytes, content_type: str) -> str:
        key = secrets.token_hex(16)
        self.evicted += int(await self._put(keys=self._keys, args=[
            self.link.key("file", ""), key, data, content_type, FILE_SECONDS,
            self.max_files, self.max_bytes]))
        return key

    async def get(self, key: str) -> StoredFile | None:
        data, kind = await self.link.client.hmget(self.link.key("file", key), ["data", "type"])
        if data is None or kind is None:
            return None
        return StoredFile(bytes(data), kind.decode())

    async def delete(self, key: str) -> None:
        await self._delete(keys=self._keys[:3], args=[key, self.link.key("file", "")])


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
