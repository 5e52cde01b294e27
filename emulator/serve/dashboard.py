"""The dashboard at ``/_emulator/``: one page, its static files, and the data routes it polls.

The page (``static/dashboard.html``, ``.css``, ``.js``: plain HTML, CSS and a little vanilla
JavaScript shipped in the package, nothing fetched from elsewhere — its Content-Security-Policy
allows this origin only) is public like ``/health``: it holds nothing from the journal, and a
browser's navigation cannot send a header. Every data route is guarded by the admin token like
the admin API; the page asks for the token once and keeps it in the tab's ``sessionStorage``.

The page *polls* (every half second) rather than holding a server-sent-events stream:
``EventSource`` cannot send ``X-Emulator-Token`` (the token would have to travel in the Url,
into logs and history); a stream would hold a connection against ``--max-connections`` and
need a wake-up in the request path even when nobody watches. A poll names the newest RequestId
the page has (``after``), so it costs a look at the journal's newest entries, and clock jumps
(which move the journal's ``time``) cannot hide requests from it.

Routes, under ``/_emulator``: ``GET /`` (the page), ``GET /static/<file>``; guarded:
``GET /dashboard/requests?after=<RequestId>&limit=<n>`` (newest entries since ``after``, or
the last ``limit`` with ``"restart": true`` when ``after`` is gone), ``GET
/dashboard/requests/<RequestId>`` (the request's pictures, ``ImageRects`` and reply fields:
:mod:`emulator.serve.gallery`), ``GET /dashboard/requests/<RequestId>/<input|cutout|mask>``,
``GET /dashboard/tasks/<TaskID>/result`` (a fresh result Url), ``POST /dashboard/scenarios``
``{"bundled": "drills/flaky-10"}``, ``GET /dashboard/coverage.html`` (a standalone file;
``?fragment=1``: the panel).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from aiohttp import web

import emulator
from emulator import strictjson
from emulator.errors import ApiError
from emulator.scenarios.loading import ScenarioError, load_bundled
from emulator.serve import coverage_html
from emulator.serve.gallery import KINDS, Gallery, View
from emulator.serve.guard import error_reply, guarded, json_reply
from emulator.serve.journal import Entry, outcome_class
from emulator.serve.keys import (
    CLOCK,
    GALLERY,
    RESULT_FILES,
    SCENARIOS,
    SERVICES,
    SETTINGS,
    SHARING,
    TASKS,
)
from emulator.state.files import URL_TTL
from emulator.wire.request import read_body

__all__ = ["CSP", "MAX_ROWS", "add_routes"]

PREFIX = "/_emulator"
#: Journal entries one poll answers at most.
MAX_ROWS = 500
#: The largest body a dashboard route reads (a bundled scenario's name).
MAX_BODY = 4096
STATIC = ("dashboard.css", "dashboard.js")
_TYPES = {".css": "text/css", ".js": "text/javascript", ".html": "text/html"}
#: Only this origin: no CDN, no fonts, no inline script; pictures come as blobs.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "media-src 'self' blob:; connect-src 'self' blob:; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
_PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def add_routes(app: web.Application) -> None:
    """The page, its files and its data routes (before the admin catch-all), and the
    gallery the request path feeds."""
    app[GALLERY] = Gallery()
    app.router.add_get(PREFIX + "/", page)
    app.router.add_get(PREFIX + "/static/{name:[a-z.]{1,32}}", static)
    routes = {
        "/dashboard/requests": requests,
        "/dashboard/requests/{request_id:[0-9a-f-]{36}}": request_view,
        "/dashboard/requests/{request_id:[0-9a-f-]{36}}/{kind:input|cutout|mask}": picture,
        "/dashboard/tasks/{task_id:[0-9]{1,24}}/result": task_result,
        "/dashboard/coverage.html": coverage_page,
    }
    for path, handler in routes.items():
        app.router.add_get(PREFIX + path, guarded(handler))
    app.router.add_post(PREFIX + "/dashboard/scenarios", guarded(load_scenario))


@cache
def _file(name: str) -> bytes:
    return (resources.files("emulator.serve") / "static" / name).read_bytes()


async def page(request: web.Request) -> web.Response:
    """The dashboard's HTML (public: nothing from the journal is in it)."""
    html = _file("dashboard.html").replace(b"{{version}}", emulator.__version__.encode())
    return web.Response(body=html, content_type="text/html", charset="utf-8",
                        headers=_HEADERS)


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        return error_reply(404, f"no dashboard file {name!r}")
    return web.Response(body=_file(name), content_type=_TYPES[name[name.rindex("."):]],
                        charset="utf-8", headers=_HEADERS)


def _row(entry: Entry) -> dict[str, object]:
    return {**entry.to_json(), "class": outcome_class(entry.code)}


async def requests(request: web.Request) -> web.Response:
    """Journal entries newer than ``after`` (oldest first), at most ``limit``; when ``after``
    is no longer in the journal (cleared, dropped, or more than ``limit`` came since), the
    last ``limit`` with ``"restart": true``."""
    after = request.query.get("after", "")[:64]
    try:
        limit = min(MAX_ROWS, max(1, int(request.query.get("limit", MAX_ROWS))))
    except ValueError:
        return error_reply(400, "limit must be an integer")
    journal = await request.app[SHARING].journal()
    newer: list[Entry] = []
    restart = True
    for entry in reversed(journal):
        if after and entry.request_id == after:
            restart = False
            break
        if len(newer) == limit:
            break
        newer.append(entry)
    gallery = request.app[GALLERY]
    rows = [{**_row(e), "pictures": e.request_id in gallery} for e in reversed(newer)]
    return json_reply({"requests": rows, "restart": restart, "size": journal.size,
                       "recorded": journal.recorded})


async def _view(request: web.Request) -> View | web.Response:
    app = request.app
    files = app[RESULT_FILES]

    async def stored(key: str) -> bytes | None:
        found = await files.get(key)
        return None if found is None else found.data

    view = await app[GALLERY].view(request.match_info["request_id"], app[SERVICES].prep, stored)
    if view is None:
        return error_reply(404, "nothing kept for this request (it failed, is too old for the "
                                "dashboard's budget, or is no image or task request)")
    return view


async def request_view(request: web.Request) -> web.Response:
    """What the dashboard shows of one successful request: its pictures (described; the
    bytes at ``/<kind>``), ``ImageRects`` over the input's size, the reply's fields."""
    view = await _view(request)
    if isinstance(view, web.Response):
        return view
    return json_reply({"request_id": request.match_info["request_id"], **view.describe()})


async def picture(request: web.Request) -> web.Response:
    """One picture's bytes: the input's thumbnail, the cut-out or the mask."""
    view = await _view(request)
    if isinstance(view, web.Response):
        return view
    kind = request.match_info["kind"]
    shot = view.pictures.get(kind) if kind in KINDS else None
    if shot is None:
        return error_reply(404, f"this request has no {kind} picture kept")
    return web.Response(body=shot.data, content_type=shot.content_type, headers=_PRIVATE)


async def task_result(request: web.Request) -> web.Response:
    """A fresh Url of a finished task's result video, as ``DescribeSegmentationTask`` mints
    it (relative to this emulator), for the page's player."""
    app, task_id = request.app, request.match_info["task_id"]
    task = await app[TASKS].get(task_id)
    if task is None or task.result_key is None or \
            await app[RESULT_FILES].get(task.result_key) is None:
        return error_reply(404, f"task {task_id} has no result video kept")
    ttl = task.plan.url_ttl if task.plan.url_ttl is not None else URL_TTL
    url = app[RESULT_FILES].url("", task.result_key, "result.mp4", app[CLOCK].now(), ttl)
    return json_reply({"task_id": task_id, "url": url, "md5": task.result_md5})


async def load_scenario(request: web.Request) -> web.Response:
    """``{"bundled": "<name>"}``: load a bundled scenario (``errors/<Code>``, ``drills/...``)
    into the global namespace, as ``PUT /_emulator/scenarios`` would its file."""
    try:
        body = strictjson.loads(await read_body(request.content, request.content_length,
                                                MAX_BODY,
                                                timeout=request.app[SETTINGS].read_timeout))
    except ApiError:
        return error_reply(413, f"the body is over {MAX_BODY} bytes or came too slowly")
    except (ValueError, RecursionError):
        return error_reply(400, "the body is not JSON")
    name = body.get("bundled") if isinstance(body, dict) else None
    if not isinstance(name, str) or set(body) != {"bundled"}:
        return error_reply(400, 'expected {"bundled": "<name of a bundled scenario>"}')
    app = request.app
    try:
        scenario = load_bundled(name, app[CLOCK].now())
        if scenario is None:
            return error_reply(404, f"no bundled scenario named {name[:64]!r}")
        replaced = app[SCENARIOS].put(scenario)
    except ScenarioError as exc:
        return error_reply(400, str(exc))
    await app[SHARING].scenarios_changed(None)
    return json_reply({"status": "replaced" if replaced else "created", "name": scenario.name,
                       "rules": len(scenario.rules)}, status=200 if replaced else 201)


async def coverage_page(request: web.Request) -> web.Response:
    """The coverage report as HTML: the panel (``?fragment=1``) or a standalone file."""
    report = await request.app[SHARING].coverage()
    if request.query.get("fragment"):
        return web.Response(text=coverage_html.fragment(report), content_type="text/html",
                            headers=_PRIVATE)
    text = coverage_html.document(report, _file("dashboard.css").decode("utf-8"))
    return web.Response(text=text, content_type="text/html", headers={
        **_PRIVATE, "Content-Disposition": 'attachment; filename="bda-coverage.html"'})
