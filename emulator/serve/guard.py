"""The admin token: every admin and dashboard data route but ``/health``, ``/ca.pem`` and the
dashboard's page itself wants ``X-Emulator-Token`` when one is configured, and the JSON replies
those routes give.

The token is compared in constant time; a missing or wrong one answers 401 with a JSON error.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from emulator import strictjson
from emulator.serve.keys import SETTINGS, SHARING
from emulator.state.redis_link import cause, is_unavailable

__all__ = ["TOKEN_HEADER", "Handler", "error_reply", "guarded", "json_reply"]

TOKEN_HEADER = "X-Emulator-Token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_reply(data: Any, status: int = 200) -> web.Response:
    """Strict JSON (never ``NaN``): admin replies are read by other languages' parsers."""
    return web.json_response(data, status=status, dumps=strictjson.dumps)


def error_reply(status: int, message: str, **extra: Any) -> web.Response:
    return json_reply({"error": message, **extra}, status=status)


def token_ok(request: web.Request) -> bool:
    """Whether the request may see admin data: no token configured, or the right one sent."""
    token = request.app[SETTINGS].admin_token
    if token is None:
        return True
    given = request.headers.get(TOKEN_HEADER, "")
    try:
        return hmac.compare_digest(given.encode(), token.encode())
    except UnicodeEncodeError:  # undecodable header bytes: not the token either
        return False


def guarded(handler: Handler) -> Handler:
    """Refuse the call without the configured admin token; then bring this process's copy of
    the shared definitions up to date (a shared store that cannot be reached: 503)."""
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if not token_ok(request):
            return error_reply(401, f"missing or wrong {TOKEN_HEADER} header")
        sharing = request.app[SHARING]
        try:
            await sharing.sync()
            return await handler(request)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            sharing.unreachable(exc, f"{request.method} {request.path[:100]}")
            return error_reply(503, f"the shared state store cannot be reached ({cause(exc)})")
    return wrapper
