"""The admin API under ``/_emulator/``, never confusable with the emulated API at ``/``.

Admin replies are plain JSON (``{"status": ...}`` or ``{"error": ...}``) with ordinary HTTP
status codes: they are for test harnesses, not for the Tencent SDKs.
"""

from __future__ import annotations

from aiohttp import web

import emulator

PREFIX = "/_emulator"


async def health(request: web.Request) -> web.Response:
    """Liveness for Docker health checks and the pytest fixture: cheap, never touches state."""
    return web.json_response({"status": "ok", "service": "bda", "version": "2020-03-24",
                              "emulator": emulator.__version__})


def add_routes(app: web.Application) -> None:
    """Register the admin routes (before the API's catch-all route)."""
    app.router.add_get(f"{PREFIX}/health", health)
