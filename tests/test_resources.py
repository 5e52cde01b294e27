"""Bounded resources: oversized bodies, slow clients, deep JSON, bounded state."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from emulator.scenarios.counters import MAX_RATE_KEYS
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from emulator.testing import free_port as _free_port
from emulator.testing import wait_healthy
from tests.helpers import check_reply, parse_raw, tc3_headers

MIB = 1024 * 1024


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def external() -> Iterator[tuple[int, int]]:
    """An emulator in its own process, so its RSS is its own: (pid, port)."""
    port = _free_port()
    with subprocess.Popen([sys.executable, "-m", "emulator", "--port", str(port)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        wait_healthy(f"http://127.0.0.1:{port}", alive=proc)
        yield proc.pid, port
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def _post_stream(port: int, head: bytes, chunks: Iterator[bytes]) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    return reply


@pytest.mark.parametrize("chunked", [False, True])
def test_100_mb_post_is_refused_with_bounded_memory(external: tuple[int, int],
                                                    chunked: bool) -> None:
    pid, port = external
    before = _rss_kib(pid)
    block = b"x" * MIB
    host = f"127.0.0.1:{port}"
    if chunked:
        head = (f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        body = (b"%x\r\n%s\r\n" % (len(block), block) for _ in range(100))
        reply = _post_stream(port, head, iter([*body, b"0\r\n\r\n"]))
    else:
        head = (f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {100 * MIB}\r\n\r\n").encode()
        reply = _post_stream(port, head, (block for _ in range(100)))
    status, headers, body = parse_raw(reply)
    check_reply(status, headers, body, "POST")
    assert json.loads(body)["Response"]["Error"]["Code"] == "RequestSizeLimitExceeded"
    grown_mib = (_rss_kib(pid) - before) / 1024
    assert grown_mib < 20, f"RSS grew by {grown_mib:.1f} MiB"


@pytest.fixture
def impatient() -> Iterator[EmulatorServer]:
    with EmulatorServer(Settings(port=0, read_timeout=1.0)) as srv:
        yield srv


def test_slow_request_head_is_cut_off_and_others_are_served(impatient: EmulatorServer) -> None:
    with socket.create_connection((impatient.host, impatient.port), timeout=10) as slow:
        slow.sendall(b"POST / HTTP/1.1\r\n")
        started = time.monotonic()
        # meanwhile an ordinary request is answered at once
        body = b"{}"
        other = socket.create_connection((impatient.host, impatient.port), timeout=10)
        with other:
            headers = tc3_headers(impatient.endpoint, body)
            other.sendall(b"POST / HTTP/1.1\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in headers.items()).encode() +
                b"Content-Length: 2\r\n\r\n" + body)
            assert other.recv(65536).startswith(b"HTTP/1.1 200")
        closed = False
        for _ in range(10):  # one header byte a second
            try:
                slow.sendall(b"X")
                if slow.recv(1, socket.MSG_DONTWAIT) == b"":
                    closed = True
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
            time.sleep(0.5)
        assert closed, "the slow client kept its connection"
        assert time.monotonic() - started < 5


def test_slow_body_gets_request_timeout(impatient: EmulatorServer) -> None:
    with socket.create_connection((impatient.host, impatient.port), timeout=10) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: {impatient.endpoint}\r\nContent-Type: "
                     "application/json\r\nContent-Length: 100\r\n\r\n{".encode())
        reply = b""
        while not reply.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    status, headers, body = parse_raw(reply)
    check_reply(status, headers, body, "POST")
    assert json.loads(body)["Response"]["Error"]["Code"] == "FailedOperation.RequestTimeout"


@pytest.mark.parametrize("body", [b"[" * 200_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                                  b'{"SegmentationOptions": ' + b"[" * 100_000 + b"]" * 100_000
                                  + b"}"])
def test_deep_json_is_refused_without_recursion_errors(server: EmulatorServer,
                                                       body: bytes) -> None:
    import requests

    resp = requests.post(server.url + "/", data=body, timeout=30,
                         headers=tc3_headers(server.endpoint, body))
    check_reply(resp.status_code, {k.lower(): v for k, v in resp.headers.items()},
                resp.content, "POST")
    assert resp.json()["Response"]["Error"]["Code"] == "InvalidParameter"


def test_state_is_bounded_by_count() -> None:
    from emulator.actions.results import Reply, ResultCache
    from emulator.serve.journal import Entry, Journal

    journal = Journal(10)
    for i in range(50):
        journal.record(Entry(time=i, request_id=str(i), code="OK", latency_ms=1))
    assert len(journal.query()) == 10
    cache = ResultCache(3, max_bytes=100)
    for i in range(10):
        cache.put((str(i), ()), Reply(b"x" * 40))
    assert len(cache) == 2  # 3 entries would exceed 100 bytes


def test_rate_limit_windows_are_bounded_by_secret_id_count() -> None:
    import asyncio

    from emulator.scenarios.counters import MemoryCounters
    from emulator.scenarios.rules import build_rule

    rule = build_rule({"effect": {"rate_limit": {"limit": 1}}}, 0, "seed")
    counters = MemoryCounters()

    async def steps() -> None:
        for i in range(MAX_RATE_KEYS + 50):
            await counters.step("uid", 0, rule.plan, f"AKID{i}", 0.0)

    asyncio.run(steps())
    windows = counters.windows("uid", 0)
    assert len(windows) == MAX_RATE_KEYS
    assert "AKID0" not in windows and f"AKID{MAX_RATE_KEYS + 49}" in windows


def test_timed_out_body_closes_the_connection(impatient: EmulatorServer) -> None:
    with socket.create_connection((impatient.host, impatient.port), timeout=10) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: {impatient.endpoint}\r\nContent-Type: "
                     "application/json\r\nContent-Length: 100\r\n\r\n{".encode())
        started = time.monotonic()
        reply = b""
        while data := sock.recv(65536):  # ends when the server closes
            reply += data
        assert time.monotonic() - started < 5
    status, headers, body = parse_raw(reply)
    assert headers.get("connection", "").lower() == "close"
    check_reply(status, headers, body, "POST")


def test_identical_concurrent_requests_are_segmented_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    from concurrent.futures import ThreadPoolExecutor

    from emulator.actions import results
    from emulator.resources import fixture_path
    from tests.helpers import bda, segment_request

    calls: list[int] = []
    original = results.compute_reply

    def counting(*args: object) -> results.Reply:
        calls.append(1)
        time.sleep(0.3)  # long enough for the other requests to arrive meanwhile
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(results, "compute_reply", counting)
    image = base64.b64encode(fixture_path("images/portrait.png").read_bytes()).decode()
    params = {"Image": image, "SegmentationOptions": {"Hair": True}}
    with EmulatorServer(Settings(port=0, workers=2)) as srv, ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(
            lambda _: bda(srv.endpoint).SegmentCustomizedPortraitPic(segment_request(params)),
            range(8)))
    assert len({r.MaskImage for r in replies}) == 1
    assert len(calls) == 1


def test_heap_thresholds_are_set_on_glibc() -> None:
    """With glibc, tune() keeps picture-sized blocks in the arenas (no mmap per request)."""
    import ctypes

    from emulator.serve import heap

    try:
        ctypes.CDLL(None).mallopt  # noqa: B018 - only glibc has it
    except AttributeError:
        pytest.skip("not glibc")
    assert heap.tune() is True
