"""The journal and coverage in Redis: one capped stream, and counts in hashes.

Every process appends its requests to one stream (``journal``, ``XADD … MAXLEN <size>``: the
oldest fall out, as from the in-memory ring) and counts their outcomes in ``cov`` (global) and
``cov:<SecretId>`` (an account's namespace); both are read back whole and shown by the same
code as the in-memory journal and coverage. Entries are JSON documents; this module does not
know their fields beyond ``secret_id`` (which a per-account clear needs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from emulator.state.redis_link import RedisLink

__all__ = ["RedisRecords"]

#: Field of a coverage hash counting a code of one action: ``<action>\x1f<code>``.
SEPARATOR = "\x1f"


class RedisRecords:
    """Append, count, read back and clear; entries and counts as plain data."""

    def __init__(self, link: RedisLink, size: int) -> None:
        self.link = link
        self.size = size
        self._stream = link.key("journal")
        self._recorded = link.key("journal", "recorded")

    async def record(self, entry: Mapping[str, Any], code: str, action: str | None,
                     scope: str | None) -> None:
        pipe = self.link.client.pipeline(transaction=False)
        pipe.xadd(self._stream, {"e": json.dumps(entry, separators=(",", ":"))},
                  maxlen=self.size, approximate=False)
        pipe.incr(self._recorded)
        for key in [self.link.key("cov")] + ([self.link.key("cov", scope)] if scope else []):
            pipe.hincrby(key, code, 1)
            if action is not None:
                pipe.hincrby(key, f"{action}{SEPARATOR}{code}", 1)
        await pipe.execute()

    async def entries(self) -> tuple[list[dict[str, Any]], int]:
        """Every kept entry, oldest first, and how many were ever recorded."""
        pipe = self.link.client.pipeline(transaction=True)
        pipe.xrange(self._stream)
        pipe.get(self._recorded)
        rows, recorded = await pipe.execute()
        return [json.loads(fields[b"e"]) for _, fields in rows], int(recorded or 0)

    async def clear(self, secret_id: str | None = None) -> int:
        """Forget every entry (or one SecretId's); returns how many went."""
        if secret_id is None:
            pipe = self.link.client.pipeline(transaction=True)
            pipe.xlen(self._stream)
            pipe.unlink(self._stream, self._recorded)
            removed, _ = await pipe.execute()
            return int(removed)
        ids = [rid for rid, fields in await self.link.client.xrange(self._stream)
               if json.loads(fields[b"e"]).get("secret_id") == secret_id]
        if ids:
            await self.link.client.xdel(self._stream, *ids)
        return len(ids)

    async def counts(self, account: str | None = None
                     ) -> tuple[dict[str, int], dict[str, dict[str, int]], float | None]:
        """Counts per code, per action and code, and since when (epoch seconds)."""
        key = self.link.key("cov", account) if account else self.link.key("cov")
        pipe = self.link.client.pipeline(transaction=True)
        pipe.hgetall(key)
        pipe.get(self.link.key("cov-since"))
        raw, since = await pipe.execute()
        codes: dict[str, int] = {}
        actions: dict[str, dict[str, int]] = {}
        for field, value in raw.items():
            name = field.decode()
            action, sep, code = name.partition(SEPARATOR)
            if sep:
                actions.setdefault(action, {})[code] = int(value)
            else:
                codes[name] = int(value)
        return codes, actions, None if since is None else float(since)

    async def reset_counts(self, since: float, account: str | None = None) -> None:
        if account is not None:
            await self.link.client.unlink(self.link.key("cov", account))
            return
        await self.link.drop("cov:*")
        pipe = self.link.client.pipeline(transaction=True)
        pipe.unlink(self.link.key("cov"))
        pipe.set(self.link.key("cov-since"), repr(since))
        await pipe.execute()
