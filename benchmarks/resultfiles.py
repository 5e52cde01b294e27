"""Where shared result files live: Redis values or a shared folder, measured (bytes, latency).

Several replicas must serve any result Url (a cut-out, a mask, a result video). Two designs:
the emulator's :class:`~emulator.state.redis_objects.RedisFiles` (one Lua script stores and
bounds, one ``HMGET`` reads) and files in a folder every replica mounts (written to a
temporary name and renamed, read whole). Both are timed here for the sizes the emulator
stores — a 640x457 cut-out (~100 KB), a short result video (~1 MB), a long one (~9 MB) — with
``redis-server`` started by the benchmark (no persistence) and the folder on this machine's
disk. Writes ``benchmarks/resultfiles-results.md``; every loop is bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from emulator.state.redis_link import RedisLink
from emulator.state.redis_objects import RedisFiles

from .redisproc import RedisServer, find_redis_server
from .report import percentile, preamble

OUT = Path(__file__).with_name("resultfiles-results.md")
SIZES = {"cut-out ~100 KB": 100 * 1024, "short video ~1 MB": 1024 * 1024,
         "long video ~9 MB": 9 * 1024 * 1024}


async def _timed(call: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    return times


async def measure_redis(url: str, data: bytes, runs: int) -> tuple[list[float], list[float]]:
    link = RedisLink(url, "bench-files")
    files = RedisFiles(link, max_files=1000, max_bytes=1024**3)
    keys: list[str] = []

    async def put() -> None:
        keys.append(await files.put(data, "image/png"))

    async def get() -> None:
        assert await files.get(keys[len(keys) // 2]) is not None

    try:
        return await _timed(put, runs), await _timed(get, runs)
    finally:
        await link.drop("*")
        await link.close()


async def measure_folder(folder: Path, data: bytes, runs: int) -> tuple[list[float], list[float]]:
    names: list[Path] = []

    def write() -> None:
        path = folder / secrets.token_hex(16)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        os.replace(partial, path)  # readers never see half a file
        names.append(path)

    async def put() -> None:
        await asyncio.to_thread(write)

    async def get() -> None:
        await asyncio.to_thread(names[len(names) // 2].read_bytes)

    return await _timed(put, runs), await _timed(get, runs)


def render(rows: list[tuple[str, str, list[float], list[float]]], version: str) -> str:
    lines = [*preamble("bda-emulator: where shared result files live"), "",
             f"redis-server {version} on 127.0.0.1 (no persistence) against a folder on this "
             "machine's disk (write to a temporary name, rename; read whole), from one asyncio "
             "process; ms.", "",
             "| store | file | put p50 | put p99 | get p50 | get p99 |",
             "|---|---|---:|---:|---:|---:|"]
    for store, name, put, get in rows:
        lines.append(f"| {store} | {name} | {statistics.median(put):.2f} | "
                     f"{percentile(put, 0.99):.2f} | {statistics.median(get):.2f} | "
                     f"{percentile(get, 0.99):.2f} |")
    lines += ["", "Redis costs a copy of the bytes into its memory (bounded by --result-bytes) "
              "and needs nothing else shared between replicas; a folder needs a volume every "
              "replica mounts, and its own eviction across processes."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: a few files")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    executable = find_redis_server()
    if executable is None:
        print("resultfiles: no redis-server on this machine; skipped", file=sys.stderr)
        return 0
    runs = 3 if args.quick else 30
    rows = []
    with RedisServer(executable) as redis, tempfile.TemporaryDirectory() as folder:
        for name, size in SIZES.items():
            data = secrets.token_bytes(size)
            put, get = asyncio.run(measure_redis(redis.url, data, runs))
            rows.append(("Redis", name, put, get))
            put, get = asyncio.run(measure_folder(Path(folder), data, runs))
            rows.append(("folder", name, put, get))
        text = render(rows, redis.version())
    print(text)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
