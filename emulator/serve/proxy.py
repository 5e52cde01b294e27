"""Proxy mode: ``CONNECT`` for the production host names only, TLS terminated by the emulator.

An unmodified process that sets ``HTTPS_PROXY`` to this listener (and trusts the emulator's CA)
reaches the emulator when its SDK calls ``https://bda.tencentcloudapi.com``. This is not a
general proxy: a ``CONNECT`` to any other host or port is answered 403 and closed, any other
method 405, and no outbound connection is ever made. After ``200 Connection established`` the
connection is upgraded to TLS with the emulator's certificate and handed to the same aiohttp
server as every other connection (the same limits, envelope and journal).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Collection

__all__ = ["MAX_HEAD", "ConnectProtocol"]

log = logging.getLogger("bda_emulator.proxy")

#: The largest CONNECT request head read (a real one is a few hundred bytes).
MAX_HEAD = 8 * 1024


class ConnectProtocol(asyncio.Protocol):
    """One proxy connection: read the CONNECT head (bounded in size and time), then TLS."""

    def __init__(self, server: Callable[[], asyncio.Protocol], context: ssl.SSLContext,
                 names: Collection[str], head_timeout: float,
                 live: set[asyncio.Transport] | None = None) -> None:
        self._server = server
        self._live = live if live is not None else set()  # raw sockets, aborted at shutdown
        self._context = context
        self._names = frozenset(names)
        self._head_timeout = head_timeout
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._upgrading = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._live.add(transport)
        self._timer = asyncio.get_running_loop().call_later(self._head_timeout, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None:
            self._live.discard(self._transport)

    def data_received(self, data: bytes) -> None:
        if self._upgrading or self._transport is None:
            return
        self._buffer += data
        head, found, rest = self._buffer.partition(b"\r\n\r\n")
        if not found:
            if len(self._buffer) > MAX_HEAD:
                self._refuse(431, "Request Header Fields Too Large")
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            self._refuse(405, "Method Not Allowed", "Allow: CONNECT\r\n")
            return
        host, _, port = parts[1].rpartition(":")
        if port != "443" or host.lower().rstrip(".") not in self._names:
            log.info("proxy refused CONNECT %s: only the bda production names, port 443",
                     parts[1][:100])
            self._refuse(403, "Forbidden")
            return
        if self._timer is not None:
            self._timer.cancel()
        self._upgrading = True
        self._transport.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        asyncio.get_running_loop().create_task(self._upgrade(rest))

    async def _upgrade(self, early: bytes) -> None:
        transport = self._transport
        assert transport is not None
        handler = self._server()
        loop = asyncio.get_running_loop()
        try:
            tls = await loop.start_tls(transport, handler, self._context, server_side=True,
                                       ssl_handshake_timeout=self._head_timeout)
        except (OSError, ssl.SSLError, ConnectionError, TimeoutError) as exc:
            log.info("proxy TLS handshake failed: %s", exc.__class__.__name__)
            transport.close()
            return
        if tls is None:
            transport.close()
            return
        handler.connection_made(tls)
        if early:  # bytes sent before our 200 cannot be TLS: a confused client
            tls.close()

    def _refuse(self, status: int, reason: str, extra: str = "") -> None:
        assert self._transport is not None
        self._transport.write(f"HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: 0\r\n"
                              "Connection: close\r\n\r\n".encode())
        self._transport.close()
