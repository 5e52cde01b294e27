"""Hostile-client benchmark: what a hostile or buggy client can make the emulator spend.

Run ``python -m benchmarks.hostile [--quick]`` from the repository root (``make bench`` does):
the scan bomb comes from ``tests/hostile_inputs.py``.

Four measurements against a real ``bda-emulator serve`` subprocess on loopback, each bounded in
count and time, printed as a table and written to ``benchmarks/hostile-results.md``:

1. peak and after RSS while 200 clients each POST a signed 9 MB body at once (the byte budget);
2. the decode time of the worst progressive JPEG that passes the input checks (the scan bomb);
3. health-check latency while 250 connections trickle half a request head (read deadlines);
4. the RSS the journal holds after 1,000 maximal hostile unsigned requests.

Targets (issue 10) are compared with the idle RSS and the latency of an unloaded health check
measured in the same run; figures are never asserted by tests (``--quick`` is smoke-tested).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from emulator.imaging import images
from emulator.testing import tc3_headers
from tests.hostile_inputs import worst_accepted_progressive_jpeg  # run from the repository root

from .harness import HEALTH, Server, cpu_seconds, emulator_argv, rss_mb
from .report import preamble

MIB = 1024 * 1024
BIG_BODY = 9 * MIB
HOSTILE_HEADER = 60 * 1024  # under aiohttp's 64 KB field limit


@dataclass
class Plan:
    """How much of each measurement to run (``--quick`` shrinks every count)."""

    big_clients: int = 200
    slow_connections: int = 250
    health_probes: int = 40
    hostile_requests: int = 1000
    journal_size: int = 1000
    settle_seconds: float = 3.0


@dataclass
class Results:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, value: str, target: str, verdict: str) -> None:
        self.rows.append((what, value, target, verdict))
        print(f"{what}: {value} (target {target}: {verdict})", flush=True)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# -- 1. many large bodies at once --------------------------------------------------------------

async def _big_bodies(port: int, clients: int) -> list[str]:
    """``clients`` concurrent signed 9 MB requests; their error codes."""
    body = json.dumps({"Image": "A" * (BIG_BODY - 40)}).encode()
    headers = tc3_headers(f"127.0.0.1:{port}", body)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def one() -> str:
            async with session.post(f"http://127.0.0.1:{port}/", data=body,
                                    headers=headers) as resp:
                reply = await resp.json(content_type=None)
                return str(reply["Response"].get("Error", {}).get("Code", "OK"))
        return list(await asyncio.gather(*(one() for _ in range(clients))))


def measure_big_bodies(plan: Plan, res: Results) -> None:
    with Server(emulator_argv(), "emulator") as server:
        idle = rss_mb(server.pid)
        peak = idle
        done = False

        async def sample() -> None:
            nonlocal peak
            while not done:
                peak = max(peak, rss_mb(server.pid))
                await asyncio.sleep(0.02)

        async def run() -> list[str]:
            nonlocal done
            sampler = asyncio.create_task(sample())
            try:
                return await _big_bodies(server.port, plan.big_clients)
            finally:
                done = True
                await sampler

        cpu0, started = cpu_seconds(server.pid), time.perf_counter()
        codes = asyncio.run(run())
        wall = time.perf_counter() - started
        busy = (cpu_seconds(server.pid) - cpu0) / wall
        time.sleep(plan.settle_seconds)
        after = rss_mb(server.pid)
    counts = {code: codes.count(code) for code in sorted(set(codes))}
    res.add(f"RSS peak, {plan.big_clients} concurrent 9 MB bodies (over idle {idle:.0f} MB)",
            f"+{peak - idle:.0f} MB", "+<=300 MB", _verdict(peak - idle <= 300))
    res.add(f"RSS {plan.settle_seconds:g} s after them (over idle)", f"+{after - idle:.0f} MB",
            "+<=50 MB", _verdict(after - idle <= 50))
    res.notes.append(f"9 MB bodies: answered {counts} in {wall:.1f} s; server busy "
                     f"{busy:.2f} cores")


# -- 2. the scan bomb -------------------------------------------------------------------------

def measure_scan_bomb(plan: Plan, res: Results) -> None:
    data = worst_accepted_progressive_jpeg()
    times = []
    for _ in range(3 if plan.big_clients < 200 else 5):
        started = time.perf_counter()
        images.load_image(data)
        times.append(time.perf_counter() - started)
    worst = max(times)
    res.add(f"decode of the worst accepted progressive JPEG ({len(data) // 1024} KB)",
            f"{worst * 1000:.0f} ms (median {statistics.median(times) * 1000:.0f} ms)",
            "<=1 s", _verdict(worst <= 1.0))


# -- 3. slow connections ----------------------------------------------------------------------

def _health_latency(port: int, probes: int) -> list[float]:
    latencies = []
    for _ in range(probes):
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET {HEALTH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                         .encode())
            while sock.recv(65536):
                pass
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)
    return latencies


def measure_slow_connections(plan: Plan, res: Results) -> None:
    with Server(emulator_argv(), "emulator") as server:
        baseline = _health_latency(server.port, plan.health_probes)
        held = []
        for _ in range(plan.slow_connections):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            held.append(sock)
        try:
            loaded = _health_latency(server.port, plan.health_probes)
        finally:
            for sock in held:
                sock.close()
    res.add(f"health check, max of {plan.health_probes}, while {plan.slow_connections} "
            f"connections trickle a request head",
            f"{max(loaded):.1f} ms (p50 {statistics.median(loaded):.1f}; unloaded max "
            f"{max(baseline):.1f}, ratio {max(loaded) / max(baseline):.2f})",
            "<=50 ms", _verdict(max(loaded) <= 50))


# -- 4. journal amplification -----------------------------------------------------------------

async def _hostile_requests(port: int, count: int) -> None:
    options = {("Opt" * 3000) + str(i): True for i in range(100)}
    body = json.dumps({"SegmentationOptions": options, "Url": "http://x/" + "u" * 500_000,
                       "Image": ""}).encode()
    headers = {"Content-Type": "application/json", "X-TC-Action": "A" * HOSTILE_HEADER,
               "X-TC-Region": "r" * HOSTILE_HEADER,
               "Authorization": "Credential=" + "k" * HOSTILE_HEADER + "/"}
    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one() -> None:
            async with session.post(f"http://127.0.0.1:{port}/", data=body,
                                    headers=headers) as resp:
                await resp.read()
        for start in range(0, count, 64):
            await asyncio.gather(*(one() for _ in range(min(64, count - start))))


def measure_journal(plan: Plan, res: Results) -> None:
    argv = emulator_argv(extra=["--journal-size", str(plan.journal_size)])
    with Server(argv, "emulator") as server:
        idle = rss_mb(server.pid)
        asyncio.run(_hostile_requests(server.port, plan.hostile_requests))
        time.sleep(1)
        after = rss_mb(server.pid)
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /_emulator/requests HTTP/1.1\r\nHost: x\r\n"
                         b"Connection: close\r\n\r\n")
            size = 0
            while chunk := sock.recv(1 << 16):
                size += len(chunk)
        listing = time.perf_counter() - started
    res.add(f"RSS after {plan.hostile_requests} maximal hostile unsigned requests (over idle)",
            f"+{after - idle:.0f} MB", "+<=50 MB", _verdict(after - idle <= 50))
    res.notes.append(f"journal listing after them: {size / 1024:.0f} KB in "
                     f"{listing * 1000:.0f} ms")


# -- the run ----------------------------------------------------------------------------------

def render(res: Results) -> str:
    lines = [*preamble("bda-emulator hostile-client benchmark"),
             f"- Machine cores: {os.cpu_count()}; the load runs in this process, the server in "
             "its own", "", "| measurement | value | target | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in res.rows]
    lines += ["", *[f"- {note}" for note in res.notes], ""]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: small counts")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "hostile-results.md")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan(big_clients=4, slow_connections=10, health_probes=5, hostile_requests=20,
                journal_size=20, settle_seconds=0.2) if args.quick else Plan()
    res = Results()
    measure_big_bodies(plan, res)
    measure_scan_bomb(plan, res)
    measure_slow_connections(plan, res)
    measure_journal(plan, res)
    text = render(res)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
