"""Hostile connections: slow heads on keep-alive connections, connection floods, and request
lines no router can place, all against a real server on 127.0.0.1 with short deadlines."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest

from emulator import settings as settings_module
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from emulator.testing import free_port as _free_port
from emulator.testing import wait_healthy

#: The server's head deadline in these tests (seconds).
DEADLINE = 0.4
HEALTH = b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
API_GET = b"GET /?Action=SegmentPortraitPic HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture(scope="module")
def strict() -> Iterator[EmulatorServer]:
    with EmulatorServer(Settings(port=0, read_timeout=DEADLINE, workers=1)) as srv:
        yield srv


def _connect(server: EmulatorServer, timeout: float = 3.0) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=timeout)


def _response(sock: socket.socket) -> tuple[str, dict[str, str], bytes]:
    """One HTTP response read off ``sock``: status line, headers (lower-case names), body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a whole response head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    size = int(headers.get("content-length", "0"))
    while len(body) < size:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of a response body"
        body += chunk
    assert len(body) == size, f"bytes after the response: {body[size:]!r}"
    return status, headers, body


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes ``sock`` (EOF or reset) within ``seconds``; nothing else may
    arrive meanwhile."""
    sock.settimeout(seconds)
    try:
        data = sock.recv(65536)
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    assert data == b"", f"unexpected bytes: {data!r}"
    return True


def _envelope_code(headers: dict[str, str], body: bytes) -> str:
    assert headers["content-type"] == "application/json"
    reply = json.loads(body)["Response"]
    assert len(reply["RequestId"]) == 36 and reply["Error"]["Message"]
    return str(reply["Error"]["Code"])


# ---- 1. every request head has a deadline, not only the first ------------------------------

@pytest.mark.parametrize("first", [HEALTH, API_GET], ids=["admin", "api"])
def test_half_a_second_head_on_a_keep_alive_connection_is_cut_off(
        strict: EmulatorServer, first: bytes) -> None:
    with _connect(strict) as sock:
        sock.sendall(first + b"GET /_emulator/health HTTP/1.1\r\nHost: 12")
        status, headers, _ = _response(sock)
        assert status.endswith(" 200 OK") and headers.get("connection") != "close"
        replied = time.monotonic()
        assert _closed_within(sock, 3.0), "the second, unfinished head held the connection"
        assert time.monotonic() - replied < DEADLINE + 1.0


def test_a_trickled_head_does_not_extend_the_deadline(strict: EmulatorServer) -> None:
    with _connect(strict) as sock:
        sock.sendall(HEALTH)
        _response(sock)
        replied = time.monotonic()
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\n")
        closed = False
        for i in range(15):  # a header line every 0.1 s for up to 1.5 s: 4x the deadline
            time.sleep(0.1)
            try:
                sock.sendall(b"X-Trickle-%d: 1\r\n" % i)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        assert closed or _closed_within(sock, 0.1)
        assert time.monotonic() - replied < DEADLINE + 1.0


def test_keep_alive_requests_within_the_deadline_are_served(strict: EmulatorServer) -> None:
    with _connect(strict) as sock:
        for _ in range(3):  # the deadline is per head: three heads, each in time, 0.75 s total
            time.sleep(DEADLINE * 0.6)
            sock.sendall(HEALTH)
            status, _, body = _response(sock)
            assert status.endswith(" 200 OK") and json.loads(body)["status"] == "ok"


# ---- 1b. connections are counted and bounded ----------------------------------------------

def test_connections_over_the_limit_are_closed_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bda_emulator.edge")
    server = EmulatorServer(Settings(port=0, read_timeout=DEADLINE, max_connections=5,
                                     workers=1)).start()
    try:
        idle = [_connect(server) for _ in range(5)]
        time.sleep(0.1)  # let the server accept all five
        refused = [_connect(server) for _ in range(3)]
        for sock in refused:
            assert _closed_within(sock, 2.0), "a connection over the limit was kept"
            sock.close()
        during = [r.getMessage() for r in caplog.records if "max-connections" in r.getMessage()]
        assert [m[:21] for m in during] == ["refused 1 connection("]

        idle.pop().close()
        time.sleep(0.1)
        with _connect(server) as sock:  # one slot is free again: served
            sock.sendall(HEALTH)
            assert _response(sock)[0].endswith(" 200 OK")

        for sock in idle:  # the idle ones run out of time and free their slots
            assert _closed_within(sock, DEADLINE + 1.0)
            sock.close()
        time.sleep(0.1)
        socks = [_connect(server) for _ in range(5)]
        for sock in socks:
            sock.sendall(HEALTH)
            assert _response(sock)[0].endswith(" 200 OK")
            sock.close()
    finally:
        server.stop()
    warnings = [r.getMessage() for r in caplog.records if "max-connections" in r.getMessage()]
    assert len(warnings) == 2 and warnings[1].startswith("refused 2 connection(s)"), warnings


def test_accept_failures_for_want_of_descriptors_are_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    """asyncio reports each EMFILE from accept() to the loop's exception handler, with a
    traceback; the edge folds them into one throttled warning, and passes other reports on."""
    caplog.set_level(logging.WARNING)
    with EmulatorServer(Settings(port=0, read_timeout=DEADLINE)) as server:
        loop = server._loop
        emfile = {"message": "socket.accept() out of system resource",
                  "exception": OSError(24, "Too many open files")}
        for _ in range(20):
            loop.call_soon_threadsafe(loop.call_exception_handler, emfile)
        loop.call_soon_threadsafe(loop.call_exception_handler, {"message": "something else"})
        time.sleep(0.2)
        with _connect(server) as sock:  # still serving
            sock.sendall(HEALTH)
            assert _response(sock)[0].endswith(" 200 OK")
        during = [r.getMessage() for r in caplog.records]
    assert [m[:31] for m in during] == ["could not accept 1 connection(s", "something else"]
    assert not any(r.exc_info for r in caplog.records if r.name.startswith("bda_emulator"))
    after = [r.getMessage() for r in caplog.records][len(during):]
    assert len(after) == 1 and after[0].startswith("could not accept 19 connection(s)"), after


#: The emulator's CLI in a process whose open-file soft limit is argv[1].
_LIMITED_CLI = ("import resource, sys; hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; "
                "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), hard)); "
                "from emulator.cli import main; sys.exit(main(sys.argv[2:]))")


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is POSIX")
@pytest.mark.parametrize(("soft", "flags", "size", "refused", "failed"), [
    (300, [], 150, True, False),  # the derived limit (300 - 192 = 108) refuses, accept never fails
    (48, ["--max-connections", "500"], 60, False, True),  # forced past the descriptors
], ids=["derived-limit", "out-of-descriptors"])
def test_a_connection_burst_never_floods_the_log(soft: int, flags: list[str], size: int,
                                                 refused: bool, failed: bool) -> None:
    port = _free_port()
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen([sys.executable, "-c", _LIMITED_CLI, str(soft), "--port",
                                 str(port), "--read-timeout", "0.5", *flags],
                                stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", alive=proc)
            burst = [socket.create_connection(("127.0.0.1", port), timeout=3)
                     for _ in range(size)]
            time.sleep(0.3)
            for sock in burst:
                sock.close()
            wait_healthy(f"http://127.0.0.1:{port}", 5, alive=proc)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        stderr.seek(0)
        log = stderr.read().decode()
    assert "Traceback" not in log and "out of system resource" not in log, log[-2000:]
    assert ("refused " in log) is refused and ("could not accept" in log) is failed, log
    assert len(log.splitlines()) <= 4, log  # one warning now, one for the rest at shutdown


@pytest.mark.parametrize(("soft", "expected"), [
    (1024, 832), (4096, 1024), (200, 16), (settings_module.CONNECTIONS_CAP * 1000, 1024)])
def test_default_max_connections_leaves_headroom_below_the_open_file_limit(
        monkeypatch: pytest.MonkeyPatch, soft: int, expected: int) -> None:
    import resource
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (soft, soft))
    assert Settings().connection_limit == expected
    assert Settings(max_connections=7).connection_limit == 7


# ---- 2. every readable request line gets the envelope -------------------------------------

@pytest.mark.parametrize(("line", "code"), [
    (b"OPTIONS * HTTP/1.1", "UnsupportedProtocol"),  # parsed, but no route starts with `/`
    (b"PATCH * HTTP/1.1", "InvalidParameter"),  # `*` with another method: a parse error
    (b"GET * HTTP/1.1", "InvalidParameter"),
])
def test_asterisk_form_target_gets_the_envelope(strict: EmulatorServer, line: bytes,
                                                code: str) -> None:
    with _connect(strict) as sock:
        sock.sendall(line + b"\r\nHost: 127.0.0.1\r\n\r\n")
        status, headers, body = _response(sock)
    assert status.split(" ", 1)[1] == "200 OK"  # HTTP/1.0 when the parser refused the line
    assert _envelope_code(headers, body) == code


def test_connect_gets_the_envelope_with_405_and_close(strict: EmulatorServer) -> None:
    """A 2xx to CONNECT means "tunnel open" and may carry no body: 405 is the one non-200."""
    with _connect(strict) as sock:
        sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        status, headers, body = _response(sock)
        assert status == "HTTP/1.1 405 Method Not Allowed"
        assert headers["allow"] == "GET, POST" and headers["connection"] == "close"
        assert _envelope_code(headers, body) == "UnsupportedProtocol"
        assert _closed_within(sock, 2.0)


@pytest.mark.parametrize("garbage", [b"GARBAGE\r\n\r\n",
                                     b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"],
                         ids=["request-line", "header"])
def test_garbage_then_a_pipelined_request_gets_one_reply_saying_close(
        strict: EmulatorServer, garbage: bytes) -> None:
    """After a parse error the stream cannot be framed: the garbage gets a complete envelope
    that says ``Connection: close``, so the client knows the request behind it was not read
    and must be sent again; then the connection closes, with nothing more on it."""
    with _connect(strict) as sock:
        sock.sendall(garbage + HEALTH)
        status, headers, body = _response(sock)
        assert status.split(" ", 1)[1] == "200 OK"
        assert headers["connection"] == "close"
        assert _envelope_code(headers, body) in ("UnsupportedProtocol", "InvalidParameter")
        assert _closed_within(sock, 2.0)
