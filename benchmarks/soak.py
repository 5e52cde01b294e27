"""Soak test of bda-emulator: ``make soak`` (or ``python benchmarks/soak.py [--quick]``).

``bda-emulator serve`` runs as a subprocess with its defaults (one image worker per CPU, result
cache 256, journal 1000). A separate load process sends ``--requests`` TC3-signed requests
(default 10,000; fresh timestamp each) at concurrency 64, in a seeded mix:

* successes — one repeated 300x400 picture (a cache hit after the first), and a rotating set of
  50 distinct small pictures (120x160 … 240x320), each sent with a per-request JPEG comment so
  every one is a cache miss that is segmented, and the result cache churns at its bound;
* natural errors — a wrong SecretKey (``AuthFailure.SignatureFailure``), an unknown action
  (``InvalidAction``), a GIF (``FailedOperation.ImageNotSupported``), a uniform picture
  (``InvalidParameterValue.NoFaceInPhoto``), no ``X-TC-Region`` (``MissingParameter``);
* injected faults — a scenario loaded with ``PUT /_emulator/scenarios`` before the run: seeded
  rules resetting 5 % of the requests, answering 5 % with an nginx 503 page and 5 % with
  ``InternalError`` (with a message of its own, so an emulator bug's InternalError is not
  mistaken for an injected one). The rules are tried in order, so their probabilities are
  0.05, 0.05/0.95 and 0.05/0.90: about 5 % of all requests each.

Every reply is classified: *success*, *expected natural error* (the code its input must give),
*injected fault* (a reset connection, the 503 page, the injected InternalError) or *UNEXPECTED*
(anything else: a non-200 that was not injected, another Content-Type than
``application/json``, a reply without a RequestId, a wrong code, a failed success). After the
run the client's counts are checked against the emulator's own: the journal
(``GET /_emulator/requests``: ``recorded`` = requests sent, ``dropped`` = recorded − kept, and
every kept entry's RequestId and code as the client saw them), the coverage counters
(``GET /_emulator/coverage``: every outcome, transport faults included) and the scenario's rule
hits (``GET /_emulator/scenarios``).

The server's RSS is read at the start, then every 10 % of the replies; growth after warm-up is
end / after-the-first-10 %. Exit status 1 when any reply was UNEXPECTED, the journal disagrees,
the run did not finish within ``--duration``, or (with ``--requests`` ≥ 5000) RSS grew 10 % or
more after warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import http.client
import io
import itertools
import json
import math
import multiprocessing
import os
import random
import shlex
import sys
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from emulator.wire import auth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (
    CONTENT_TYPE,
    HEALTH,
    SECRET_ID,
    Server,
    busy_seconds,
    emulator_argv,
    loadavg,
    make_photo,
    own_seconds,
    percentile,
    preamble,
    request_body,
    rss_mb,
    signed_headers,
)

CONCURRENCY = 64
REQUESTS = 10_000
QUICK_REQUESTS = 600
GROWTH_MIN_REQUESTS = 5_000  # below this, RSS growth is reported but not judged
GROWTH_LIMIT = 10.0  # % after warm-up
WARMUP = 0.10  # share of the requests that is warm-up
CLIENT_TIMEOUT = 60.0
WRONG_KEY = "not-the-emulator-secret-key-00000"
INJECTED_MESSAGE = "soak: injected InternalError"
GATEWAY_TITLE = b"503 Service Temporarily Unavailable"
FRESH_SIZES = ((120, 160), (160, 200), (200, 260), (240, 320), (180, 240))
FRESH_PICTURES = 50

#: kind -> (weight in %, the code its reply must carry; None = a success)
KINDS: dict[str, tuple[int, str | None]] = {
    "ok-cached": (40, None),
    "ok-fresh": (35, None),
    "bad-signature": (5, "AuthFailure.SignatureFailure"),
    "unknown-action": (5, "InvalidAction"),
    "gif": (5, "FailedOperation.ImageNotSupported"),
    "uniform": (5, "InvalidParameterValue.NoFaceInPhoto"),
    "no-region": (5, "MissingParameter"),
}
DESCRIBE = {
    "ok-cached": "one repeated 300x400 picture (cache hit)",
    "ok-fresh": f"{FRESH_PICTURES} rotating pictures 120x160…240x320, a per-request JPEG "
                "comment: always a cache miss",
    "bad-signature": "signed with a wrong SecretKey",
    "unknown-action": "`X-TC-Action: DetectBody`",
    "gif": "a 64x64 GIF",
    "uniform": "a uniform grey 200x200 JPEG",
    "no-region": "no `X-TC-Region` header",
}

SUCCESS, NATURAL, INJECTED, UNEXPECTED = ("success", "expected natural error",
                                          "injected fault", "UNEXPECTED")
CLASSES = (SUCCESS, NATURAL, INJECTED, UNEXPECTED)
RESET, GATEWAY, INTERNAL = "transport.reset", "transport.gateway_503", "InternalError"

SCENARIO: dict[str, Any] = {
    "name": "soak/faults",
    "description": "Seeded faults of the soak test: about 5 % each of connection resets, "
                   "nginx 503 pages and InternalError, on any request.",
    "rules": [
        {"name": "reset", "probability": 0.05, "seed": 1, "effect": "reset"},
        {"name": "gateway 503", "probability": 0.05 / 0.95, "seed": 2,
         "effect": {"gateway": {"status": 503}}},
        {"name": "InternalError", "probability": 0.05 / 0.90, "seed": 3,
         "effect": {"error": {"code": INTERNAL, "message": INJECTED_MESSAGE}}},
    ],
}
RULE_LABELS = {"reset": RESET, "gateway 503": GATEWAY, "InternalError": INTERNAL}


# --- inputs (built in the load process) ---------------------------------------------------------

def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


@dataclass
class Inputs:
    """Request bodies (or what they are built from) for every kind."""

    cached: bytes
    fresh_rest: list[bytes]  # base64 of each rotating picture after its SOI marker
    gif: bytes
    uniform: bytes
    serial: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    @classmethod
    def build(cls) -> Inputs:
        fresh = [make_photo(FRESH_SIZES[i % len(FRESH_SIZES)], 1000 + i)
                 for i in range(FRESH_PICTURES)]
        gif = _encode(Image.new("P", (64, 64), 3), "GIF")
        uniform = _encode(Image.new("RGB", (200, 200), (128, 128, 128)), "JPEG")
        return cls(cached=request_body(base64.b64encode(make_photo((300, 400), 7))),
                   fresh_rest=[base64.b64encode(jpeg[2:]) for jpeg in fresh],
                   gif=request_body(base64.b64encode(gif)),
                   uniform=request_body(base64.b64encode(uniform)))

    def body(self, kind: str, index: int) -> bytes:
        if kind == "ok-fresh":  # an 18-byte COM segment after SOI: same pixels, new sha256
            prefix = b"\xff\xd8\xff\xfe\x00\x0e" + b"%012d" % next(self.serial)
            return request_body(base64.b64encode(prefix) + self.fresh_rest[index % FRESH_PICTURES])
        if kind == "gif":
            return self.gif
        if kind == "uniform":
            return self.uniform
        return self.cached


def headers_for(kind: str, host: str, digest: str, timestamp: int) -> dict[str, str]:
    """The signed headers of one request of ``kind`` (some deliberately wrong)."""
    headers = signed_headers(host, digest, timestamp)
    if kind == "bad-signature":
        date = auth.utc_date(timestamp)
        canonical = auth.tc3_canonical_request(
            "POST", "", [("content-type", CONTENT_TYPE), ("host", host)], digest)
        sts = auth.tc3_string_to_sign(str(timestamp), date, "bda", canonical)
        signature = auth.tc3_signature(WRONG_KEY, date, "bda", sts)
        headers["Authorization"] = (f"TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/bda/"
                                    f"tc3_request, SignedHeaders=content-type;host, "
                                    f"Signature={signature}")
    elif kind == "unknown-action":
        headers["X-TC-Action"] = "DetectBody"
    elif kind == "no-region":
        del headers["X-TC-Region"]
    return headers


# --- classification -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Reply:
    """One request as the client saw it."""

    kind: str
    outcome: str  # "OK", an error code, transport.reset / transport.gateway_503, or a problem
    klass: str
    latency_ms: float
    request_id: str | None = None
    detail: str = ""


def classify(kind: str, status: int, content_type: str, body: bytes) -> tuple[str, str,
                                                                               str | None, str]:
    """(outcome, class, RequestId, detail) of an HTTP reply to a request of ``kind``."""
    if status == 503 and content_type.startswith("text/html") and GATEWAY_TITLE in body:
        return GATEWAY, INJECTED, None, ""
    if status != 200:
        return f"HTTP {status}", UNEXPECTED, None, repr(body[:200])
    if content_type != CONTENT_TYPE:
        return f"Content-Type {content_type}", UNEXPECTED, None, repr(body[:200])
    try:
        response = json.loads(body)["Response"]
        assert isinstance(response, dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        return "not a Tencent reply", UNEXPECTED, None, repr(body[:200])
    request_id = response.get("RequestId")
    if not isinstance(request_id, str) or not request_id:
        return "no RequestId", UNEXPECTED, None, repr(body[:200])
    error = response.get("Error")
    expected = KINDS[kind][1]
    if isinstance(error, dict):
        code, message = str(error.get("Code")), str(error.get("Message"))
        if code == INTERNAL and message == INJECTED_MESSAGE:
            return code, INJECTED, request_id, ""
        if code == expected:
            return code, NATURAL, request_id, ""
        return code, UNEXPECTED, request_id, (f"{kind} expected {expected or 'success'}: "
                                              f"{message[:200]}")
    if expected is None and all(isinstance(response.get(name), str) and response[name]
                                for name in ("PortraitImage", "MaskImage")) \
            and isinstance(response.get("ImageRects"), list) and response["ImageRects"]:
        return "OK", SUCCESS, request_id, ""
    return "OK", UNEXPECTED, request_id, f"{kind} expected {expected or 'a full success'}"


# --- load process -------------------------------------------------------------------------------

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
    connector = aiohttp.TCPConnector(limit=spec.concurrency)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    total = len(spec.schedule)
    marks = {math.ceil(total * tenth / 10): tenth for tenth in range(1, 11)}
    replies: list[Reply] = []
    sent = 0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def ping() -> None:
            async with session.get(f"http://{host}{HEALTH}") as resp:
                await resp.read()

        await asyncio.gather(*(ping() for _ in range(spec.concurrency)))
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
    """The load process: one :class:`LoadSpec`, then exit."""
    spec = conn.recv()
    try:
        result = asyncio.run(run_load(spec, conn))
    except Exception:
        conn.send(("error", traceback.format_exc()))
    else:
        conn.send(("done", result))


# --- the admin API ------------------------------------------------------------------------------

def admin(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    """One admin call: (HTTP status, parsed JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, f"/_emulator{path}", body,
                     {"Content-Type": "application/json"} if body is not None else {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@dataclass
class Journal:
    """What the emulator says it served, and whether it matches the client."""

    recorded: int
    dropped: int
    kept: int
    size: int
    matched: int  # kept entries whose RequestId and code the client saw
    mismatched: list[str]
    coverage: Counter[str]
    coverage_requests: int
    rule_hits: dict[str, int]
    problems: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return not self.problems


def read_journal(port: int, replies: Sequence[Reply], sent: int) -> Journal:
    """Fetch the journal, coverage and rule hits; compare them with the client's view."""
    _, requests = admin(port, "GET", "/requests")
    _, cover = admin(port, "GET", "/coverage")
    _, scenarios = admin(port, "GET", "/scenarios")
    seen = {r.request_id: r.outcome for r in replies if r.request_id}
    matched, mismatched = 0, []
    for entry in requests["requests"]:
        if entry["code"].startswith("transport."):
            continue  # the client never saw this RequestId: no Tencent reply was sent
        code = seen.get(entry["request_id"])
        if code == entry["code"]:
            matched += 1
        else:
            mismatched.append(f"{entry['request_id']}: journal {entry['code']}, client {code}")
    coverage: Counter[str] = Counter({"OK": cover["ok"], **cover["returned"],
                                      **cover["transport"]})
    coverage = +coverage
    rules = {rule["name"]: rule["hits"] for s in scenarios["scenarios"]
             if s["name"] == SCENARIO["name"] for rule in s["rules"]}
    journal = Journal(requests["recorded"], requests["dropped"], requests["count"],
                      requests["size"], matched, mismatched, coverage, cover["requests"], rules)
    client = Counter(r.outcome for r in replies)
    injected = Counter(r.outcome for r in replies if r.klass == INJECTED)
    checks = [
        (journal.recorded == sent, f"journal recorded {journal.recorded}, client sent {sent}"),
        (journal.kept == min(journal.recorded, journal.size),
         f"journal keeps {journal.kept} of {journal.recorded} (size {journal.size})"),
        (journal.dropped == journal.recorded - journal.kept,
         f"journal dropped {journal.dropped}, expected {journal.recorded - journal.kept}"),
        (not mismatched, f"{len(mismatched)} journal entries disagree with the client"),
        (journal.coverage_requests == sent,
         f"coverage counted {journal.coverage_requests} requests, client sent {sent}"),
        (coverage == client, "coverage counts differ from the client's: "
                             f"{dict(coverage - client)} / {dict(client - coverage)}"),
        (all(rules.get(name) == injected[label] for name, label in RULE_LABELS.items()),
         f"scenario rule hits {rules}, client saw {dict(injected)}"),
    ]
    journal.problems = [text for ok, text in checks if not ok]
    return journal


# --- the run ------------------------------------------------------------------------------------

@dataclass
class Run:
    """Everything the report needs."""

    requests: int
    schedule: list[str]
    replies: list[Reply]
    sent: int
    elapsed: float
    rss: list[tuple[str, int, float]]  # (point, replies so far, MB)
    rss_peak: float
    journal: Journal
    workers: str
    wall: float = 0.0
    others: float = 0.0
    load_at_start: str = ""

    @property
    def growth(self) -> float:
        """RSS growth from the end of warm-up to the end, %."""
        warm = next((mb for _, done, mb in self.rss if done >= WARMUP * self.requests),
                    self.rss[-1][2])
        return (self.rss[-1][2] - warm) / warm * 100

    @property
    def judged(self) -> bool:
        return self.requests >= GROWTH_MIN_REQUESTS

    def count(self, klass: str) -> int:
        return sum(r.klass == klass for r in self.replies)

    @property
    def complete(self) -> bool:
        return len(self.replies) == self.requests

    @property
    def failed(self) -> list[str]:
        reasons = []
        if self.count(UNEXPECTED):
            reasons.append(f"{self.count(UNEXPECTED)} UNEXPECTED replies")
        if not self.journal.agrees:
            reasons.append("the journal disagrees with the client")
        if not self.complete:
            reasons.append(f"only {len(self.replies)} of {self.requests} requests within the "
                           "time cap")
        if self.judged and self.growth >= GROWTH_LIMIT:
            reasons.append(f"RSS grew {self.growth:.1f} % after warm-up")
        return reasons


def soak(requests: int, duration: float, seed: int, server_args: Sequence[str]) -> Run:
    """Start the emulator, load the fault scenario, run the load, read RSS and the journal."""
    rng = random.Random(seed)
    names = list(KINDS)
    schedule = rng.choices(names, weights=[KINDS[n][0] for n in names], k=requests)
    base = emulator_argv(None, None)
    with Server(lambda port: [*base(port), *server_args], "bda-emulator") as server:
        status, _ = admin(server.port, "POST", "/reset")
        assert status == 200, status
        status, created = admin(server.port, "PUT", "/scenarios", json.dumps(SCENARIO).encode())
        assert status in (200, 201), created
        ctx = multiprocessing.get_context("spawn")
        conn, child = ctx.Pipe()
        proc = ctx.Process(target=load_worker, args=(child,), daemon=True)
        proc.start()
        child.close()
        conn.send(LoadSpec(server.port, schedule, CONCURRENCY, duration))
        rss: list[tuple[str, int, float]] = []
        peak = 0.0
        hard_stop = time.monotonic() + duration + CLIENT_TIMEOUT + 60
        try:
            while True:
                if time.monotonic() > hard_stop:
                    raise RuntimeError("the load process did not finish in time")
                if conn.poll(0.2):
                    kind, payload = conn.recv()
                    if kind == "started":
                        rss.append(("start", 0, rss_mb(server.pid)))
                    elif kind == "progress":
                        tenth = round(payload * 10 / requests)
                        name = {1: "10 % (after warm-up)", 5: "50 % (middle)",
                                10: "100 % (end)"}.get(tenth, f"{tenth * 10} %")
                        rss.append((name, payload, rss_mb(server.pid)))
                    elif kind == "error":
                        raise RuntimeError(f"load process failed:\n{payload}")
                    else:
                        result: LoadResult = payload
                        break
                elif not proc.is_alive():
                    raise RuntimeError("load process died")
                peak = max(peak, rss_mb(server.pid))
        finally:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        if not rss or rss[-1][1] != len(result.replies):  # stopped by the time cap
            rss.append(("end (time cap)", len(result.replies), rss_mb(server.pid)))
        peak = max([peak, *(mb for _, _, mb in rss)])
        journal = read_journal(server.port, result.replies, result.sent)
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--workers")
    workers = flags.parse_known_args(list(server_args))[0].workers
    return Run(requests, schedule, result.replies, result.sent, result.elapsed, rss, peak,
               journal, workers or f"default ({os.cpu_count()})")


# --- report -------------------------------------------------------------------------------------

def _pct(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f} %" if whole else "–"


def _check(name: str, shown: str, target: str, ok: bool | None) -> str:
    verdict = "n/a" if ok is None else ("yes" if ok else "no")
    return f"| {name} | {shown} | {target} | {verdict} |"


def render(run: Run) -> str:
    """The report body, markdown."""
    total = len(run.replies)
    lines = ["## Mix", "", "| kind | weight | sent | expected reply (unless a fault is injected) |",
             "|---|---:|---:|---|"]
    planned = Counter(run.schedule[:run.sent])
    for kind, (weight, code) in KINDS.items():
        lines.append(f"| {kind}: {DESCRIBE[kind]} | {weight} % | {planned[kind]} | "
                     f"{f'`{code}`' if code else 'success'} |")
    lines += ["", "## Replies", "", "| class | replies | share |", "|---|---:|---:|"]
    lines += [f"| {klass} | {run.count(klass)} | {_pct(run.count(klass), total)} |"
              for klass in CLASSES]
    lines += ["", f"Throughput {total / run.elapsed:.0f} replies/s over {run.elapsed:.1f} s "
              f"(concurrency {CONCURRENCY}).", "", "Latency (ms, from sending to the last byte "
              "of the reply; a reset ends when the client sees it):", "",
              "| class | replies | p50 | p99 | max |", "|---|---:|---:|---:|---:|"]
    for klass in (*CLASSES, "all"):
        times = [r.latency_ms for r in run.replies if klass in ("all", r.klass)]
        if times:
            lines.append(f"| {klass} | {len(times)} | {percentile(times, 0.5):.1f} | "
                         f"{percentile(times, 0.99):.1f} | {max(times):.1f} |")
    client = Counter(r.outcome for r in run.replies)
    klass_of = {r.outcome: r.klass for r in run.replies}
    lines += ["", "## Client and emulator agree", "", "Per outcome: the client's count and the "
              "emulator's coverage counters (`GET /_emulator/coverage`).", "",
              "| outcome | class | client | emulator | agree |", "|---|---|---:|---:|---|"]
    for outcome in sorted(set(client) | set(run.journal.coverage)):
        mine, theirs = client[outcome], run.journal.coverage[outcome]
        lines.append(f"| `{outcome}` | {klass_of.get(outcome, '–')} | {mine} | {theirs} | "
                     f"{'yes' if mine == theirs else 'NO'} |")
    j = run.journal
    hits = ", ".join(f"{name} {count}" for name, count in j.rule_hits.items())
    lines += ["", f"Journal (`GET /_emulator/requests`): recorded {j.recorded} (client sent "
              f"{run.sent}), kept {j.kept} (size {j.size}), dropped {j.dropped}; {j.matched} kept "
              f"entries match a reply the client saw by RequestId and code, "
              f"{len(j.mismatched)} do not (entries of transport faults have no reply to match). "
              f"Coverage counted {j.coverage_requests} requests. Scenario rule hits: {hits}."]
    if j.problems:
        lines += ["", "Disagreements:", *(f"- {text}" for text in j.problems),
                  *(f"- {text}" for text in j.mismatched[:5])]
    lines += ["", "## Server memory", "", "VmRSS of the `bda-emulator serve` process (one "
              f"process; its image workers are threads), sampled as the replies arrived; peak "
              f"{run.rss_peak:.0f} MB.", "", "| point | replies | RSS MB |", "|---|---:|---:|"]
    lines += [f"| {point} | {done} | {mb:.1f} |" for point, done, mb in run.rss]
    growth = run.growth
    unexpected = run.count(UNEXPECTED)
    lines += ["", "## Checks", "", "| check | value | target | met |", "|---|---|---|---|",
              _check("UNEXPECTED replies", str(unexpected), "0", unexpected == 0),
              _check("RSS growth after warm-up (end / after the first 10 %)",
                     f"{growth:+.1f} %" + ("" if run.judged else
                                           f" (not judged below {GROWTH_MIN_REQUESTS} requests)"),
                     f"< {GROWTH_LIMIT:g} %", (growth < GROWTH_LIMIT) if run.judged else None),
              _check("journal agrees with the client", "yes" if j.agrees else "no", "yes",
                     j.agrees),
              _check("requests completed within the time cap", f"{total} of {run.requests}",
                     "all", run.complete)]
    odd = [r for r in run.replies if r.klass == UNEXPECTED]
    if odd:
        lines += ["", "First UNEXPECTED replies:",
                  *(f"- {r.kind}: {r.outcome} {r.detail}" for r in odd[:10])]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=None,
                        help=f"requests to send (default {REQUESTS}; --quick {QUICK_REQUESTS})")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_REQUESTS} requests")
    parser.add_argument("--duration", type=float, default=None,
                        help="time cap of the load, seconds (default 300; --quick 60)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the request mix")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "soak-results.md",
                        help="markdown report (default benchmarks/soak-results.md)")
    parser.add_argument("--summary", type=Path, default=None,
                        help="also write the figures as JSON here (for tests)")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for bda-emulator serve (repeatable), e.g. "
                             "--server-arg=--workers --server-arg=1")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    requests = args.requests or (QUICK_REQUESTS if args.quick else REQUESTS)
    duration = args.duration or (60.0 if args.quick else 300.0)
    began = time.perf_counter()
    load_at_start = loadavg()
    busy0, own0 = busy_seconds(), own_seconds()
    run = soak(requests, duration, args.seed, args.server_arg)
    run.wall = time.perf_counter() - began
    run.others = max(0.0, (busy_seconds() - busy0) - (own_seconds() - own0)) / run.wall
    report = render(run)
    failed = run.failed
    verdict = ("**FAILED**: " + "; ".join(failed)) if failed else "**PASSED**"
    header = [
        *preamble("bda-emulator soak"),
        f"- Server: `bda-emulator serve` {shlex.join(args.server_arg) or '(defaults)'}; image "
        f"workers {run.workers}; fault scenario `{SCENARIO['name']}` loaded with "
        "`PUT /_emulator/scenarios`",
        f"- Load: {requests} TC3-signed requests (seed {args.seed}) at concurrency "
        f"{CONCURRENCY} from a separate aiohttp process, time cap {duration:g} s",
        f"- Conditions: wall time {run.wall:.0f} s; other processes used {run.others:.2f} cores "
        f"on average; load average at start {load_at_start}, at end {loadavg()}",
        f"- Verdict: {verdict}", "", ""]
    print(report)
    print(f"\n{verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(header) + report + "\n", encoding="utf-8")
    if args.summary is not None:
        summary = {
            "requests": requests, "sent": run.sent, "replies": len(run.replies),
            "classes": {klass: run.count(klass) for klass in CLASSES},
            "unexpected": run.count(UNEXPECTED), "journal_agrees": run.journal.agrees,
            "journal_problems": run.journal.problems,
            "journal": {"recorded": run.journal.recorded, "dropped": run.journal.dropped,
                        "kept": run.journal.kept, "matched": run.journal.matched},
            "rss": [{"point": p, "replies": n, "mb": mb} for p, n, mb in run.rss],
            "growth_pct": run.growth, "growth_judged": run.judged,
            "p50_ms": percentile([r.latency_ms for r in run.replies], 0.5),
            "p99_ms": percentile([r.latency_ms for r in run.replies], 0.99),
            "failed": failed,
            "first_unexpected": [asdict(r) for r in run.replies
                                 if r.klass == UNEXPECTED][:10],
        }
        args.summary.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
