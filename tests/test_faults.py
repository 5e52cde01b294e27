"""Transport faults as a raw socket sees them: RST, FIN, short bodies, broken JSON, pages, hangs.

Each fault is applied by a tiny aiohttp app (no emulator) to a request read in full, and
observed with ``asyncio.open_connection`` so nothing between the fault and the bytes hides it.
"""

from __future__ import annotations

import asyncio
import json
import random

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from emulator.scenarios import effects
from emulator.scenarios.effects import Delay, ErrorEffect, RateLimit, TransportFault
from emulator.serve import transport

REAL_BODY = b'{"Response":{"ImageRects":[],"RequestId":"00000000-0000-4000-8000-000000000000"}}'
DONE = web.AppKey("done", asyncio.Queue[float])


async def _real() -> web.Response:
    return web.Response(body=REAL_BODY, headers={"Content-Type": "application/json"})


async def _handler(request: web.Request) -> web.StreamResponse:
    await request.read()
    kind = request.match_info["kind"]
    fault = TransportFault(kind, status=int(request.query.get("status", 502)),  # type: ignore[arg-type]
                           max_seconds=float(request.query.get("max", 120)))
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        return await transport.apply(fault, request, _real)
    finally:
        request.app[DONE].put_nowait(loop.time() - started)


@pytest_asyncio.fixture
async def fault_server(aiohttp_server: AiohttpServer) -> TestServer:
    app = web.Application()
    app[DONE] = asyncio.Queue()
    app.router.add_post("/{kind}", _handler)
    return await aiohttp_server(app, host="127.0.0.1")


async def _exchange(target: TestServer, path: str, *, read_timeout: float = 5.0
                    ) -> tuple[bytes, BaseException | None]:
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Connection: close\r\nContent-Length: 2\r\n\r\n{}".encode())
    await writer.drain()
    data, error = b"", None
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), read_timeout):
            data += chunk
    except (ConnectionResetError, TimeoutError) as exc:
        error = exc
    writer.close()
    return data, error


def _split(reply: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status, headers, body


@pytest.mark.asyncio
async def test_reset_sends_rst(fault_server: TestServer) -> None:
    data, error = await _exchange(fault_server, "/reset")
    assert data == b"" and isinstance(error, ConnectionResetError)


@pytest.mark.asyncio
async def test_close_sends_fin_without_a_byte(fault_server: TestServer) -> None:
    assert await _exchange(fault_server, "/close") == (b"", None)


@pytest.mark.asyncio
async def test_truncated_promises_more_than_it_sends(fault_server: TestServer) -> None:
    data, error = await _exchange(fault_server, "/truncated")
    status, headers, body = _split(data)
    assert error is None and status == "HTTP/1.1 200 OK"
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(REAL_BODY)
    assert body == REAL_BODY[: len(REAL_BODY) // 2]


@pytest.mark.asyncio
async def test_malformed_json_is_a_complete_reply_with_a_broken_body(
        fault_server: TestServer) -> None:
    status, headers, body = _split((await _exchange(fault_server, "/malformed_json"))[0])
    assert status == "HTTP/1.1 200 OK" and headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body) > 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "reason"), [(502, "Bad Gateway"),
                                                (503, "Service Temporarily Unavailable"),
                                                (504, "Gateway Time-out")])
async def test_gateway_pages_look_like_nginx(fault_server: TestServer, status: int, reason: str
                                             ) -> None:
    line, headers, body = _split((await _exchange(fault_server, f"/gateway?status={status}"))[0])
    assert line.startswith(f"HTTP/1.1 {status} ")
    assert headers["content-type"] == "text/html" and headers["server"] == "nginx"
    assert f"<title>{status} {reason}</title>".encode() in body
    assert b"<center>nginx</center>" in body


@pytest.mark.asyncio
async def test_hang_ends_when_the_client_gives_up(fault_server: TestServer) -> None:
    data, error = await _exchange(fault_server, "/hang", read_timeout=0.3)
    assert data == b"" and isinstance(error, TimeoutError)
    held = await asyncio.wait_for(fault_server.app[DONE].get(), 2)
    assert 0.25 <= held < 1.0


@pytest.mark.asyncio
async def test_hang_is_bounded_and_then_answers_504(fault_server: TestServer) -> None:
    data, _ = await _exchange(fault_server, "/hang?max=0.3")
    assert data.startswith(b"HTTP/1.1 504 ")
    assert 0.3 <= await fault_server.app[DONE].get() < 1.0


def test_effect_objects() -> None:
    assert ErrorEffect("MissingParameter", details=(("param", "Url"),)).error().message(
        "en-US") == "The request is missing a required parameter `Url`."
    assert RateLimit(5).error(7).message("en-US").startswith(
        "Your current request times equals to `7` in a second")
    rng = random.Random(1)
    assert Delay(kind="uniform", low=1, high=2, cap=1.5).sample(rng) <= 1.5
    assert Delay(kind="lognormal", median=1, sigma=0).sample(rng) == pytest.approx(1.0)
    assert [TransportFault(k).label for k in effects.FAULT_KINDS] == [
        "transport.reset", "transport.close", "transport.truncated", "transport.malformed_json",
        "transport.gateway_502", "transport.hang"]
