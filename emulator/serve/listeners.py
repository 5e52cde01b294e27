"""The sockets one emulator listens on: plain HTTP, and optionally HTTPS and the CONNECT proxy.

Shared by the command line and the threaded server for tests, so both serve the same way.
The HTTPS site and the proxy use the certificate of :mod:`emulator.serve.tls`; a port of 0
picks a free one (what tests do), ``None`` leaves the listener off.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from aiohttp import web

from emulator.serve.proxy import ConnectProtocol
from emulator.serve.tls import PRODUCTION_NAMES, server_context
from emulator.settings import Settings

__all__ = ["Bound", "start"]


@dataclass
class Bound:
    """The ports actually bound (0 in the settings → the free port picked)."""

    port: int = 0
    tls_port: int | None = None
    proxy_port: int | None = None
    _proxy: asyncio.Server | None = field(default=None, repr=False)
    _tunnels: set[asyncio.Transport] = field(default_factory=set, repr=False)

    def close(self) -> None:
        """Stop the proxy and drop its tunnels (the HTTP sites stop with the runner)."""
        if self._proxy is not None:
            self._proxy.close()
        for transport in list(self._tunnels):
            transport.abort()
        self._tunnels.clear()


async def start(runner: web.AppRunner, settings: Settings, *, reuse_port: bool = False) -> Bound:
    """Start every configured listener on ``runner`` (already set up)."""
    context = None  # the CA first: once /health answers, /_emulator/ca.pem does too
    if settings.tls_port is not None or settings.proxy_port is not None:
        context = server_context(settings.tls_dir_path, settings.tls_names)
    bound = Bound(port=await _site(runner, settings.port, settings.host, reuse_port))
    if context is None:
        return bound
    if settings.tls_port is not None:
        bound.tls_port = await _site(runner, settings.tls_port, settings.host, reuse_port,
                                     context)
    if settings.proxy_port is not None:
        server = runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        bound._proxy = await loop.create_server(
            lambda: ConnectProtocol(server, context, PRODUCTION_NAMES, settings.read_timeout,
                                    bound._tunnels),
            settings.host, settings.proxy_port, reuse_port=reuse_port or None)
        bound.proxy_port = int(bound._proxy.sockets[0].getsockname()[1])
    return bound


async def _site(runner: web.AppRunner, port: int, host: str, reuse_port: bool,
                context: ssl.SSLContext | None = None) -> int:
    """Start one site; the port it bound (read from ``runner.addresses``, aiohttp's public
    list of every site's socket addresses, in order)."""
    before = len(runner.addresses)
    await web.TCPSite(runner, host, port, ssl_context=context, reuse_port=reuse_port).start()
    return int(runner.addresses[before][1])
