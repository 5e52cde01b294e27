"""The one connection to Redis that every shared store uses, and what its failure means.

``--state redis://host:port/db`` makes several emulator processes (``--processes N``) or
replicas behind a balancer one emulator. Every key starts with ``--state-prefix`` so several
emulators can share one Redis. Commands time out after :data:`COMMAND_TIMEOUT` seconds, so an
unreachable Redis fails a request quickly instead of hanging it; the client reconnects by
itself once Redis is back. ``redis`` is imported only when a Redis store is asked for.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["COMMAND_TIMEOUT", "RedisLink", "cause", "is_unavailable", "shown_url"]

#: Seconds one command may take (connecting included) before the request fails.
COMMAND_TIMEOUT = 2.0


def shown_url(url: str) -> str:
    """The URL without its password (it goes to logs and error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` is Redis being unreachable or too slow (not an emulator bug)."""
    module = sys.modules.get("redis.exceptions")
    if module is None:
        return False
    return isinstance(error, module.ConnectionError | module.TimeoutError | module.BusyLoadingError)


def cause(error: BaseException) -> str:
    """One line naming what went wrong with Redis."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class RedisLink:
    """A client and the key prefix; ``key("a", "b")`` is ``<prefix>:a:b``."""

    def __init__(self, url: str, prefix: str) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as Disconnected

        self.url = url
        self.prefix = prefix
        # Any: redis-py's replies are typed bytes | str whatever decode_responses says
        self.client: Any = Redis.from_url(
            url, socket_timeout=COMMAND_TIMEOUT, socket_connect_timeout=COMMAND_TIMEOUT,
            # once, at once: a pooled connection Redis closed (it restarted) is replaced
            # without failing the request; a Redis still down fails it
            retry=Retry(NoBackoff(), 1), retry_on_error=[Disconnected],
            health_check_interval=0, max_connections=256)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def ping(self) -> None:
        await self.client.ping()

    def script(self, source: str) -> Any:
        return self.client.register_script(source)

    async def close(self) -> None:
        await self.client.aclose()

    async def drop(self, pattern: str) -> None:
        """Delete every key of this emulator matching ``pattern`` (after the prefix)."""
        batch: list[Any] = []
        async for key in self.client.scan_iter(match=self.key(pattern), count=500):
            batch.append(key)
            if len(batch) >= 500:
                await self.client.unlink(*batch)
                batch = []
        if batch:
            await self.client.unlink(*batch)
