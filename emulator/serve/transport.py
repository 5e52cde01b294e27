"""Acting out a scenario's transport fault on an aiohttp connection, below the envelope.

Transport faults bypass the envelope on purpose: they are raw bytes (or none). The two that
damage a reply (``truncated``, ``malformed_json``) damage the real one the emulator rendered.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.scenarios.effects import TransportFault

GATEWAY_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable",
                   504: "Gateway Time-out"}
HANG_POLL = 0.05

Reply = Callable[[], Awaitable[web.Response]]


async def apply(fault: TransportFault, request: web.Request, reply: Reply) -> web.StreamResponse:
    """Act out ``fault`` on the connection of ``request``; ``reply`` renders the real answer."""
    if fault.kind == "reset":
        return reset(request)
    if fault.kind == "close":
        return close(request)
    if fault.kind == "gateway":
        return gateway_page(fault.status)
    if fault.kind == "hang":
        return await hang(request, fault.max_seconds)
    real = await reply()
    if fault.kind == "truncated":
        return await truncated(request, real)
    return malformed_json(real)


def reset(request: web.Request) -> web.StreamResponse:
    """Abort with SO_LINGER 0: the kernel sends RST, the client sees "connection reset"."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response()  # never written: aiohttp swallows the write to a closed transport


def close(request: web.Request) -> web.StreamResponse:
    """Close gracefully (FIN) without a byte of reply: "connection closed without response"."""
    if request.transport is not None:
        request.transport.close()
    return web.Response()


def gateway_page(status: int) -> web.Response:
    """The HTML page nginx sends when its upstream fails (502/503/504)."""
    title = f"{status} {GATEWAY_REASONS[status]}"
    page = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n")
    return web.Response(status=status, body=page.encode("ascii"),
                        headers={"Content-Type": "text/html", "Server": "nginx"})


async def hang(request: web.Request, max_seconds: float) -> web.StreamResponse:
    """Say nothing until the client gives up; past ``max_seconds`` answer 504 as nginx would."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_seconds
    while loop.time() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return web.Response()
        await asyncio.sleep(HANG_POLL)
    return gateway_page(504)


async def truncated(request: web.Request, real: web.Response) -> web.StreamResponse:
    """Headers promising the whole reply, half of its body, then close."""
    body = _body(real)
    response = web.StreamResponse(status=real.status, headers=real.headers)
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return response


def malformed_json(real: web.Response) -> web.Response:
    """A complete HTTP reply, ``application/json``, whose body is the real one cut in half."""
    body = _body(real)
    return web.Response(status=200, body=body[: len(body) // 2],
                        headers={"Content-Type": real.headers.get("Content-Type",
                                                                  "application/json")})


def _body(real: web.Response) -> bytes:
    body = real.body
    return bytes(body) if isinstance(body, bytes | bytearray) else b'{"Response": {'
