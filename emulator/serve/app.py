"""``create_app(settings)``: app state under typed keys, the API route, the admin routes.

One API request goes down a straight line of named stages, outermost first, each a small
function here or a module of its own:

1. :func:`api` — request id; whatever happens, a journal entry (:mod:`~emulator.serve.trace`),
   coverage and an access-log line;
2. :func:`_serve` — the envelope around everything (every error becomes a Tencent reply);
   the body's bytes held against the in-flight budget (:mod:`~emulator.serve.admission`);
   :func:`_read`, bounded in size and time, into the one :class:`RawRequest`;
3. :func:`_handle` — facts read best effort (:mod:`~emulator.scenarios.facts`), the scenarios'
   decision (so a scenario can fail a request that would fail authentication), then a
   transport fault (:mod:`~emulator.serve.transport`, below the envelope), an injected error,
   or the real answer, cancelled if the client hangs up (:mod:`~emulator.serve.hangup`);
4. :func:`_answer` → :func:`_dispatch` — the gateway's checks (:func:`~emulator.wire.gateway.admit`)
   and the action's handler from the registry; the reply.

When no scenario could act on a request (no ``X-Emulator-Scenario``, none active for it), an
image action's TC3 JSON POST skips the decision: :func:`_answer_repeatable` runs the gateway's
checks, then answers a repeat from the reply cache (:mod:`~emulator.serve.replycache`) or the
action, keeping its success for the next repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from aiohttp import web

from emulator import offload
from emulator.actions import create_segmentation_task
from emulator.actions.jobs import JobRunner, JobSettings
from emulator.actions.registry import ACTIONS, REGIONS
from emulator.actions.results import ResultCache
from emulator.actions.services import Directives, Outcome, Services
from emulator.clock import Clock
from emulator.errors import ApiError, Language
from emulator.inputs.fetch import FetchPolicy, UrlMap, make_session
from emulator.scenarios import effects
from emulator.scenarios.facts import Facts, gather
from emulator.scenarios.loading import Scenario, ScenarioError, UnknownScenario, load_paths
from emulator.scenarios.store import ScenarioStore, unknown_reasons
from emulator.serve import accesslog, admin, heap, results, transport
from emulator.serve.admission import in_flight_budget, reserved
from emulator.serve.edge import EmulatorRunner
from emulator.serve.generation import bump_generation
from emulator.serve.hangup import cancelled_on_hangup
from emulator.serve.journal import OK, Coverage, Journal
from emulator.serve.keys import (
    BUDGET,
    CLOCK,
    COVERAGE,
    CREDENTIALS,
    GALLERY,
    JOURNAL,
    RATES,
    REPLIES,
    RESULT_FILES,
    SCENARIOS,
    SERVICES,
    SETTINGS,
    SHARING,
    TASKS,
)
from emulator.serve.replies import failure, new_request_id, success
from emulator.serve.replycache import ReplyCache, Reuse, candidate, header_facts, key_of, reusable
from emulator.serve.sharing import RedisSharing, Sharing
from emulator.serve.trace import Trace
from emulator.settings import Settings
from emulator.state.files import ResultFiles
from emulator.state.rates import RateWindows
from emulator.state.redis_link import is_unavailable, shown_url
from emulator.state.tasks import MemoryTasks, Task
from emulator.wire.credentials import Credentials
from emulator.wire.gateway import Call, admit
from emulator.wire.params import language_of
from emulator.wire.request import (
    RawRequest,
    body_limit,
    body_sha256,
    check_query,
    drain,
    media_type,
    read_body,
)
from emulator.wire.validation import RequestValidator

log = logging.getLogger("bda_emulator")

__all__ = ["CLOCK", "COVERAGE", "CREDENTIALS", "JOURNAL", "SCENARIOS", "SERVICES", "SETTINGS",
           "api", "create_app", "make_runner"]

SCENARIO_HEADER = "x-emulator-scenario"

#: aiohttp's parser limits, raised so a 32 KB GET request line is served, not refused.
MAX_LINE_SIZE = 64 * 1024
MAX_FIELD_SIZE = 64 * 1024
#: How long aiohttp keeps reading a body nobody consumed (a slow client cut off by
#: ``--read-timeout``) before closing; its default of 10 s would hold the connection.
LINGERING_TIME = 1.0


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> web.Application:
    """The emulator as an aiohttp application (configuration is read by the caller)."""
    settings = settings or Settings()
    app = web.Application(client_max_size=1024**2,
                          middlewares=[_unrouted_to_api, _admin_mutations_bump])
    app[SETTINGS] = settings
    app[CLOCK] = clock or Clock()
    app[CREDENTIALS] = Credentials.load(settings.credentials_path)
    accounts = len(app[CREDENTIALS].accounts)
    log.info("loaded %d account%s from %s", accounts, "" if accounts == 1 else "s",
             settings.credentials_path)
    now = app[CLOCK].now()
    app[JOURNAL] = Journal(settings.journal_size)
    app[COVERAGE] = Coverage(now, {name: action.codes for name, action in ACTIONS.items()})
    app[BUDGET] = in_flight_budget(settings.max_inflight_bytes)
    app[REPLIES] = ReplyCache(settings.cache_size)
    start = load_paths(settings.scenarios, now)
    if settings.state == "memory":
        app[SCENARIOS] = ScenarioStore(start, now)
        app[RESULT_FILES] = ResultFiles(settings.result_files, settings.result_bytes)
        app[TASKS] = MemoryTasks(settings.task_keep, on_evict=_forget_result(app[RESULT_FILES]))
        app[RATES] = RateWindows()
        app[SHARING] = Sharing(app[JOURNAL], app[COVERAGE])
    else:
        _shared_stores(app, start, now)
    app[SHARING].on_reload = app[REPLIES].bump  # another process changed the definitions
    app.cleanup_ctx.append(_sharing)
    app.cleanup_ctx.append(_services)
    admin.add_routes(app)
    results.add_routes(app)
    app.router.add_route("*", "/{tail:.*}", api)
    return app


def _shared_stores(app: web.Application, start: list[Scenario], now: float) -> None:
    """The stores of ``--state redis://…``: the client connects at start (:func:`_sharing`)."""
    from emulator.state.redis_counters import RedisCounters, RedisRates
    from emulator.state.redis_link import RedisLink
    from emulator.state.redis_objects import RedisFiles, RedisTasks
    from emulator.state.redis_records import RedisRecords

    settings = app[SETTINGS]
    link = RedisLink(settings.state, settings.state_prefix)
    app[SCENARIOS] = ScenarioStore(start, now, counters=RedisCounters(link))
    files = RedisFiles(link, settings.result_files, settings.result_bytes)  # secret: at start
    app[RESULT_FILES] = files
    app[TASKS] = RedisTasks(link, settings.task_keep, on_evict=_forget_result(files))
    app[RATES] = RedisRates(link)
    app[SHARING] = RedisSharing(link, RedisRecords(link, settings.journal_size), files,
                                app[JOURNAL], app[COVERAGE])


def _forget_result(files: ResultFiles) -> Callable[[Task], Awaitable[None]]:
    """An evicted task takes its result file with it."""
    async def forget(task: Task) -> None:
        if task.result_key is not None:
            await files.delete(task.result_key)
    return forget


async def _sharing(app: web.Application) -> AsyncIterator[None]:
    """Reach the shared store (or fail the start naming it) before anything is served."""
    sharing = app[SHARING]
    await sharing.start(app[SCENARIOS], app[CREDENTIALS], app[CLOCK])
    if sharing.shared:
        log.info("state shared through %s (prefix %s)", shown_url(app[SETTINGS].state),
                 app[SETTINGS].state_prefix)
    try:
        yield
    finally:
        await sharing.close()


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    heap.tune()  # glibc: no fresh pages per request (emulator.serve.heap)
    policy = FetchPolicy(connect_timeout=settings.url_connect_timeout,
                         total_timeout=settings.url_timeout, max_bytes=settings.url_max_bytes,
                         allowed_hosts=frozenset(settings.url_allowed_hosts),
                         allow_private=settings.url_allow_private)
    executor = ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="segment")
    prep = ThreadPoolExecutor(max_workers=2, thread_name_prefix="prep")
    videos = ThreadPoolExecutor(max_workers=settings.task_workers, thread_name_prefix="video")
    session = make_session(policy)
    jobs = JobRunner(app[TASKS], app[RESULT_FILES], app[CLOCK], JobSettings(
        workers=settings.task_workers, queue=settings.task_queue,
        per_account=settings.task_limit, pace=settings.task_pace, keep=settings.task_keep),
        videos, create_segmentation_task.segmenter(settings.max_subjects),
        refresh=app[SHARING].sync if app[SHARING].shared else None)
    jobs.start()
    app[SERVICES] = Services(
        validators={name: RequestValidator.for_action(name) for name in ACTIONS},
        cache=ResultCache(settings.cache_size), executor=executor, prep=prep, session=session,
        fetch_policy=policy, url_map=UrlMap.load(settings.url_map_path),
        max_subjects=settings.max_subjects, image_timeout=settings.image_timeout,
        results=app[RESULT_FILES], clock=app[CLOCK], jobs=jobs,
        video_policy=replace(policy, max_bytes=settings.video_max_bytes),
        public_url=settings.public_url)
    try:
        yield
    finally:
        await jobs.stop()
        videos.shutdown(wait=False, cancel_futures=True)
        await session.close()
        executor.shutdown(wait=False, cancel_futures=True)
        prep.shutdown(wait=False, cancel_futures=True)


@web.middleware
async def _unrouted_to_api(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    """What the router cannot place goes to :func:`api` too, never to aiohttp's text 404.

    Only a target not starting with ``/`` escapes the catch-all route: authority-form
    (``CONNECT host:443``) and asterisk-form (``OPTIONS *``). The API answers those like any
    request it cannot serve (``UnsupportedProtocol`` for such methods), and journals them.

    A CONNECT reply is the one envelope not sent with HTTP 200 (a deviation): a 2xx would tell
    the client its tunnel is open, and HTTP forbids it a body. It is 405 with ``Allow``, and
    the connection closes, since the client may already be sending tunnel bytes.
    """
    unrouted = request.match_info.http_exception is not None
    response = await (api(request) if unrouted else handler(request))
    if request.method == "CONNECT" and not response.prepared:
        response.set_status(405)
        response.headers["Allow"] = "GET, POST"
        response.force_close()
    return response


@web.middleware
async def _admin_mutations_bump(request: web.Request,
                                handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                                ) -> web.StreamResponse:
    """Every admin request but a read (accounts, scenarios, clock, reset...) may change the
    answers: a new state generation (:mod:`~emulator.serve.generation`), once it is done."""
    try:
        return await handler(request)
    finally:
        if request.method not in ("GET", "HEAD") and request.path.startswith(admin.PREFIX + "/"):
            bump_generation(request.app)


async def api(request: web.Request) -> web.StreamResponse:
    """Every non-admin request: recorded, exposed to scenarios, answered with the envelope."""
    app = request.app
    started = time.perf_counter()
    at = app[CLOCK].now()
    trace = Trace(new_request_id())
    try:
        return await _serve(request, trace)
    finally:
        entry = trace.entry(request.method, at, time.perf_counter() - started)
        try:
            await app[SHARING].record(entry, trace.code, trace.facts.action, trace.scope)
        except Exception as exc:  # the reply stands; only its record is lost
            if not is_unavailable(exc):
                raise
            app[SHARING].unreachable(exc, "to record a request")
        accesslog.emit(entry, app[SETTINGS].log_format)


async def _serve(request: web.Request, trace: Trace) -> web.StreamResponse:
    language: Language = "zh-CN" if request.headers.get("X-TC-Language") == "zh-CN" else "en-US"
    try:
        async with reserved(request):
            raw = await _read(request)
            language = language_of(raw)
            return await _handle(request, raw, language, trace)
    except ApiError as error:
        trace.failed(error)
        response = failure(error, language, trace.request_id)
        if error.code == "FailedOperation.RequestTimeout":  # a slow client: let it go
            response.force_close()
        return response
    except asyncio.CancelledError:  # the client went away or the server is stopping
        trace.code = "transport.cancelled"
        raise
    except Exception as exc:  # the envelope must hold even for emulator bugs
        if is_unavailable(exc):  # not a bug: the shared store is down (said, throttled)
            request.app[SHARING].unreachable(exc, f"RequestId {trace.request_id}")
        else:
            log.exception("internal error serving %s %s (RequestId %s)", request.method,
                          request.path, trace.request_id)
        trace.code = "InternalError"
        return failure(ApiError("InternalError"), language, trace.request_id)


async def _handle(request: web.Request, raw: RawRequest, language: Language,
                  trace: Trace) -> web.StreamResponse:
    """Facts, the scenarios' decision, then a fault, an injected error or the real answer."""
    app = request.app
    header = raw.headers.get(SCENARIO_HEADER)
    await app[SHARING].sync()
    if header is None and app[REPLIES].enabled and candidate(raw):
        trace.facts = header_facts(raw)  # enough to find the request's namespace
        trace.scope = trace.facts.secret_id
        if not app[CREDENTIALS].is_namespace(trace.scope):
            trace.scope = None
        if _scenario_free(app, trace.scope):
            response, trace.code = await _answer_repeatable(request, raw, language, trace)
            return response
    trace.facts = await _facts(app, raw, False)
    claimed = trace.facts.secret_id  # the request's own namespace, when it names an account
    trace.scope = claimed if app[CREDENTIALS].is_namespace(claimed) else None
    now = app[CLOCK].now(trace.scope)
    if app[SCENARIOS].needs_image(header, trace.scope):  # hashing megabytes: only then
        trace.facts = await _facts(app, raw, True)
    try:
        decision = await app[SCENARIOS].decide(trace.facts, now, header, trace.scope)
    except UnknownScenario as exc:  # say so to the client, in its language
        raise ApiError("InvalidParameter", **unknown_reasons(header or "")) from exc
    except ScenarioError as exc:
        raise ApiError("InvalidParameter", reason=str(exc)) from exc
    trace.rules = decision.rules
    if decision.delay > 0:
        await asyncio.sleep(decision.delay)
    effect = decision.effect
    if isinstance(effect, effects.TransportFault):
        trace.code = effect.label

        async def real() -> web.Response:
            async with cancelled_on_hangup(request):
                return (await _answer(app, raw, language, trace, Directives()))[0]

        return await transport.apply(effect, request, real)
    if isinstance(effect, effects.ErrorEffect):
        raise effect.error()
    directives = Directives(job=effect.plan if isinstance(effect, effects.JobEffect) else None)
    async with cancelled_on_hangup(request):
        response, trace.code = await _answer(app, raw, language, trace, directives)
    return response


async def _answer(app: web.Application, raw: RawRequest, language: Language,
                  trace: Trace, directives: Directives) -> tuple[web.Response, str]:
    """Normal processing: the reply and its outcome code."""
    try:
        outcome = await _dispatch(app, raw, directives, trace.scope)
    except ApiError as error:
        trace.failed(error)
        return failure(error, language, trace.request_id), error.code
    trace.picture = outcome.picture
    trace.task = outcome.task
    app[GALLERY].keep(trace.request_id, outcome)  # references only: the dashboard's pictures
    return success(outcome.fragment, trace.request_id), OK


def _scenario_free(app: web.Application, scope: str | None) -> bool:
    """Whether no scenario is active for a request without ``X-Emulator-Scenario`` (in the
    global namespace, nor in ``scope``'s): none could act on it."""
    return app[SCENARIOS].quiet(scope)


async def _answer_repeatable(request: web.Request, raw: RawRequest, language: Language,
                             trace: Trace) -> tuple[web.Response, str]:
    """:func:`_answer` for a reusable candidate no scenario acts on: the gateway's checks on
    every request, then a kept reply for a repeat, else the action (its success kept)."""
    app = request.app
    replies = app[REPLIES]
    head = trace.facts
    try:
        await offload.run(app[SERVICES].prep, len(raw.body), body_sha256, raw)
        call = await _admitted(app, raw, trace.scope, 0)  # the body is hashed: small work left
        key = key_of(call, raw, language, replies.generation)
        kept = replies.get(key)
        if kept is not None:
            trace.facts, outcome = kept.facts(head), kept.outcome
        else:
            trace.facts = await _facts(app, raw, False)
            async with cancelled_on_hangup(request):
                outcome = await ACTIONS[call.action].handler(app[SERVICES], call, raw,
                                                             Directives())
            if reusable(call, raw, outcome):
                replies.put(key, Reuse(outcome, trace.facts.options, trace.facts.url))
    except ApiError as error:
        if trace.facts is head:  # the journal's facts as an uncached failure's
            trace.facts = await _facts(app, raw, False)
        trace.failed(error)
        return failure(error, language, trace.request_id), error.code
    trace.picture = outcome.picture
    app[GALLERY].keep(trace.request_id, outcome)  # references only: the dashboard's pictures
    return success(outcome.fragment, trace.request_id), OK


async def _facts(app: web.Application, raw: RawRequest, with_image: bool) -> Facts:
    return await offload.run(app[SERVICES].prep, len(raw.body), gather, raw, with_image)


async def _read(request: web.Request) -> RawRequest:
    target = request.raw_path
    if request.method not in ("GET", "POST"):
        with contextlib.suppress(TimeoutError):  # bounded like every body
            async with asyncio.timeout(request.app[SETTINGS].read_timeout):
                await drain(request.content)
        raise ApiError("UnsupportedProtocol")
    path, _, query = target.partition("?")
    headers = {k.lower(): v for k, v in reversed(list(request.headers.items()))}
    limit = body_limit(request.method, media_type(headers))
    body = await read_body(request.content, request.content_length, limit,
                           timeout=request.app[SETTINGS].read_timeout)
    if request.method == "GET":
        check_query(target)
    return RawRequest(request.method, path, query, headers, body)


async def _dispatch(app: web.Application, raw: RawRequest, directives: Directives,
                    scope: str | None) -> Outcome:
    call = await _admitted(app, raw, scope, len(raw.body))
    return await ACTIONS[call.action].handler(app[SERVICES], call, raw, directives)


async def _admitted(app: web.Application, raw: RawRequest, scope: str | None,
                    size: int) -> Call:
    """The gateway's checks (off the event loop when ``size``, the bytes they work on, is
    large), then the action's rate limit."""
    if raw.path != "/":
        raise ApiError("UnsupportedOperation",
                       reason=f"the path `{raw.path[:100]}` is not served; API 3.0 calls go to `/`")
    call = await offload.run(app[SERVICES].prep, size, admit, raw,
                             credentials=app[CREDENTIALS], regions=REGIONS,
                             now=app[CLOCK].now(scope), ttl=app[SETTINGS].signature_ttl)
    action = ACTIONS[call.action]
    if action.rate is not None and not await app[RATES].allow(
            call.account.secret_id, call.action, action.rate, app[CLOCK].now(scope)):
        raise ApiError("RequestLimitExceeded",
                       explain=f"over {action.rate} requests per second for {call.action}")
    return call


def make_runner(app: web.Application) -> web.AppRunner:
    """An AppRunner with the parser limits the contract needs, whose server answers even
    unparsable requests with the envelope (:mod:`emulator.serve.edge`)."""
    settings = app[SETTINGS]
    return EmulatorRunner(app, head_timeout=settings.read_timeout,
                          max_connections=settings.connection_limit, access_log=None,
                          max_line_size=MAX_LINE_SIZE, max_field_size=MAX_FIELD_SIZE,
                          lingering_time=LINGERING_TIME)
