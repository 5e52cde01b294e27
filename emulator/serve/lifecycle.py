"""Serving until told to stop: SIGINT or SIGTERM finish the requests in flight, then exit."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web

__all__ = ["serve_until_signalled"]


async def serve_until_signalled(runner: web.AppRunner, host: str, port: int, *,
                                reuse_port: bool = False,
                                ready: Callable[[], object] | None = None) -> None:
    """Serve ``runner`` on host:port until SIGINT or SIGTERM, then finish in-flight requests."""
    await runner.setup()
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
        await runner.cleanup()
