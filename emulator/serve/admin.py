"""The admin API under ``/_emulator/``, never confusable with the emulated API at ``/``.

Admin replies are plain JSON (``{"status": ...}``, data, or ``{"error": ...}``) with ordinary
HTTP status codes: they are for test harnesses, not for the Tencent SDKs. With an admin token
configured, every route but ``/health``, ``/ca.pem`` and the dashboard's page and static files
wants ``X-Emulator-Token`` (401 otherwise: :mod:`emulator.serve.guard`). The dashboard's own
routes are registered here too (:mod:`emulator.serve.dashboard`).

Routes: ``GET /health``; ``GET|PUT|DELETE /scenarios``, ``DELETE /scenarios/<name>``;
``POST /reset``; ``GET|DELETE /requests``; ``GET /coverage``; ``GET|POST /clock``;
``GET /tasks``, ``POST /tasks/<TaskID>`` (a manual state move); ``POST /accounts``,
``DELETE /accounts/<SecretId>``. Scenarios, requests, coverage, clock and reset take
``?account=<SecretId>``: that account's namespace instead of the global one.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

import emulator
from emulator import strictjson
from emulator.errors import ApiError
from emulator.scenarios.loading import ScenarioError, bundled_names, load_text
from emulator.serve import dashboard
from emulator.serve.guard import Handler
from emulator.serve.guard import error_reply as _error
from emulator.serve.guard import guarded as _guarded
from emulator.serve.guard import json_reply as _json
from emulator.serve.keys import (
    CLOCK,
    CREDENTIALS,
    GALLERY,
    SCENARIOS,
    SERVICES,
    SETTINGS,
    SHARING,
    TASKS,
)
from emulator.state.tasks import Task
from emulator.wire.request import MIB, read_body

PREFIX = "/_emulator"
#: The largest admin body (a scenario file); read within ``--read-timeout`` like API bodies.
MAX_BODY = 1 * MIB
#: ``POST /clock`` accepts times from the epoch to the end of year 9999 (what dates can show).
MAX_EPOCH = 253_402_300_799.0

class _BadRequest(Exception):
    """An admin mistake: answered 400 with the message."""


def _answers_400(handler: Handler) -> Handler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except _BadRequest as exc:
            return _error(400, str(exc))
    return wrapper


async def _body(request: web.Request) -> bytes:
    """The body, bounded in size (413) and in time by ``--read-timeout`` (408, then closed)."""
    try:
        return await read_body(request.content, request.content_length, MAX_BODY,
                               timeout=request.app[SETTINGS].read_timeout)
    except ApiError as exc:
        if exc.code == "RequestSizeLimitExceeded":
            raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content_length or 0,
                                                text=strictjson.dumps({"error": "the body is "
                                                                       f"over {MAX_BODY} bytes"}),
                                                content_type="application/json") from exc
        raise web.HTTPRequestTimeout(text=strictjson.dumps({"error": "the body did not arrive "
                                                            "within --read-timeout"}),
                                     content_type="application/json",
                                     headers={"Connection": "close"}) from exc


async def _json_body(request: web.Request) -> Any:
    try:
        return strictjson.loads(await _body(request))
    except (ValueError, RecursionError) as exc:
        raise _BadRequest(f"the body is not JSON: {exc}") from exc


async def ca_certificate(request: web.Request) -> web.Response:
    """The local CA (public, like /health: no token), for clients to trust; 404 when the
    emulator serves no HTTPS."""
    settings = request.app[SETTINGS]
    if settings.tls_port is None and settings.proxy_port is None:
        return _error(404, "this emulator serves no HTTPS (set --tls-port or --proxy-port)")
    from emulator.serve.tls import ca_pem

    return web.Response(body=ca_pem(settings.tls_dir_path),
                        content_type="application/x-pem-file")


async def health(request: web.Request) -> web.Response:
    """Liveness for Docker health checks and the pytest fixture: cheap, never touches state."""
    return _json({"status": "ok", "service": "bda", "version": "2020-03-24",
                  "emulator": emulator.__version__})


def _account(request: web.Request) -> str | None:
    """The namespace a call is about: ``?account=<SecretId>`` of an account created at run
    time, or None (the global namespace)."""
    account = request.query.get("account")
    if account is None or account == "":
        return None
    if not request.app[CREDENTIALS].is_namespace(account):
        raise _BadRequest(f"no account created at run time named {account[:64]!r}")
    return account


async def list_scenarios(request: web.Request) -> web.Response:
    """Active scenarios with each rule's hit counts, those used per request, what strict ones
    have left (``pending``), and the bundled names."""
    return _json({**await request.app[SCENARIOS].describe(_account(request)),
                  "bundled": bundled_names()})


async def put_scenario(request: web.Request) -> web.Response:
    """Add a scenario (201) or replace the one of the same name (200), in the global
    namespace or, with ``?account=``, in that account's (it then sees only its requests)."""
    account = _account(request)
    try:
        scenario = load_text(await _body(request), "request body",
                             request.app[CLOCK].now(account))
        replaced = request.app[SCENARIOS].put(scenario, account)
    except ScenarioError as exc:  # ScenarioLimit too: 400 naming the limit
        raise _BadRequest(str(exc)) from exc
    await request.app[SHARING].scenarios_changed(account)
    return _json({"status": "replaced" if replaced else "created",
                  "name": scenario.name, "rules": len(scenario.rules)},
                 status=200 if replaced else 201)


async def delete_scenarios(request: web.Request) -> web.Response:
    name = request.match_info.get("name")
    store, account = request.app[SCENARIOS], _account(request)
    if name is None:
        removed = store.clear(account)
        await request.app[SHARING].scenarios_changed(account)
        return _json({"status": "cleared", "removed": removed})
    deleted = store.delete(name, account)
    await request.app[SHARING].scenarios_changed(account)
    if not deleted:
        return _error(404, f"no active scenario named {name!r}")
    return _json({"status": "deleted", "name": name})


async def reset(request: web.Request) -> web.Response:
    """The start state: scenarios loaded at start, fresh counters, empty journal, wall clock,
    no tasks. With ``?account=``: only that account's namespace (its scenarios, clock,
    journal entries, coverage and tasks) — what parallel suites use instead."""
    app, account = request.app, _account(request)
    sharing = app[SHARING]
    app[CLOCK].reset(account)
    await sharing.clock_changed(account)
    now = app[CLOCK].now(account)
    app[SCENARIOS].reset(now, account)
    await sharing.reset(account)
    await sharing.clear_journal(account)
    if account is None:
        app[GALLERY].clear()
    await sharing.reset_coverage(now, account)
    await app[SERVICES].jobs.reset(account)
    held, _ = app[SCENARIOS].held(account)
    return _json({"status": "reset", "now": now, "account": account,
                  "scenarios": [s.name for s in held]})


async def list_requests(request: web.Request) -> web.Response:
    """The journal, oldest first, filtered by ``since`` (epoch s), ``code``, ``secret_id``
    (or ``account``)."""
    query = request.query
    since = _number(query, "since")
    limit = _number(query, "limit")
    journal = await request.app[SHARING].journal()
    entries = journal.query(since=since, code=query.get("code"),
                            secret_id=query.get("secret_id") or query.get("account"))
    if limit is not None:
        if limit < 1:
            raise _BadRequest("limit must be >= 1")
        entries = entries[-int(limit):]
    return _json({"requests": [e.to_json() for e in entries], "count": len(entries),
                  "size": journal.size, "recorded": journal.recorded,
                  "dropped": journal.recorded - len(journal)})


async def clear_requests(request: web.Request) -> web.Response:
    account = _account(request)
    if account is None:
        request.app[GALLERY].clear()
    return _json({"status": "cleared",
                  "removed": await request.app[SHARING].clear_journal(account)})


async def coverage(request: web.Request) -> web.Response:
    return _json(await request.app[SHARING].coverage(_account(request)))


async def get_clock(request: web.Request) -> web.Response:
    clock, account = request.app[CLOCK], _account(request)
    return _json({"now": clock.now(account), "offset": clock.offset,
                  "account_offset": clock.account_offset(account) if account else 0.0})


async def post_clock(request: web.Request) -> web.Response:
    """``{"set": epoch}``, ``{"offset": seconds}`` (a relative shift) or ``{"reset": true}``;
    with ``?account=`` only that account's clock (its signatures, windows and tasks)."""
    body = await _json_body(request)
    clock, account = request.app[CLOCK], _account(request)
    if not isinstance(body, dict) or len(body) != 1 or not {"set", "offset", "reset"} >= set(body):
        raise _BadRequest('expected exactly one of {"set": epoch}, {"offset": seconds}, '
                          '{"reset": true}')
    (key, value), = body.items()
    if key == "reset":
        if value is not True:
            raise _BadRequest('"reset" must be true')
        clock.reset(account)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadRequest(f'"{key}" must be a number of seconds')
    elif key == "set":
        clock.set(_epoch(key, value), account)
    else:
        _epoch(key, clock.now(account) + value)
        clock.shift(float(value), account)
    await request.app[SHARING].clock_changed(account)
    return await get_clock(request)


async def create_account(request: web.Request) -> web.Response:
    """A new account (201 with its SecretId and SecretKey): ``{}`` or ``{"state", "token",
    "expires_at" (epoch s), "name"}``. Tests use one each as their namespace."""
    body = await _json_body(request) if request.content_length else {}
    allowed = {"state", "token", "expires_at", "name"}
    if not isinstance(body, dict) or set(body) - allowed:
        raise _BadRequest(f"expected an object with some of {sorted(allowed)}")
    token, expires, name = body.get("token"), body.get("expires_at"), body.get("name", "")
    if token is not None and (not isinstance(token, str) or not 0 < len(token) <= 256):
        raise _BadRequest('"token" must be a string of 1-256 characters')
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int)):
        raise _BadRequest('"expires_at" must be epoch seconds (an integer)')
    if not isinstance(name, str) or len(name) > 128:
        raise _BadRequest('"name" must be a string of at most 128 characters')
    try:
        account = request.app[CREDENTIALS].create(state=body.get("state", "active"),
                                                  token=token, expires_at=expires, name=name)
    except (ValueError, TypeError) as exc:
        raise _BadRequest(str(exc)) from exc
    await request.app[SHARING].account_saved(account)
    return _json({"secret_id": account.secret_id, "secret_key": account.secret_key,
                  "state": account.state, "token": account.token,
                  "expires_at": account.expires_at, "name": account.name}, status=201)


async def delete_account(request: web.Request) -> web.Response:
    """Forget an account created at run time and everything scoped to it."""
    app, secret_id = request.app, request.match_info["secret_id"]
    if not app[CREDENTIALS].delete(secret_id):
        return _error(404, f"no account created at run time named {secret_id[:64]!r}")
    sharing = app[SHARING]
    await sharing.account_deleted(secret_id)
    app[SCENARIOS].forget(secret_id)
    await sharing.reset(secret_id)
    app[CLOCK].reset(secret_id)
    await sharing.clock_changed(secret_id)
    await sharing.clear_journal(secret_id)
    await sharing.reset_coverage(app[CLOCK].now(), secret_id)
    await app[SERVICES].jobs.reset(secret_id)
    return _json({"status": "deleted", "secret_id": secret_id})


def _epoch(key: str, value: float) -> float:
    """A time the clock may show: finite (the parser saw to that) and within years 1970-9999."""
    if not 0 <= value <= MAX_EPOCH:
        raise _BadRequest(f'"{key}" would put the clock outside 0..{MAX_EPOCH:.0f} '
                          "(1970 to year 9999)")
    return float(value)


def _number(query: Any, name: str) -> float | None:
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise _BadRequest(f"{name}={text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise _BadRequest(f"{name}={text[:40]!r} is not a finite number")
    return value


def _task_json(task: Task) -> dict[str, Any]:
    return {"task_id": task.task_id, "owner": task.owner, "state": task.state,
            "error": task.error, "created_at": task.created_at,
            "estimated_seconds": task.estimated_seconds, "video": task.video,
            "frames_done": task.frames_done, "has_result": task.result_key is not None,
            "history": [{"state": state, "at": at} for state, at in task.history]}


async def list_tasks(request: web.Request) -> web.Response:
    """Every kept video task with its transitions (state, emulator time)."""
    return _json({"tasks": [_task_json(t) for t in await request.app[TASKS].all()]})


async def move_task(request: web.Request) -> web.Response:
    """``{"state": "PROCESSING"}``, ``{"state": "FINISHED"}`` (as soon as its frames are done)
    or ``{"state": "FINISHED", "error_msg": "…"}`` (now, failed): moto-style manual moves."""
    body = await _json_body(request)
    state = body.get("state") if isinstance(body, dict) else None
    error = body.get("error_msg", "") if isinstance(body, dict) else ""
    if state not in ("PROCESSING", "FINISHED") or not isinstance(error, str) or \
            len(error) > 512 or set(body) - {"state", "error_msg"}:
        raise _BadRequest('expected {"state": "PROCESSING" | "FINISHED", "error_msg"?: text}')
    try:
        task = await request.app[SERVICES].jobs.move(request.match_info["task_id"], state, error)
    except KeyError:
        return _error(404, f"no task {request.match_info['task_id'][:40]!r}")
    return _json(_task_json(task))


_ROUTES: dict[str, dict[str, Handler]] = {
    "/scenarios": {"GET": list_scenarios, "PUT": put_scenario, "DELETE": delete_scenarios},
    "/scenarios/{name:.+}": {"DELETE": delete_scenarios},
    "/reset": {"POST": reset},
    "/requests": {"GET": list_requests, "DELETE": clear_requests},
    "/coverage": {"GET": coverage},
    "/clock": {"GET": get_clock, "POST": post_clock},
    "/tasks": {"GET": list_tasks},
    "/accounts": {"POST": create_account},
    "/accounts/{secret_id:[A-Za-z0-9]{1,128}}": {"DELETE": delete_account},
    "/tasks/{task_id:[0-9]{1,24}}": {"POST": move_task},
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
    """Register the admin routes and the dashboard's (before the API's catch-all route)."""
    dashboard.add_routes(app)
    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_get(f"{PREFIX}/ca.pem", ca_certificate)
    for route, methods in _ROUTES.items():
        for method, handler in methods.items():
            app.router.add_route(method, PREFIX + route, _guarded(_answers_400(handler)))
    app.router.add_route("*", PREFIX + "/{tail:.*}", _guarded(_unknown))
