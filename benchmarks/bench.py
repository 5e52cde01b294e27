"""Load and compute benchmark of bda-emulator: ``make bench`` (or ``python benchmarks/bench.py``).

What it measures, in one sitting on 127.0.0.1 (every number is printed, none is asserted):

* **compute floor** — a bare function doing the least image work one request needs (decode the
  JPEG, one elliptical mask, the zeroed RGBA cut-out as PNG at ``compress_level=1``, the mask as
  greyscale JPEG quality 100, base64 both, ``json.dumps`` the reply), median of N runs;
* **transport limit** — a bare aiohttp server (a subprocess of this script) answering every POST
  with the emulator's own reply bytes for the 640x457 input, loaded like the emulator;
* **emulator** — ``bda-emulator serve`` as a subprocess, TC3-signed requests (fresh timestamp per
  request) for 300x400, 640x457 and 1999x1000 inputs, cached (one repeated input, default cache)
  and uncached (``--cache-size 0`` and a distinct input per request), at concurrency 1, 16, 64;
* the event loop's responsiveness (``/_emulator/health`` latency while 16 uncached 1999x1000
  requests are in flight), start-to-healthy time and idle RSS;
* scaling with image workers — uncached 640x457 at concurrency 16 with ``--workers 1`` and with
  the default (one per CPU); the transport limit again with as many aiohttp processes sharing
  the port (``reuse_port``) as the emulator has image workers, the yardstick of the cached path;
* memory — the emulator's RSS after 10,000 cached 640x457 requests at concurrency 64 (the
  emulator is one process: its image workers are threads, so this is the whole server), the
  time and RSS change to refuse decompression bombs (a PNG whose IHDR declares 100000x100000,
  a JPEG whose SOF declares 60000x60000) and a 100 MB POST.

Load comes from a separate process (an aiohttp client, bodies built and hashed before the timer);
each cell is bounded by a request count and a time cap. Uncached inputs differ by a JPEG comment
segment placed after SOI (same pixels, so the same work; every sha256 differs). The inputs are
drawn deterministically: gradient background, a head-and-shoulders figure, seeded noise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import http.client
import io
import itertools
import json
import math
import multiprocessing
import os
import platform
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType

import aiohttp
import PIL
from aiohttp import web
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from emulator.serve.lifecycle import serve_until_signalled
from emulator.wire import auth

SECRET_ID = "AKIDEMULATOR000000000000000000000000"
SECRET_KEY = "emulatorsecretkey000000000000000"
REGION = "ap-guangzhou"
ACTION = "SegmentCustomizedPortraitPic"
VERSION = "2020-03-24"
CONTENT_TYPE = "application/json"
HEALTH = "/_emulator/health"

Size = tuple[int, int]
SIZES: tuple[Size, ...] = ((300, 400), (640, 457), (1999, 1000))
REF: Size = (640, 457)
BIG: Size = (1999, 1000)
LEVELS = (1, 16, 64)
OPTIONS = {"Head": True}
BODY_HEAD = b'{"Image":"'
BODY_TAIL = b'","SegmentationOptions":%s}' % json.dumps(OPTIONS, separators=(",", ":")).encode()
BODY_BUDGET = 512 * 1024 * 1024  # pre-built distinct bodies per cell, bytes
CLIENT_TIMEOUT = 120.0
START_TIMEOUT = 20.0
HEADER = ("| scenario | size | concurrency | cached | workers | req/s | p50 ms | p99 ms | errors "
          "| RSS MB |")
#: Image workers of a default ``bda-emulator serve`` (its ``--workers`` default: one per CPU).
NPROC = os.cpu_count() or 1
RSS_REQUESTS = 10_000  # cached requests before the "RSS after" reading
BOMB_REQUESTS = 20  # per decompression bomb
SCALING = "worker scaling"  # the rows of the --workers 1 / --workers N comparison
BIG_POST_BYTES = 100 * 1024 * 1024
BOMB_PNG_SIDE = 100_000
BOMB_JPEG_SIDE = 60_000
EXCEED = "FailedOperation.ImageResolutionExceed"
TOO_LARGE = "RequestSizeLimitExceeded"

Box = tuple[int, int, int, int]


def label(size: Size) -> str:
    """``640x457``."""
    return f"{size[0]}x{size[1]}"


# --- inputs -------------------------------------------------------------------------------------

def _frame(size: Size) -> Box:
    """The figure's frame (x, y, width, height): centred, standing on the bottom edge."""
    width, height = size
    fh = round(height * 0.86)
    fw = min(round(fh * 0.75), round(width * 0.8))
    return (width - fw) // 2, height - fh, fw, fh


def _part(frame: Box, u0: float, v0: float, u1: float, v1: float) -> Box:
    x, y, w, h = frame
    return x + round(u0 * w), y + round(v0 * h), x + round(u1 * w) - 1, y + round(v1 * h) - 1


def head_box(size: Size) -> Box:
    """Where the figure's head (hair ellipse) lies: the floor's one mask."""
    return _part(_frame(size), 0.26, 0.03, 0.74, 0.48)


def make_photo(size: Size, seed: int) -> bytes:
    """A photo-like JPEG (quality 90): gradient, head-and-shoulders figure, blur, seeded noise."""
    width, height = size
    ramp = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    channels = [ramp.point(lambda v, top=top, span=span: top - v * span // 255)
                for top, span in ((206, 16), (210, 12), (218, 6))]
    image = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(image)
    frame = _frame(size)
    skin, hair, shirt = (226, 176, 146), (62, 42, 32), (52, 86, 150)
    draw.rounded_rectangle(_part(frame, 0.0, 0.58, 1.0, 1.0), round(0.18 * frame[2]), fill=shirt,
                           corners=(True, True, False, False))
    draw.rectangle(_part(frame, 0.42, 0.40, 0.58, 0.62), fill=skin)
    draw.ellipse(head_box(size), fill=hair)
    draw.ellipse(_part(frame, 0.27, 0.22, 0.32, 0.33), fill=skin)
    draw.ellipse(_part(frame, 0.68, 0.22, 0.73, 0.33), fill=skin)
    draw.ellipse(_part(frame, 0.30, 0.08, 0.70, 0.46), fill=skin)
    draw.chord(_part(frame, 0.28, 0.04, 0.72, 0.38), 180, 360, fill=hair)
    for u0, u1 in ((0.38, 0.46), (0.54, 0.62)):
        draw.ellipse(_part(frame, u0, 0.268, u1, 0.292), fill=(40, 34, 34))
    draw.ellipse(_part(frame, 0.42, 0.362, 0.58, 0.414), fill=(178, 72, 80))
    image = image.filter(ImageFilter.GaussianBlur(1))
    noise = Image.frombytes("RGB", size, random.Random(seed).randbytes(width * height * 3))
    image = ImageChops.add(image, noise.point(lambda v: v * 13 // 256), 1.0, -6)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def bomb_png(side: int = BOMB_PNG_SIDE) -> bytes:
    """A real 64x64 PNG whose IHDR is patched to declare ``side`` x ``side`` (CRC fixed)."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 90, 60)).save(out, "PNG")
    data = bytearray(out.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = side.to_bytes(4, "big") * 2
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def bomb_jpeg(side: int = BOMB_JPEG_SIDE) -> bytes:
    """A real 64x64 baseline JPEG whose SOF0 is patched to declare ``side`` x ``side``."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 90, 60)).save(out, "JPEG", quality=90)
    data = bytearray(out.getvalue())
    pos = data.index(b"\xff\xc0")
    data[pos + 5:pos + 9] = side.to_bytes(2, "big") * 2  # height, then width
    return bytes(data)


BOMBS: dict[str, Callable[[], bytes]] = {"bomb-png": bomb_png, "bomb-jpeg": bomb_jpeg}


def request_body(image_b64: bytes) -> bytes:
    """The JSON body of one request carrying ``image_b64``."""
    return BODY_HEAD + image_b64 + BODY_TAIL


def build_bodies(jpeg: bytes, count: int, serial: Iterator[int]) -> list[tuple[bytes, str]]:
    """``count`` distinct bodies with their sha256: a numbered 18-byte COM segment after SOI.

    18 bytes is a multiple of 3, so the base64 of the rest of the file is computed once.
    """
    rest = base64.b64encode(jpeg[2:])
    count = max(1, min(count, BODY_BUDGET // (len(rest) + 64)))
    bodies = []
    for _ in range(count):
        prefix = b"\xff\xd8\xff\xfe\x00\x0e" + b"%012d" % next(serial)
        body = request_body(base64.b64encode(prefix) + rest)
        bodies.append((body, hashlib.sha256(body).hexdigest()))
    return bodies


# --- signing ------------------------------------------------------------------------------------

def signed_headers(host: str, payload_hash: str, timestamp: int) -> dict[str, str]:
    """Headers of a TC3-HMAC-SHA256 POST (default keys) whose body hashes to ``payload_hash``."""
    date = auth.utc_date(timestamp)
    canonical = auth.tc3_canonical_request(
        "POST", "", [("content-type", CONTENT_TYPE), ("host", host)], payload_hash)
    sts = auth.tc3_string_to_sign(str(timestamp), date, "bda", canonical)
    signature = auth.tc3_signature(SECRET_KEY, date, "bda", sts)
    return {"Content-Type": CONTENT_TYPE, "Host": host, "X-TC-Action": ACTION,
            "X-TC-Version": VERSION, "X-TC-Timestamp": str(timestamp), "X-TC-Region": REGION,
            "Authorization": f"TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/bda/tc3_request, "
                             f"SignedHeaders=content-type;host, Signature={signature}"}


# --- compute floor ------------------------------------------------------------------------------

def floor_reply(jpeg: bytes, head: Box) -> bytes:
    """The least work one request needs, from JPEG bytes to the serialised reply."""
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).ellipse(head, fill=255)
    cut = Image.composite(image, Image.new("RGB", image.size, 0), mask)
    cut.putalpha(mask)
    png, jpg = io.BytesIO(), io.BytesIO()
    cut.save(png, "PNG", compress_level=1)
    mask.save(jpg, "JPEG", quality=100)
    x0, y0, x1, y1 = head
    reply = {"Response": {
        "PortraitImage": base64.b64encode(png.getvalue()).decode("ascii"),
        "MaskImage": base64.b64encode(jpg.getvalue()).decode("ascii"),
        "ImageRects": [{"X": x0, "Y": y0, "Width": x1 - x0 + 1, "Height": y1 - y0 + 1,
                        "Label": "Head"}],
        "RequestId": str(uuid.uuid4())}}
    return json.dumps(reply, separators=(",", ":")).encode()


def measure_floor(jpeg: bytes, head: Box, runs: int, warmup: int = 5) -> list[float]:
    """Milliseconds of ``runs`` calls of :func:`floor_reply` after ``warmup`` calls.

    Several warm-up calls: the first large allocations page-fault until glibc's mmap
    threshold has grown, which would make a cold floor look 20-30 % slower.
    """
    for _ in range(warmup):
        floor_reply(jpeg, head)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        floor_reply(jpeg, head)
        times.append((time.perf_counter() - start) * 1000)
    return times


# --- load process -------------------------------------------------------------------------------

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


async def _send(session: aiohttp.ClientSession, host: str, body: bytes,
                digest: str) -> tuple[int, bytes] | str:
    """Send one freshly signed request: (status, body), or the exception's description."""
    headers = signed_headers(host, digest, int(time.time()))
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
    connector = aiohttp.TCPConnector(limit=spec.concurrency)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def ping() -> None:
            async with session.get(f"http://{host}{HEALTH}") as resp:
                await resp.read()

        await asyncio.gather(*(ping() for _ in range(spec.concurrency)))
        for index in range(spec.warmup):
            await _post(session, host, *bodies[index % len(bodies)])
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
    while True:
        spec = conn.recv()
        if spec is None:
            return
        try:
            if isinstance(spec, ProbeSpec):
                result: CellResult | ProbeResult = asyncio.run(run_probe(spec, conn))
            else:
                result = asyncio.run(run_cell(spec, images[spec.size], serial, conn))
        except Exception:
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("done", result))


# --- processes ----------------------------------------------------------------------------------

def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (via /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    text = Path(f"/proc/{current}/task/{task}/children").read_text()
                    todo.extend(int(child) for child in text.split())
    return found


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, MB."""
    total = 0
    for each in _descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants, seconds."""
    ticks = 0
    for each in _descendants(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def health_ok(port: int, timeout: float = 5.0) -> bool:
    """Whether ``GET /_emulator/health`` answers 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", HEALTH)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


class Server:
    """A server subprocess on a free port: spawned, awaited healthy, stopped with SIGTERM."""

    def __init__(self, argv: Callable[[int], list[str]], name: str) -> None:
        self.port = free_port()
        self.name = name
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        spawned = time.perf_counter()
        self.proc = subprocess.Popen(argv(self.port), stdout=subprocess.DEVNULL,
                                     stderr=self._log)
        while not health_ok(self.port):
            if self.proc.poll() is not None or time.perf_counter() - spawned > START_TIMEOUT:
                text = self.log_text()
                self.stop()
                raise RuntimeError(f"{name} did not become healthy:\n{text}")
            time.sleep(0.005)
        self.start_seconds = time.perf_counter() - spawned

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def emulator_argv(cache_size: int | None, threads: int | None) -> Callable[[int], list[str]]:
    """The ``bda-emulator serve`` command line for a port."""
    script = Path(sys.executable).with_name("bda-emulator")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "emulator"]

    def argv(port: int) -> list[str]:
        extra = [] if cache_size is None else ["--cache-size", str(cache_size)]
        extra += [] if threads is None else ["--workers", str(threads)]
        return [*base, "serve", "--port", str(port), *extra]

    return argv


async def _transport(port: int, reply: bytes, ready: Callable[[], object] | None) -> None:
    """One transport process: every POST answered with ``reply``, until SIGTERM or SIGINT."""

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=reply, headers={"Content-Type": CONTENT_TYPE})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_get(HEALTH, health)
    app.router.add_post("/{tail:.*}", answer)
    await serve_until_signalled(web.AppRunner(app, access_log=None), "127.0.0.1", port,
                                reuse_port=True, ready=ready)


def _transport_child(port: int, reply: bytes, ready: Callable[[], object]) -> None:
    asyncio.run(_transport(port, reply, ready))


def serve_transport(port: int, reply_path: str, processes: int = 1) -> None:
    """The transport limit: ``processes`` bare aiohttp processes sharing the port
    (``SO_REUSEPORT``: the kernel spreads connections), every POST answered with the same reply
    bytes, nothing else. The extra processes are forked children, listening before this one
    does (so "healthy" means all are up) and stopped with it."""
    reply = Path(reply_path).read_bytes()
    ctx = multiprocessing.get_context("fork")  # no thread or event loop exists yet
    children = []
    try:
        for _ in range(processes - 1):
            ready = ctx.Event()
            child = ctx.Process(target=_transport_child, args=(port, reply, ready.set),
                                daemon=True)
            child.start()
            children.append(child)
            if not ready.wait(START_TIMEOUT):
                raise RuntimeError("a transport process did not start")
        asyncio.run(_transport(port, reply, None))
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(5)


def fetch_reply(port: int, jpeg: bytes) -> bytes:
    """The emulator's reply bytes for ``jpeg`` (one signed request)."""
    body = request_body(base64.b64encode(jpeg))
    host = f"127.0.0.1:{port}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/", body, signed_headers(host, auth.sha256_hex(body),
                                                       int(time.time())))
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    if resp.status != 200 or b'"Error"' in data:
        raise RuntimeError(f"emulator refused the benchmark image: {data[:300]!r}")
    return data


class LoadProcess:
    """The separate load-generating process and the sampling done while it runs."""

    def __init__(self, images: dict[Size, bytes]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=load_worker, args=(child, images), daemon=True)
        self.proc.start()
        child.close()

    def run(self, spec: CellSpec, server: Server,
            poll_health: bool = False) -> tuple[CellResult, float, tuple[float, float],
                                                list[float]]:
        """(result, max RSS MB, (server, load process) CPU seconds, health latencies in ms).

        With ``poll_health``, ``/_emulator/health`` is polled every ~10 ms during the timed
        phase; only polls sent and answered while ``spec.concurrency`` requests were in flight
        are returned.
        """
        self.conn.send(spec)
        rss = rss_mb(server.pid)
        cpu0 = cpu_seconds(server.pid), cpu_seconds(self.proc.pid or 0)
        polls: list[tuple[float, float]] = []
        poller = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        started: float | None = None
        next_sample = 0.0
        try:
            while True:
                if self.conn.poll(0.01):
                    kind, payload = self.conn.recv()
                    if kind == "started":
                        started = payload
                        cpu0 = cpu_seconds(server.pid), cpu_seconds(self.proc.pid or 0)
                        continue
                    if kind == "error":
                        raise RuntimeError(f"load process failed:\n{payload}")
                    result: CellResult = payload
                    break
                if not self.proc.is_alive():
                    raise RuntimeError("load process died")
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
        cpu = cpu_seconds(server.pid) - cpu0[0], cpu_seconds(self.proc.pid or 0) - cpu0[1]
        rss = max(rss, rss_mb(server.pid))
        full = spec.concurrency
        loaded = [ms for begin, ms in polls
                  if result.in_flight(begin) >= full
                  and result.in_flight(begin + ms / 1000) >= full]
        return result, rss, cpu, loaded

    def probe(self, spec: ProbeSpec, server: Server, every: float = 0.005) -> Probe:
        """Run ``spec`` while sampling the server's RSS every ``every`` seconds."""
        self.conn.send(spec)
        before = peak = rss_mb(server.pid)
        while True:
            if self.conn.poll(every):
                kind, payload = self.conn.recv()
                if kind == "started":
                    before = peak = rss_mb(server.pid)
                    continue
                if kind == "error":
                    raise RuntimeError(f"load process failed:\n{payload}")
                result: ProbeResult = payload
                break
            if not self.proc.is_alive():
                raise RuntimeError("load process died")
            peak = max(peak, rss_mb(server.pid))
        after = rss_mb(server.pid)
        return Probe(spec.name, result.latencies, result.codes, before, max(peak, after), after)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()


# --- report -------------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


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


@dataclass(frozen=True)
class Soak:
    """RSS (MB) of a fresh default server before and after many cached requests."""

    result: CellResult
    rss_before: float
    rss_peak: float
    rss_after: float


def threads(count: int) -> str:
    """The workers column for the emulator: image worker threads in its one process."""
    return f"{count} thr"


def processes(count: int) -> str:
    """The workers column for the transport limit: aiohttp processes sharing the port."""
    return f"{count} proc"


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    scenario: str
    size: Size
    concurrency: int
    cached: str
    workers: str
    rps: float
    p50: float
    p99: float
    errors: int
    rss: float | None
    cpu_ms: float = math.nan  # server CPU per request
    cores: tuple[float, float] = (math.nan, math.nan)  # busy cores: server, load process

    def markdown(self) -> str:
        rss = "–" if self.rss is None else f"{self.rss:.0f}"
        return (f"| {self.scenario} | {label(self.size)} | {self.concurrency} | {self.cached} | "
                f"{self.workers} | {self.rps:.1f} | {self.p50:.1f} | {self.p99:.1f} | "
                f"{self.errors} | {rss} |")


@dataclass
class Results:
    """Everything measured, keyed for the ratios."""

    rows: list[Row] = field(default_factory=list)
    floor: dict[Size, float] = field(default_factory=dict)
    starts: list[float] = field(default_factory=list)
    idle_rss: list[float] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    first_errors: list[str] = field(default_factory=list)
    workers: int = NPROC  # image workers of the default emulator rows
    soak: Soak | None = None
    probes: dict[str, Probe] = field(default_factory=dict)

    def row(self, scenario: str, size: Size, concurrency: int, cached: str,
            workers: str | None = None) -> Row:
        """The row; ``workers`` defaults to the emulator's default / one transport process."""
        if workers is None:
            workers = threads(self.workers) if scenario == "emulator" else processes(1)
        for row in self.rows:
            if (row.scenario, row.size, row.concurrency, row.cached, row.workers) == (
                    scenario, size, concurrency, cached, workers):
                return row
        raise KeyError((scenario, size, concurrency, cached, workers))


def cell_row(scenario: str, spec: CellSpec, result: CellResult, rss: float,
             cpu: tuple[float, float], workers: str) -> Row:
    """A table row from one cell's measurements."""
    done = len(result.latencies)
    elapsed = result.elapsed or math.nan
    return Row(scenario, spec.size, spec.concurrency, "no" if spec.distinct else "yes", workers,
               done / elapsed, percentile(result.latencies, 0.5),
               percentile(result.latencies, 0.99), result.errors, rss,
               cpu[0] * 1000 / done if done else math.nan,
               (cpu[0] / elapsed, cpu[1] / elapsed))


def _check(name: str, value: float, shown: str, target: str, ok: bool) -> str:
    verdict = "n/a" if math.isnan(value) else ("yes" if ok else "no")
    return f"| {name} | {shown} | {target} | {verdict} |"


def render(res: Results) -> str:
    """The table, the server-cost block, the memory block and the ratios block, as markdown."""
    lines = [HEADER, "|---|---|---:|---|---|---:|---:|---:|---:|---:|"]
    lines += [row.markdown() for row in res.rows]
    transport_c1 = res.row("transport limit", REF, 1, "no")
    lines += ["", "Workers: *N thr* = one emulator process with N image-worker threads "
              "(`--workers N`); *N proc* = N bare aiohttp processes sharing the port "
              f"(`reuse_port`). The *{SCALING}* rows: fresh `--cache-size 0` servers with "
              "`--workers 1` and `--workers N`, measured in the order 1, N, N, 1 and summed "
              "(cancels a steady drift of the machine's speed).", "",
              "Server cost per uncached request (ms): *latency* = emulator p50 at c=1 minus "
              "transport-limit p50 at c=1; *1/throughput* = 1000 / req/s at c=1; *server CPU* = "
              "the emulator's CPU time per request at c=1 (/proc).", "",
              "| size | latency − transport | 1/throughput | server CPU | compute floor |",
              "|---|---:|---:|---:|---:|"]
    cost: dict[Size, float] = {}
    for size in SIZES:
        row = res.row("emulator", size, 1, "no")
        cost[size] = row.p50 - transport_c1.p50
        lines.append(f"| {label(size)} | {cost[size]:.1f} | {1000 / row.rps:.1f} | "
                     f"{row.cpu_ms:.1f} | {res.floor[size]:.1f} |")
    workers = res.workers
    cached16 = res.row("emulator", REF, 16, "yes").rps
    uncached16 = res.row("emulator", REF, 16, "no").rps
    transport16 = res.row("transport limit", REF, 16, "no").rps
    transport16_n = res.row("transport limit", REF, 16, "no", processes(workers)).rps
    scaled_n = res.row(SCALING, REF, 16, "no", threads(workers)).rps
    scaled_1 = res.row(SCALING, REF, 16, "no", threads(1)).rps
    start = statistics.median(res.starts)
    idle = statistics.median(res.idle_rss)
    health_max = max(res.health) if res.health else math.nan
    health_p50 = percentile(res.health, 0.5)
    r_floor = cost[REF] / res.floor[REF]
    r_cache = cached16 / uncached16
    r_transport = cached16 / transport16_n
    r_big = cost[BIG] / cost[REF]
    r_workers = scaled_n / scaled_1
    lines += ["", *render_memory(res)]
    lines += ["", "Ratios (server cost = latency − transport, the first column above):", "",
              "| check | value | target | met |", "|---|---|---|---|",
              _check("uncached 640x457 server cost / compute floor", r_floor,
                     f"{r_floor:.2f} ({cost[REF]:.1f} / {res.floor[REF]:.1f} ms)", "≤ 1.3",
                     r_floor <= 1.3),
              _check("cached / uncached req/s, 640x457 c=16", r_cache,
                     f"{r_cache:.1f} ({cached16:.0f} / {uncached16:.0f})", "≥ 5", r_cache >= 5),
              _check(f"uncached 640x457 c=16 req/s, all {workers} workers / one worker",
                     r_workers, f"{r_workers:.2f} ({scaled_n:.0f} / {scaled_1:.0f}; "
                     f"{SCALING} rows)",
                     "≥ 1.7", r_workers >= 1.7),
              _check(f"cached / transport limit req/s, 640x457 c=16, {workers} workers / "
                     f"{workers} processes", r_transport,
                     f"{r_transport:.2f} ({cached16:.0f} / {transport16_n:.0f}; against one "
                     f"transport process {cached16 / transport16:.2f})", "≥ 0.8",
                     r_transport >= 0.8),
              _check("1999x1000 cost / 640x457 cost", r_big,
                     f"{r_big:.2f} ({cost[BIG]:.1f} / {cost[REF]:.1f} ms)", "≤ 7.5",
                     r_big <= 7.5),
              _check("health latency under load (16 uncached 1999x1000), max", health_max,
                     f"{health_max:.1f} ms (p50 {health_p50:.1f} ms, {len(res.health)} polls)",
                     "≤ 50 ms", health_max <= 50),
              _check("start-to-healthy, median", start,
                     f"{start:.2f} s (runs: {', '.join(f'{s:.2f}' for s in res.starts)})",
                     "≤ 0.8 s", start <= 0.8),
              _check("idle RSS, median", idle, f"{idle:.0f} MB", "≤ 80 MB", idle <= 80),
              *memory_checks(res)]
    busy = [(name, res.row(scenario, REF, 16, cached, workers_).cores)
            for name, scenario, cached, workers_ in (
                ("transport 1 proc", "transport limit", "no", processes(1)),
                (f"transport {workers} proc", "transport limit", "no", processes(workers)),
                ("cached", "emulator", "yes", None), ("uncached", "emulator", "no", None),
                (f"scaling {workers} thr", SCALING, "no", threads(workers)),
                ("scaling 1 thr", SCALING, "no", threads(1)))]
    lines += ["", "Busy cores during the 640x457 c=16 cells (server / load process): "
              + "; ".join(f"{name} {s:.2f} / {c:.2f}" for name, (s, c) in busy) + "."]
    generator = res.row("transport limit", REF, 16, "no", processes(workers)).cores[1]
    if generator >= 0.9:
        lines[-1] += (f" The transport limit is bound by the load process ({generator:.2f} "
                      "cores; one asyncio process uses at most one core), not by the servers: "
                      f"{workers} transport processes answer about as fast as one.")
    if res.first_errors:
        lines += ["", "First errors:", *(f"- {text}" for text in res.first_errors)]
    return "\n".join(lines)


def _codes(codes: Sequence[str]) -> str:
    """``20 × FailedOperation.ImageResolutionExceed`` (every distinct code with its count)."""
    return ", ".join(f"{codes.count(code)} × `{code}`" for code in sorted(set(codes))) or "none"


def render_memory(res: Results) -> list[str]:
    """The memory block: RSS after many requests, decompression bombs, a 100 MB POST."""
    lines = [f"Memory and hostile inputs. The emulator is one process: its {res.workers} image "
             "workers are threads, so its process RSS is the whole server's (there is no "
             "per-worker process to report). RSS = VmRSS, MB.", "",
             "| measurement | requests | result | RSS before | RSS peak | RSS after |",
             "|---|---:|---|---:|---:|---:|"]
    if res.soak is not None:
        soak, result = res.soak, res.soak.result
        done = len(result.latencies)
        lines.append(f"| cached 640x457, c=64, fresh default server | {done} | "
                     f"{done / (result.elapsed or math.nan):.0f} req/s, p50 "
                     f"{percentile(result.latencies, 0.5):.1f} ms, p99 "
                     f"{percentile(result.latencies, 0.99):.1f} ms, {result.errors} errors | "
                     f"{soak.rss_before:.0f} | {soak.rss_peak:.0f} | {soak.rss_after:.0f} |")
    titles = {"bomb-png": f"PNG, IHDR declares {BOMB_PNG_SIDE}x{BOMB_PNG_SIDE}",
              "bomb-jpeg": f"JPEG, SOF0 declares {BOMB_JPEG_SIDE}x{BOMB_JPEG_SIDE}",
              "big-post": f"POST of {BIG_POST_BYTES // 2**20} MB"}
    for name, probe in res.probes.items():
        times = probe.latencies
        lines.append(f"| {titles[name]} | {len(times)} | {_codes(probe.codes)}; p50 "
                     f"{percentile(times, 0.5):.1f} ms, max {max(times, default=math.nan):.1f} "
                     f"ms | {probe.rss_before:.0f} | {probe.rss_peak:.0f} | "
                     f"{probe.rss_after:.0f} |")
    return lines


def memory_checks(res: Results) -> list[str]:
    """Check rows of the memory block."""
    rows = []
    if res.soak is not None:
        after, done = res.soak.rss_after, len(res.soak.result.latencies)
        rows.append(_check(f"RSS after {done:,} cached requests (c=64), per worker process",
                           after, f"{after:.0f} MB (one process, {res.workers} threads; "
                           f"peak {res.soak.rss_peak:.0f} MB)", "≤ 150 MB", after <= 150))
    bombs = [res.probes[name] for name in ("bomb-png", "bomb-jpeg") if name in res.probes]
    if bombs:
        worst = max(max(p.latencies, default=math.nan) for p in bombs)
        grew = max(p.growth for p in bombs)
        ok = all(p.all(EXCEED) for p in bombs)
        shown = "; ".join(f"{p.name[5:].upper()} p50 {percentile(p.latencies, 0.5):.1f} / max "
                          f"{max(p.latencies, default=math.nan):.1f} ms" for p in bombs)
        rows.append(_check(f"decompression bombs refused with `{EXCEED}`", worst,
                           f"{shown}; RSS +{grew:.1f} MB; "
                           f"{'every reply' if ok else 'NOT every reply'} `{EXCEED}`",
                           "< 50 ms", ok and worst < 50))
    big = res.probes.get("big-post")
    if big is not None:
        ok = big.all(TOO_LARGE)
        rows.append(_check(f"{BIG_POST_BYTES // 2**20} MB POST: server RSS change (peak)",
                           big.growth, f"+{big.growth:.1f} MB; reply {_codes(big.codes)} in "
                           f"{max(big.latencies, default=math.nan) / 1000:.2f} s", "< 20 MB",
                           ok and big.growth < 20))
    return rows


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and its waited-for children (servers, load process)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def code_version() -> str:
    """The commit measured, and which files under emulator/ differ from it (git, read-only)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True).stdout
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "emulator"], capture_output=True, text=True, timeout=10,
                               check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    changed = [line[3:] for line in dirty.splitlines() if line[3:].endswith(".py")]
    return f"{head.strip()}" + (f" + uncommitted changes to {', '.join(changed)}"
                                if changed else " (emulator/ unchanged)")


def preamble(title: str) -> list[str]:
    """The first lines of a results file: title, date, machine, code and command line."""
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    return [f"# {title}", "",
            f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
            f"- Machine: {machine()}", f"- Code: {code_version()}", f"- Command: `{command}`"]


def machine() -> str:
    """CPU count, platform and the versions that matter."""
    return (f"nproc {len(os.sched_getaffinity(0))}, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}, "
            f"Pillow {PIL.__version__}")


# --- the run ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """The bounds of one run."""

    requests: int
    duration: float
    floor_runs: int
    start_runs: int
    loop_requests: int
    threads: int | None
    rss_requests: int = RSS_REQUESTS
    rss_duration: float = 60.0
    bomb_requests: int = BOMB_REQUESTS

    @property
    def workers(self) -> int:
        """Image workers of the default emulator rows."""
        return self.threads or NPROC


def measure_start(plan: Plan, res: Results) -> None:
    """Start-to-healthy and idle RSS of fresh default servers."""
    for _ in range(plan.start_runs):
        with Server(emulator_argv(None, plan.threads), "bda-emulator") as server:
            res.starts.append(server.start_seconds)
            time.sleep(0.3)
            res.idle_rss.append(rss_mb(server.pid))


def load_cells(load: LoadProcess, server: Server, scenario: str, sizes: Sequence[Size],
               distinct: bool, plan: Plan, res: Results, workers: str,
               levels: Sequence[int] = LEVELS) -> None:
    """One row per (size, concurrency level) against ``server``."""
    for size in sizes:
        for level in levels:
            spec = CellSpec(server.port, size, distinct, level, plan.requests, plan.duration)
            result, rss, cpu, _ = load.run(spec, server)
            res.rows.append(cell_row(scenario, spec, result, rss, cpu, workers))
            if result.first_error:
                res.first_errors.append(f"{scenario} {label(size)} c={level} {workers}: "
                                        f"{result.first_error}")
            print(res.rows[-1].markdown(), file=sys.stderr, flush=True)


def transport_cells(load: LoadProcess, reply: bytes, plan: Plan, res: Results) -> None:
    """The transport limit with one process, then with as many as the emulator has workers."""
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(reply)
        file.flush()
        argv = [sys.executable, str(Path(__file__).resolve()), "--serve-transport"]
        for count in sorted({1, plan.workers}):

            def command(port: int, count: int = count) -> list[str]:
                return [*argv, str(port), file.name, "--transport-processes", str(count)]

            with Server(command, f"transport server ({count} processes)") as transport:
                load_cells(load, transport, "transport limit", [REF], True, plan, res,
                           processes(count))


def scaling_cells(load: LoadProcess, plan: Plan, res: Results) -> None:
    """Uncached 640x457 at c=16 with ``--workers 1`` and ``--workers N``, in the order
    1, N, N, 1 (each on a fresh server, same warm-up): the machine's speed drifts by 10-20 %
    over a minute on a shared VM, and this order cancels a steady drift from the ratio."""
    counts = [1, plan.workers, plan.workers, 1] if plan.workers > 1 else [1, 1]
    parts: dict[int, list[tuple[CellResult, float, tuple[float, float]]]] = {}
    for count in counts:
        with Server(emulator_argv(0, count), f"bda-emulator --cache-size 0 --workers {count}"
                    ) as server:
            spec = CellSpec(server.port, REF, True, 16, plan.requests, plan.duration, warmup=16)
            result, rss, cpu, _ = load.run(spec, server)
            parts.setdefault(count, []).append((result, rss, cpu))
            if result.first_error:
                res.first_errors.append(f"{SCALING} --workers {count}: {result.first_error}")
    for count, runs in sorted(parts.items()):
        merged = CellResult([ms for r, _, _ in runs for ms in r.latencies], [],
                            sum(r.errors for r, _, _ in runs), sum(r.elapsed for r, _, _ in runs),
                            next((r.first_error for r, _, _ in runs if r.first_error), ""))
        cpu = (sum(c[0] for _, _, c in runs), sum(c[1] for _, _, c in runs))
        spec = CellSpec(0, REF, True, 16, plan.requests, plan.duration)
        res.rows.append(cell_row(SCALING, spec, merged, max(r for _, r, _ in runs), cpu,
                                 threads(count)))
        print(res.rows[-1].markdown(), file=sys.stderr, flush=True)


def memory_cells(load: LoadProcess, image: bytes, plan: Plan, res: Results) -> None:
    """Hostile inputs on a fresh default server, then many cached requests on another."""
    with Server(emulator_argv(None, plan.threads), "bda-emulator") as server:
        fetch_reply(server.port, image)  # one normal request first: lazy imports, pools
        for name, count in (("bomb-png", plan.bomb_requests), ("bomb-jpeg", plan.bomb_requests),
                            ("big-post", 1)):
            res.probes[name] = load.probe(ProbeSpec(server.port, name, count), server)
            print(f"{name}: {res.probes[name]}"[:300], file=sys.stderr, flush=True)
    with Server(emulator_argv(None, plan.threads), "bda-emulator") as server:
        fetch_reply(server.port, image)
        time.sleep(0.2)
        before = rss_mb(server.pid)
        spec = CellSpec(server.port, REF, False, 64, plan.rss_requests, plan.rss_duration)
        result, peak, _, _ = load.run(spec, server)
        after = rss_mb(server.pid)
        res.soak = Soak(result, before, max(peak, after), after)
        if result.first_error:
            res.first_errors.append(f"RSS run: {result.first_error}")
        print(f"RSS after {len(result.latencies)} cached requests: {after:.0f} MB",
              file=sys.stderr, flush=True)


def run(plan: Plan) -> Results:
    """Every measurement, with only one server busy at a time."""
    res = Results(workers=plan.workers)
    images = {size: make_photo(size, seed) for seed, size in enumerate(SIZES, 1)}
    measure_start(plan, res)
    load = LoadProcess(images)
    default = threads(plan.workers)
    try:
        with Server(emulator_argv(0, plan.threads), "bda-emulator --cache-size 0") as server:
            transport_cells(load, fetch_reply(server.port, images[REF]), plan, res)
            for size in SIZES:  # the floor just before its size's cells: same conditions
                times = measure_floor(images[size], head_box(size), plan.floor_runs)
                res.floor[size] = statistics.median(times)
                res.rows.append(Row("compute floor", size, 1, "no", "–", 1000 / res.floor[size],
                                    res.floor[size], percentile(times, 0.99), 0, None))
                load_cells(load, server, "emulator", [size], True, plan, res, default)
            spec = CellSpec(server.port, BIG, True, 16, plan.loop_requests, plan.duration)
            result, _, _, res.health = load.run(spec, server, poll_health=True)
            if result.errors:
                res.first_errors.append(f"event-loop check: {result.first_error}")
        scaling_cells(load, plan, res)
        with Server(emulator_argv(None, plan.threads), "bda-emulator") as server:
            load_cells(load, server, "emulator", SIZES, False, plan, res, default)
        memory_cells(load, images[REF], plan, res)
    finally:
        load.close()
    order = {"compute floor": 0, "transport limit": 1, "emulator": 2, SCALING: 3}
    res.rows.sort(key=lambda r: (order[r.scenario], SIZES.index(r.size), r.cached,
                                 r.concurrency, r.workers))
    return res


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (``--serve-transport`` is internal: the transport server)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: a few requests per cell")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results.md",
                        help="markdown report (default benchmarks/results.md)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per load cell (default 300; --quick 6)")
    parser.add_argument("--duration", type=float, default=None,
                        help="time cap per load cell, seconds (default 8; --quick 1)")
    parser.add_argument("--workers", type=int, default=None,
                        help="passed to bda-emulator serve (default: its own, one per CPU)")
    parser.add_argument("--rss-requests", type=int, default=None,
                        help=f"cached requests before the RSS reading (default {RSS_REQUESTS}; "
                             "--quick 1000)")
    parser.add_argument("--serve-transport", nargs=2, metavar=("PORT", "REPLY"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--transport-processes", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the report, write it with the run's context to ``--out``."""
    args = parse_args(argv)
    if args.serve_transport:
        serve_transport(int(args.serve_transport[0]), args.serve_transport[1],
                        args.transport_processes)
        return 0
    quick = args.quick
    plan = Plan(requests=args.requests or (6 if quick else 300),
                duration=args.duration or (1.0 if quick else 8.0),
                floor_runs=3 if quick else 20, start_runs=1 if quick else 3,
                loop_requests=32 if quick else 64, threads=args.workers,
                rss_requests=args.rss_requests or (1000 if quick else RSS_REQUESTS),
                rss_duration=10.0 if quick else 60.0,
                bomb_requests=3 if quick else BOMB_REQUESTS)
    began = time.perf_counter()
    load_at_start = loadavg()
    busy0, own0 = busy_seconds(), own_seconds()
    res = run(plan)
    wall = time.perf_counter() - began
    others = (busy_seconds() - busy0) - (own_seconds() - own0)
    report = render(res)
    print(report)
    header = [
        *preamble("bda-emulator benchmark"),
        f"- Bounds: each load cell {plan.requests} requests or {plan.duration:g} s, whichever "
        f"first; compute floor median of {plan.floor_runs} runs; options {json.dumps(OPTIONS)}; "
        f"compute threads {plan.threads or f'default ({plan.workers})'}; RSS run "
        f"{plan.rss_requests} requests or {plan.rss_duration:g} s; {plan.bomb_requests} requests "
        "per decompression bomb",
        f"- Conditions: wall time {wall:.0f} s; other processes used "
        f"{max(0.0, others) / wall:.2f} cores on average during the run; load average at start "
        f"{load_at_start}, at end {loadavg()}",
        "- Load: a separate aiohttp client process on the same machine (it competes with the "
        "server for CPU); RSS is the maximum VmRSS sampled during the cell.", "", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(header) + report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
