"""The closed set of scenario effects, and applying a transport fault to an aiohttp request.

Effects are small frozen objects built from scenario files (:mod:`emulator.scenarios`):

* :class:`ErrorEffect` — a documented API error, rendered by :mod:`emulator.envelope`;
* :class:`Delay` — sleep (fixed, or drawn from a seeded uniform / log-normal), then go on;
* :class:`RateLimit` — per SecretId, ``RequestLimitExceeded`` once over ``limit`` per window;
* :class:`Pass` — process normally (the "succeed" step of a sequence);
* :class:`TransportFault` — what a broken network or gateway does, below the Tencent envelope.

Transport faults bypass the envelope on purpose: they are raw bytes (or none). The two that
damage a reply (``truncated``, ``malformed_json``) damage the real one the emulator rendered.
"""

from __future__ import annotations

import asyncio
import math
import random
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from emulator.errors import ApiError

FaultKind = Literal["reset", "close", "truncated", "malformed_json", "gateway", "hang"]
FAULT_KINDS: tuple[FaultKind, ...] = ("reset", "close", "truncated", "malformed_json",
                                      "gateway", "hang")
GATEWAY_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable",
                   504: "Gateway Time-out"}
HANG_POLL = 0.05


@dataclass(frozen=True, slots=True)
class ErrorEffect:
    """Answer a documented code; the message follows the request's language unless given."""

    code: str
    message: str | None = None
    details: tuple[tuple[str, str], ...] = ()

    def error(self) -> ApiError:
        return ApiError(self.code, message=self.message, **dict(self.details))


@dataclass(frozen=True, slots=True)
class Delay:
    """Wait before normal processing; random kinds draw from the rule's seeded generator."""

    kind: Literal["fixed", "uniform", "lognormal"] = "fixed"
    seconds: float = 0.0
    low: float = 0.0
    high: float = 0.0
    median: float = 0.0
    sigma: float = 0.0
    cap: float = 60.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            value = rng.uniform(self.low, self.high)
        elif self.kind == "lognormal":
            value = rng.lognormvariate(math.log(self.median), self.sigma)
        else:
            value = self.seconds
        return min(max(value, 0.0), self.cap)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``limit`` requests per SecretId in any ``per_seconds`` window."""

    limit: int
    per_seconds: float = 1.0

    def error(self, count: int) -> ApiError:
        """The documented message shape: "... equals to `7` in a second ... limit `5` ..."."""
        return ApiError("RequestLimitExceeded", count=str(count), limit=str(self.limit))


@dataclass(frozen=True, slots=True)
class Pass:
    """Process the request normally."""


@dataclass(frozen=True, slots=True)
class TransportFault:
    """A network or gateway failure; ``status`` for ``gateway``, ``max_seconds`` for ``hang``."""

    kind: FaultKind
    status: int = 502
    max_seconds: float = 120.0

    @property
    def label(self) -> str:
        """How the journal shows the outcome, e.g. ``transport.gateway_503``."""
        suffix = f"_{self.status}" if self.kind == "gateway" else ""
        return f"transport.{self.kind}{suffix}"


Effect = ErrorEffect | Delay | RateLimit | Pass | TransportFault
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
