"""The admin API under ``/_emulator/``, never confusable with the emulated API at ``/``.

Admin replies are plain JSON (``{"status": ...}``, data, or ``{"error": ...}``) with ordinary
HTTP status codes: they are for test harnesses, not for the Tencent SDKs. With an admin token
configured, every route but ``/health`` wants ``X-Emulator-Token`` (401 otherwise).

Routes: ``GET /health``; ``GET|PUT|DELETE /scenarios``, ``DELETE /scenarios/<name>``;
``POST /reset``; ``GET|DELETE /requests``; ``GET /coverage``; ``GET|POST /clock``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

import emulator
from emulator.keys import CLOCK, COVERAGE, JOURNAL, SCENARIOS, SETTINGS
from emulator.scenarios import ScenarioError, bundled_names, load_text

PREFIX = "/_emulator"
TOKEN_HEADER = "X-Emulator-Token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def _guarded(handler: Handler) -> Handler:
    """Refuse the call without the configured admin token (compared in constant time)."""
    async def wrapper(request: web.Request) -> web.StreamResponse:
        token = request.app[SETTINGS].admin_token
        if token is not None:
            given = request.headers.get(TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _error(401, f"missing or wrong {TOKEN_HEADER} header")
        return await handler(request)
    return wrapper


class _BadRequest(Exception):
    """An admin mistake: answered 400 with the message."""


def _answers_400(handler: Handler) -> Handler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except _BadRequest as exc:
            return _error(400, str(exc))
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "the body is too large")
    return wrapper


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except (ValueError, RecursionError) as exc:
        raise _BadRequest(f"the body is not JSON: {exc}") from exc


async def health(request: web.Request) -> web.Response:
    """Liveness for Docker health checks and the pytest fixture: cheap, never touches state."""
    return web.json_response({"status": "ok", "service": "bda", "version": "2020-03-24",
                              "emulator": emulator.__version__})


async def list_scenarios(request: web.Request) -> web.Response:
    """Active scenarios with each rule's hit counts, those used per request, and the bundled."""
    return web.json_response({**request.app[SCENARIOS].describe(), "bundled": bundled_names()})


async def put_scenario(request: web.Request) -> web.Response:
    """Add a scenario (201) or replace the one of the same name (200)."""
    try:
        scenario = load_text(await request.read(), "request body", request.app[CLOCK].now())
    except ScenarioError as exc:
        raise _BadRequest(str(exc)) from exc
    replaced = request.app[SCENARIOS].put(scenario)
    return web.json_response({"status": "replaced" if replaced else "created",
                              "name": scenario.name, "rules": len(scenario.rules)},
                             status=200 if replaced else 201)


async def delete_scenarios(request: web.Request) -> web.Response:
    name = request.match_info.get("name")
    store = request.app[SCENARIOS]
    if name is None:
        return web.json_response({"status": "cleared", "removed": store.clear()})
    if not store.delete(name):
        return _error(404, f"no active scenario named {name!r}")
    return web.json_response({"status": "deleted", "name": name})


async def reset(request: web.Request) -> web.Response:
    """The start state: scenarios loaded at start, fresh counters, empty journal, wall clock."""
    app = request.app
    app[CLOCK].reset()
    now = app[CLOCK].now()
    app[SCENARIOS].reset(now)
    app[JOURNAL].clear()
    app[COVERAGE].reset(now)
    return web.json_response({"status": "reset", "now": now,
                              "scenarios": list(app[SCENARIOS].active)})


async def list_requests(request: web.Request) -> web.Response:
    """The journal, oldest first, filtered by ``since`` (epoch s), ``code``, ``secret_id``."""
    query = request.query
    since = _number(query, "since")
    limit = _number(query, "limit")
    journal = request.app[JOURNAL]
    entries = journal.query(since=since, code=query.get("code"),
                            secret_id=query.get("secret_id"))
    if limit is not None:
        if limit < 1:
            raise _BadRequest("limit must be >= 1")
        entries = entries[-int(limit):]
    return web.json_response({"requests": [e.to_json() for e in entries], "count": len(entries),
                              "size": journal.size, "recorded": journal.recorded,
                              "dropped": journal.recorded - len(journal)})


async def clear_requests(request: web.Request) -> web.Response:
    return web.json_response({"status": "cleared", "removed": request.app[JOURNAL].clear()})


async def coverage(request: web.Request) -> web.Response:
    return web.json_response(request.app[COVERAGE].report())


async def get_clock(request: web.Request) -> web.Response:
    clock = request.app[CLOCK]
    return web.json_response({"now": clock.now(), "offset": clock.offset})


async def post_clock(request: web.Request) -> web.Response:
    """``{"set": epoch}``, ``{"offset": seconds}`` (a relative shift) or ``{"reset": true}``."""
    body = await _json_body(request)
    clock = request.app[CLOCK]
    if not isinstance(body, dict) or len(body) != 1 or not {"set", "offset", "reset"} >= set(body):
        raise _BadRequest('expected exactly one of {"set": epoch}, {"offset": seconds}, '
                          '{"reset": true}')
    (key, value), = body.items()
    if key == "reset":
        if value is not True:
            raise _BadRequest('"reset" must be true')
        clock.reset()
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadRequest(f'"{key}" must be a number of seconds')
    elif key == "set":
        clock.set(float(value))
    else:
        clock.shift(float(value))
    return web.json_response({"now": clock.now(), "offset": clock.offset})


def _number(query: Any, name: str) -> float | None:
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise _BadRequest(f"{name}={text!r} is not a number") from None


_ROUTES: dict[str, dict[str, Handler]] = {
    "/scenarios": {"GET": list_scenarios, "PUT": put_scenario, "DELETE": delete_scenarios},
    "/scenarios/{name:.+}": {"DELETE": delete_scenarios},
    "/reset": {"POST": reset},
    "/requests": {"GET": list_requests, "DELETE": clear_requests},
    "/coverage": {"GET": coverage},
    "/clock": {"GET": get_clock, "POST": post_clock},
}


async def _unknown(request: web.Request) -> web.Response:
    """Unknown admin paths answer 404 and known paths with another method 405, both JSON."""
    path = request.path[len(PREFIX):]
    if path == "/health":
        return _error(405, "use GET", allow=["GET"])
    for route, methods in _ROUTES.items():
        if route == path or (route.startswith("/scenarios/") and path.startswith("/scenarios/")):
            return _error(405, f"use {' or '.join(methods)}", allow=sorted(methods))
    return _error(404, f"no admin route {request.path}")


def add_routes(app: web.Application) -> None:
    """Register the admin routes (before the API's catch-all route)."""
    app.router.add_get(f"{PREFIX}/health", health)
    for route, methods in _ROUTES.items():
        for method, handler in methods.items():
            app.router.add_route(method, PREFIX + route, _guarded(_answers_400(handler)))
    app.router.add_route("*", PREFIX + "/{tail:.*}", _guarded(_unknown))
