"""Serving until told to stop: SIGINT or SIGTERM finish the requests in flight, then exit."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web

from emulator.serve import listeners
from emulator.settings import Settings

__all__ = ["serve_until_signalled"]


async def serve_until_signalled(runner: web.AppRunner, host: str, port: int, *,
                                reuse_port: bool = False,
                                ready: Callable[[], object] | None = None,
                                settings: Settings | None = None) -> None:
    """Serve ``runner`` until SIGINT or SIGTERM, then finish in-flight requests: on host:port,
    or on every listener ``settings`` configure (HTTPS, the proxy)."""
    await runner.setup()
    bound = None
    if settings is not None:
        bound = await listeners.start(runner, settings, reuse_port=reuse_port)
    else:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
    if ready is not None:
        ready()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if bound is not None:
            bound.close()
        await runner.cleanup()
