"""``create_app(settings)``: app state under typed keys, the API route, the admin routes.

The data path of one API request, outermost first: request id → reply envelope (catches every
error) → method and size limits → gateway checks (signature, common parameters) → action
handler (schema validation, image input, segmentation) → reply.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from emulator import admin
from emulator.actions import ACTIONS, Services
from emulator.clock import Clock
from emulator.credentials import Credentials
from emulator.envelope import failure, new_request_id, success
from emulator.errors import ApiError, Language
from emulator.fetch import FetchPolicy, UrlMap, make_session
from emulator.gateway import admit
from emulator.limits import body_limit, check_query, drain, read_body
from emulator.params import RawRequest, language_of
from emulator.results import ResultCache
from emulator.settings import Settings
from emulator.validation import RequestValidator

log = logging.getLogger("bda_emulator")

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
CREDENTIALS = web.AppKey("credentials", Credentials)
SERVICES = web.AppKey("services", Services)

#: aiohttp's parser limits, raised so a 32 KB GET request line is served, not refused.
MAX_LINE_SIZE = 64 * 1024
MAX_FIELD_SIZE = 64 * 1024


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> web.Application:
    """The emulator as an aiohttp application (configuration is read by the caller)."""
    settings = settings or Settings()
    app = web.Application(client_max_size=1024**2)
    app[SETTINGS] = settings
    app[CLOCK] = clock or Clock()
    app[CREDENTIALS] = Credentials.load(settings.credentials_path)
    app.cleanup_ctx.append(_services)
    admin.add_routes(app)
    app.router.add_route("*", "/{tail:.*}", api)
    return app


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    policy = FetchPolicy(connect_timeout=settings.url_connect_timeout,
                         total_timeout=settings.url_timeout, max_bytes=settings.url_max_bytes,
                         allowed_hosts=frozenset(settings.url_allowed_hosts),
                         allow_private=settings.url_allow_private)
    executor = ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="segment")
    session = make_session(policy)
    app[SERVICES] = Services(
        validators={name: RequestValidator.for_action(name) for name in ACTIONS},
        cache=ResultCache(settings.cache_size), executor=executor, session=session,
        fetch_policy=policy, url_map=UrlMap.load(settings.url_map_path),
        max_subjects=settings.max_subjects)
    try:
        yield
    finally:
        await session.close()
        executor.shutdown(wait=False, cancel_futures=True)


async def api(request: web.Request) -> web.StreamResponse:
    """Every non-admin request: answered with the Tencent envelope, whatever it holds."""
    request_id = new_request_id()
    language: Language = "zh-CN" if request.headers.get("X-TC-Language") == "zh-CN" else "en-US"
    try:
        raw = await _read(request)
        language = language_of(raw)
        return success(await _dispatch(request.app, raw), request_id)
    except ApiError as error:
        return failure(error, language, request_id)
    except Exception:  # the envelope must hold even for emulator bugs
        log.exception("internal error serving %s %s (RequestId %s)", request.method,
                      request.path, request_id)
        return failure(ApiError("InternalError"), language, request_id)


async def _read(request: web.Request) -> RawRequest:
    target = request.raw_path
    if request.method not in ("GET", "POST"):
        await drain(request.content)
        raise ApiError("UnsupportedProtocol")
    path, _, query = target.partition("?")
    headers = {k.lower(): v for k, v in reversed(list(request.headers.items()))}
    raw = RawRequest(request.method, path, query, headers, b"")
    limit = body_limit(request.method, raw.media_type)
    body = await read_body(request.content, request.content_length, limit)
    if request.method == "GET":
        check_query(target)
    return RawRequest(request.method, path, query, headers, body)


async def _dispatch(app: web.Application, raw: RawRequest) -> dict[str, object]:
    if raw.path != "/":
        raise ApiError("UnsupportedOperation",
                       reason=f"the path `{raw.path[:100]}` is not served; API 3.0 calls go to `/`")
    call = admit(raw, credentials=app[CREDENTIALS], actions=ACTIONS,
                 now=app[CLOCK].now(), ttl=app[SETTINGS].signature_ttl)
    return await ACTIONS[call.action](app[SERVICES], call, raw)


def make_runner(app: web.Application) -> web.AppRunner:
    """An AppRunner with the parser limits the contract needs."""
    return web.AppRunner(app, access_log=None, max_line_size=MAX_LINE_SIZE,
                         max_field_size=MAX_FIELD_SIZE)
