"""The HTTP edge below the app: even a request aiohttp cannot parse gets the Tencent envelope.

aiohttp answers unparsable requests (a request line over the limit, a broken header, a bad
chunked body) itself, with a ``400 text/plain`` page, and logs a traceback. The real API gateway
answers every request it processed with HTTP 200 and a JSON error; so does the emulator: this
module swaps in a request handler whose ``handle_error`` renders through
:mod:`emulator.wire.envelope`.

It also bounds what a connection may hold: every request head must arrive within the read
timeout of the connection opening or of the previous reply, and at most ``max_connections``
are open at once; refusals and accept() failures are logged at most once per
:data:`WARN_INTERVAL` seconds, however many there are.

This is the one module that relies on aiohttp internals, listed in :data:`PRIVATE_HOOKS` and
checked by ``tests/test_aiohttp_hooks.py`` so an aiohttp upgrade that moves them fails loudly.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from emulator.errors import ApiError
from emulator.serve.replies import failure, new_request_id

log = logging.getLogger("bda_emulator.edge")

#: aiohttp internals this module uses, (owner, attribute): checked by a test against the
#: installed aiohttp. Everything else goes through aiohttp's public API.
PRIVATE_HOOKS: tuple[tuple[str, str], ...] = (
    ("aiohttp.web_protocol.RequestHandler", "_request_count"),  # heads parsed on a connection
    ("aiohttp.web_server.Server", "_kwargs"),  # handler options, passed to our handler
    ("aiohttp.web_server.Server", "_loop"),
    ("aiohttp.web_runner.AppRunner", "_make_server"),  # to build our Server subclass
)
#: The first bytes of a TLS ClientHello record (handshake, version 3.x).
TLS_HANDSHAKE = b"\x16\x03"
#: Refused connections and failed accepts are logged at most this often (seconds).
WARN_INTERVAL = 10.0
#: accept() errors meaning the process is out of descriptors or memory. asyncio reports each
#: to the loop's exception handler, with a traceback: a burst of them (up to the listen backlog)
#: every second it retries, hundreds of log lines a second.
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def error_for(exc: BaseException | None, status: int) -> ApiError:
    """The documented code for a request the HTTP parser refused (or a handler crash)."""
    if isinstance(exc, LineTooLong):
        return ApiError("RequestSizeLimitExceeded", reason="a request line or header is too long")
    if isinstance(exc, BadHttpMethod):
        return ApiError("UnsupportedProtocol")
    if isinstance(exc, HttpProcessingError):
        return ApiError("InvalidParameter", reason="The HTTP request is malformed.",
                        reason_zh="HTTP 请求格式错误。")
    if status == 504:
        return ApiError("FailedOperation.RequestTimeout")
    return ApiError("InternalError")


class Throttled:
    """A warning logged at most once per ``interval`` seconds, counting the events it covers.

    The first event is logged at once; later ones within the interval are counted and logged
    together when it ends, so a flood of events is a line per interval, and none is lost.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, template: str,
                 interval: float = WARN_INTERVAL) -> None:
        self._loop = loop
        self._template = template  # one %d: how many events
        self._interval = interval
        self._count = 0
        self._quiet_until = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def note(self) -> None:
        """One more event."""
        self._count += 1
        if self._timer is not None:
            return
        if self._loop.time() >= self._quiet_until:
            self._flush()
        else:
            self._timer = self._loop.call_at(self._quiet_until, self._flush)

    def close(self) -> None:
        """Log what is still counted (at shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._flush()

    def _flush(self) -> None:
        self._timer = None
        log.warning(self._template, self._count)
        self._count = 0
        self._quiet_until = self._loop.time() + self._interval


class EnvelopeRequestHandler(RequestHandler):
    """aiohttp's per-connection handler, answering its own errors with the envelope.

    It closes a connection whose next request head has not arrived within ``head_timeout``
    seconds of the connection opening or of the previous reply, so a client trickling a
    header line now and then holds nothing for long (aiohttp has no deadline for a head, and
    keeps an idle keep-alive connection for an hour). A request being answered is not cut:
    its body has its own deadline (:func:`emulator.wire.request.read_body`).
    """

    edge: EnvelopeServer
    _admitted = False
    _answered = 0
    _seen_bytes = False
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self.edge.admit():
            transport.close()  # nothing written: the client sees the connection closed
            return
        self._admitted = True
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if not self._seen_bytes:
            self._seen_bytes = True
            if data[:2] == TLS_HANDSHAKE:  # an SDK left at https: say so, once; the bytes
                self.edge.tls_on_plain_port.note()  # still get the envelope, as any others
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:  # refused in connection_made: aiohttp never saw it
            return
        self.edge.release()
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    async def finish_response(self, request: BaseRequest, resp: web.StreamResponse,
                              start_time: float | None) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:  # a reply is out: the next head is due within head_timeout from now
            self._answered += 1
            self._arm_head_timer()

    def _heads_received(self) -> int:
        """Request heads the parser has completed on this connection (malformed ones included).

        The one aiohttp internal the deadline relies on: ``RequestHandler._request_count``,
        incremented in ``data_received`` for each parsed head before its handler runs (aiohttp
        3.9 to 3.14). A trickled, incomplete head does not count, so it cannot extend the
        deadline.
        """
        return self._request_count

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self.edge.head_timeout > 0 and self.transport is not None:
            loop = asyncio.get_running_loop()
            self._head_timer = loop.call_later(self.edge.head_timeout, self._head_deadline)

    def _head_deadline(self) -> None:
        self._head_timer = None
        if self.transport is None or self._heads_received() > self._answered:
            return  # closed, or a request is being answered: re-armed when its reply is out
        log.debug("closed a connection whose request head did not arrive in %gs",
                  self.edge.head_timeout)
        self.force_close()

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError) or exc is None:
            log.debug("refused an unparsable request: %s", exc)
        else:
            log.error("internal error outside the API handler", exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("the reply had started; the connection is closed instead")
        response = failure(error_for(exc, status), "en-US", new_request_id())
        response.force_close()
        # Said explicitly: the error reply is HTTP/1.0 (aiohttp's stand-in for an unparsed
        # request), which omits the header, and a client that pipelined more requests behind
        # this one must learn that they were not read and will not be answered.
        response.headers["Connection"] = "close"
        return response


class EnvelopeServer(web.Server):
    """An aiohttp low-level server that creates :class:`EnvelopeRequestHandler` s and counts
    their connections against ``max_connections`` (0: unlimited).

    Over the limit a new connection is closed at once, before a byte is read, so a client
    opening connections in a loop cannot exhaust the process's file descriptors. Should the
    process run out anyway (a limit set too high), the accept() failures asyncio reports are
    logged as a throttled warning instead of a traceback each.
    """

    open_connections: int = 0

    def __init__(self, *args: Any, head_timeout: float = 0.0, max_connections: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout = head_timeout
        self.max_connections = max_connections
        self._refused = Throttled(self._loop, f"refused %d connection(s): {max_connections} "
                                  "were open, the --max-connections limit")
        self._failed_accepts = Throttled(self._loop, "could not accept %d connection(s): the "
                                         "process is out of file descriptors or memory; lower "
                                         "--max-connections or raise `ulimit -n`")
        self.tls_on_plain_port = Throttled(
            self._loop, "%d TLS handshake(s) arrived on this plain-HTTP port: point the SDK at "
            "it with protocol \"http\" (Python HttpProfile(protocol=\"http\"), Node "
            "profile.httpProfile.protocol \"http://\", tccli --endpoint http://host:port)")
        self._loop_handler = self._loop.get_exception_handler()
        self._loop.set_exception_handler(self._on_loop_error)

    def __call__(self) -> RequestHandler:
        handler = EnvelopeRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.edge = self
        return handler

    def admit(self) -> bool:
        """Count a new connection in, or refuse it (False) when the limit is reached."""
        if 0 < self.max_connections <= self.open_connections:
            self._refused.note()
            return False
        self.open_connections += 1
        return True

    def release(self) -> None:
        """An admitted connection closed."""
        self.open_connections -= 1

    async def shutdown(self, timeout: float | None = None) -> None:
        try:
            await super().shutdown(timeout)
        finally:
            self._refused.close()
            self._failed_accepts.close()
            self.tls_on_plain_port.close()
            if self._loop.get_exception_handler() == self._on_loop_error:
                self._loop.set_exception_handler(self._loop_handler)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if (isinstance(exc, OSError) and exc.errno in OUT_OF_RESOURCES
                and "accept" in str(context.get("message", ""))):
            self._failed_accepts.note()  # asyncio retries accepting by itself a second later
        elif self._loop_handler is not None:
            self._loop_handler(loop, context)
        else:
            loop.default_exception_handler(context)


class EmulatorRunner(web.AppRunner):
    """An AppRunner whose server answers parse errors with the envelope and bounds connections
    (see :class:`EnvelopeServer`)."""

    def __init__(self, app: web.Application, *, head_timeout: float = 0.0,
                 max_connections: int = 0, **kwargs: object) -> None:
        super().__init__(app, **kwargs)  # type: ignore[arg-type]
        self._head_timeout = head_timeout
        self._max_connections = max_connections

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        envelope = EnvelopeServer(server.request_handler, request_factory=server.request_factory,
                                  handler_cancellation=server.handler_cancellation,
                                  loop=server._loop, head_timeout=self._head_timeout,
                                  max_connections=self._max_connections, **server._kwargs)
        return envelope
