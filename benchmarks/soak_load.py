"""The load process of ``benchmarks.soak``: it sends the schedule at concurrency 64 with a fresh
signature per request, classifies every reply and reports progress every 10 % of replies."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import aiohttp

from .harness import open_connections, open_session, serve_specs
from .soak_mix import INJECTED, RESET, UNEXPECTED, Inputs, Reply, classify, headers_for

CONCURRENCY = 64
CLIENT_TIMEOUT = 60.0


@dataclass(frozen=True)
class LoadSpec:
    port: int
    schedule: list[str]
    concurrency: int
    duration: float


@dataclass(frozen=True)
class LoadResult:
    replies: list[Reply]
    sent: int
    elapsed: float


async def run_load(spec: LoadSpec, conn: Connection) -> LoadResult:
    """Send the schedule; report progress every 10 % of replies through ``conn``."""
    inputs = Inputs.build()
    host = f"127.0.0.1:{spec.port}"
    total = len(spec.schedule)
    marks = {math.ceil(total * tenth / 10): tenth for tenth in range(1, 11)}
    replies: list[Reply] = []
    sent = 0
    async with open_session(spec.concurrency, CLIENT_TIMEOUT) as session:
        await open_connections(session, host, spec.concurrency)
        started = time.monotonic()
        deadline = started + spec.duration
        conn.send(("started", started))

        async def one(kind: str, index: int) -> Reply:
            body = inputs.body(kind, index)
            headers = headers_for(kind, host, hashlib.sha256(body).hexdigest(), int(time.time()))
            begin = time.perf_counter()
            try:
                async with session.post(f"http://{host}/", data=body, headers=headers) as resp:
                    data = await resp.read()
                    status, content_type = resp.status, resp.headers.get("Content-Type", "")
            except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError,
                    aiohttp.ClientPayloadError) as exc:
                return Reply(kind, RESET, INJECTED, (time.perf_counter() - begin) * 1000,
                             detail=type(exc).__name__)
            except (aiohttp.ClientError, TimeoutError) as exc:
                return Reply(kind, type(exc).__name__, UNEXPECTED,
                             (time.perf_counter() - begin) * 1000, detail=str(exc)[:200])
            latency = (time.perf_counter() - begin) * 1000
            outcome, klass, request_id, detail = classify(kind, status, content_type, data)
            return Reply(kind, outcome, klass, latency, request_id, detail)

        async def client() -> None:
            nonlocal sent
            while sent < total and time.monotonic() < deadline:
                index = sent
                sent += 1
                replies.append(await one(spec.schedule[index], index))
                if len(replies) in marks:
                    conn.send(("progress", len(replies)))

        await asyncio.gather(*(client() for _ in range(spec.concurrency)))
        elapsed = time.monotonic() - started
    return LoadResult(replies, sent, elapsed)


def load_worker(conn: Connection) -> None:
    """The load process: runs one :class:`LoadSpec` per message until it receives ``None``."""
    serve_specs(conn, lambda spec: run_load(spec, conn))
