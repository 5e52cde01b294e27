"""The load of ``benchmarks.bench``: load cells and hostile probes, sent by the separate load
process (bodies built and hashed before the timer, a fresh signature per request), and the
sampling this process does meanwhile (server RSS and CPU, health latency under load)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection

import aiohttp

from emulator.testing import tc3_headers

from .harness import (
    HEALTH,
    CpuMeter,
    LoadProcess,
    Server,
    cpu_seconds,
    open_connections,
    open_session,
    rss_mb,
    serve_specs,
)
from .inputs import BIG_POST_BYTES, BODY_HEAD, BODY_TAIL, BOMBS, Size, build_bodies, request_body

CLIENT_TIMEOUT = 120.0


@dataclass(frozen=True)
class CellSpec:
    """One load cell: where, what, how hard, how long."""

    port: int
    size: Size
    distinct: bool
    concurrency: int
    requests: int
    duration: float
    warmup: int = 2
    #: warm-up requests sent ``concurrency`` at a time (over all the connections: every
    #: process of a multi-process server gets some) instead of one after another
    warmup_concurrent: bool = False


@dataclass(frozen=True)
class CellResult:
    """Latencies (ms, in completion order), in-flight spans and errors of one timed phase."""

    latencies: list[float]
    spans: list[tuple[float, float]]  # (sent, answered), time.monotonic()
    errors: int
    elapsed: float
    first_error: str

    def in_flight(self, moment: float) -> int:
        return sum(sent <= moment < answered for sent, answered in self.spans)


@dataclass(frozen=True)
class ProbeSpec:
    """One-at-a-time hostile requests: ``bomb-png``, ``bomb-jpeg`` or ``big-post``."""

    port: int
    name: str
    count: int


@dataclass(frozen=True)
class ProbeResult:
    """Milliseconds and reply code (``OK``, an error code, ``HTTP n`` or an exception) each."""

    latencies: list[float]
    codes: list[str]


@dataclass(frozen=True)
class Probe:
    """Hostile requests sent one at a time, and the server's RSS (MB) around them."""

    name: str
    latencies: list[float]
    codes: list[str]
    rss_before: float
    rss_peak: float
    rss_after: float

    def all(self, code: str) -> bool:
        return bool(self.codes) and all(each == code for each in self.codes)

    @property
    def growth(self) -> float:
        """The largest RSS increase seen, during or after, MB."""
        return self.rss_peak - self.rss_before


# --- in the load process ------------------------------------------------------------------------

async def _send(session: aiohttp.ClientSession, host: str, body: bytes,
                digest: str) -> tuple[int, bytes] | str:
    """Send one freshly signed request: (status, body), or the exception's description."""
    headers = tc3_headers(host, body, payload_hash=digest)
    try:
        async with session.post(f"http://{host}/", data=body, headers=headers) as resp:
            return resp.status, await resp.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"


async def _post(session: aiohttp.ClientSession, host: str, body: bytes,
                digest: str) -> str:
    """Send one signed request; '' when it succeeded, else a short description."""
    answer = await _send(session, host, body, digest)
    if isinstance(answer, str):
        return answer
    status, data = answer
    if status != 200 or b'"Error"' in data:
        return f"HTTP {status}: {data[:300]!r}"
    return ""


async def run_cell(spec: CellSpec, jpeg: bytes, serial: Iterator[int],
                   conn: Connection) -> CellResult:
    """Build the bodies, open the connections, warm up, then load until a bound is reached."""
    count = spec.warmup + spec.requests if spec.distinct else 1
    if spec.distinct:
        bodies = build_bodies(jpeg, count, serial)
    else:
        body = request_body(base64.b64encode(jpeg))
        bodies = [(body, hashlib.sha256(body).hexdigest())]
    host = f"127.0.0.1:{spec.port}"
    async with open_session(spec.concurrency, CLIENT_TIMEOUT) as session:
        await open_connections(session, host, spec.concurrency)
        step = spec.concurrency if spec.warmup_concurrent else 1
        for first in range(0, spec.warmup, step):
            await asyncio.gather(*(_post(session, host, *bodies[index % len(bodies)])
                                   for index in range(first, min(first + step, spec.warmup))))
        latencies: list[float] = []
        spans: list[tuple[float, float]] = []
        errors: list[str] = []
        issued = 0
        started = time.monotonic()
        deadline = started + spec.duration
        conn.send(("started", started))

        async def client() -> None:
            nonlocal issued
            while issued < spec.requests and time.monotonic() < deadline:
                body, digest = bodies[(spec.warmup + issued) % len(bodies)]
                issued += 1
                sent = time.monotonic()
                begin = time.perf_counter()
                problem = await _post(session, host, body, digest)
                latencies.append((time.perf_counter() - begin) * 1000)
                spans.append((sent, time.monotonic()))
                if problem:
                    errors.append(problem)

        await asyncio.gather(*(client() for _ in range(spec.concurrency)))
        elapsed = time.monotonic() - started
    return CellResult(latencies, spans, len(errors), elapsed, errors[0] if errors else "")


async def _reply_code(session: aiohttp.ClientSession, host: str, body: bytes,
                      digest: str) -> str:
    """Send one signed request; the reply's error code, ``OK``, ``HTTP n`` or the exception."""
    answer = await _send(session, host, body, digest)
    if isinstance(answer, str):
        return answer.split(":", 1)[0]
    status, data = answer
    if status != 200:
        return f"HTTP {status}"
    try:
        reply = json.loads(data)["Response"]
    except (ValueError, KeyError, TypeError):
        return "not a Tencent reply"
    error = reply.get("Error")
    return str(error.get("Code")) if isinstance(error, dict) else "OK"


def probe_body(name: str) -> bytes:
    """The request body of a probe: an ``Image`` of the bomb, or 100 MB of base64 filler."""
    if name == "big-post":
        filler = BIG_POST_BYTES - len(BODY_HEAD) - len(BODY_TAIL)
        return BODY_HEAD + b"A" * filler + BODY_TAIL
    return request_body(base64.b64encode(BOMBS[name]()))


async def run_probe(spec: ProbeSpec, conn: Connection) -> ProbeResult:
    """Build the body (before the timer), then send it ``spec.count`` times, one at a time."""
    body = probe_body(spec.name)
    digest = hashlib.sha256(body).hexdigest()
    host = f"127.0.0.1:{spec.port}"
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(f"http://{host}{HEALTH}") as resp:
            await resp.read()
        conn.send(("started", time.monotonic()))
        latencies, codes = [], []
        for _ in range(spec.count):
            begin = time.perf_counter()
            codes.append(await _reply_code(session, host, body, digest))
            latencies.append((time.perf_counter() - begin) * 1000)
    return ProbeResult(latencies, codes)


def load_worker(conn: Connection, images: dict[Size, bytes]) -> None:
    """The load process: runs one :class:`CellSpec` or :class:`ProbeSpec` per message until it
    receives ``None``."""
    serial = itertools.count()
    serve_specs(conn, lambda spec: run_probe(spec, conn) if isinstance(spec, ProbeSpec)
                else run_cell(spec, images[spec.size], serial, conn))


# --- in this process ----------------------------------------------------------------------------

def start_load(images: dict[Size, bytes]) -> LoadProcess:
    """The load process, given the pictures of every size."""
    return LoadProcess(load_worker, images)


def run_cell_sampled(load: LoadProcess, spec: CellSpec, server: Server,
                     poll_health: bool = False, meter: CpuMeter | None = None,
                     ) -> tuple[CellResult, float, tuple[float, float], list[float]]:
    """(result, max RSS MB, (server, load process) CPU seconds, health latencies in ms).

    With ``poll_health``, ``/_emulator/health`` is polled every ~10 ms during the timed
    phase; only polls sent and answered while ``spec.concurrency`` requests were in flight
    are returned. ``meter`` (any process trees: per process) is started and stopped with the
    timed phase.
    """
    load.send(spec)
    rss = rss_mb(server.pid)
    cpu0 = cpu_seconds(server.pid), cpu_seconds(load.pid)
    polls: list[tuple[float, float]] = []
    poller = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    started: float | None = None
    next_sample = 0.0
    try:
        while True:
            message = load.receive(0.01)
            if message is not None:
                kind, payload = message
                if kind == "started":
                    started = payload
                    cpu0 = cpu_seconds(server.pid), cpu_seconds(load.pid)
                    if meter is not None:
                        meter.start()
                    continue
                result: CellResult = payload
                break
            now = time.monotonic()
            if now >= next_sample:
                rss = max(rss, rss_mb(server.pid))
                next_sample = now + 0.1
            if poll_health and started is not None:
                begin = time.monotonic()
                poller.request("GET", HEALTH)
                poller.getresponse().read()
                polls.append((begin, (time.monotonic() - begin) * 1000))
    finally:
        poller.close()
    if meter is not None:
        meter.stop()
    cpu = cpu_seconds(server.pid) - cpu0[0], cpu_seconds(load.pid) - cpu0[1]
    rss = max(rss, rss_mb(server.pid))
    full = spec.concurrency
    loaded = [ms for begin, ms in polls
              if result.in_flight(begin) >= full
              and result.in_flight(begin + ms / 1000) >= full]
    return result, rss, cpu, loaded


def run_probe_sampled(load: LoadProcess, spec: ProbeSpec, server: Server,
                      every: float = 0.005) -> Probe:
    """Run ``spec`` while sampling the server's RSS every ``every`` seconds."""
    load.send(spec)
    before = peak = rss_mb(server.pid)
    while True:
        message = load.receive(every)
        if message is not None:
            kind, payload = message
            if kind == "started":
                before = peak = rss_mb(server.pid)
                continue
            result: ProbeResult = payload
            break
        peak = max(peak, rss_mb(server.pid))
    after = rss_mb(server.pid)
    return Probe(spec.name, result.latencies, result.codes, before, max(peak, after), after)
