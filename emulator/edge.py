"""The HTTP edge below the app: even a request aiohttp cannot parse gets the Tencent envelope.

aiohttp answers unparsable requests (a request line over the limit, a broken header, a bad
chunked body) itself, with a ``400 text/plain`` page, and logs a traceback. The real API gateway
answers every request it processed with HTTP 200 and a JSON error; so does the emulator: this
module swaps in a request handler whose ``handle_error`` renders through :mod:`envelope`.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from emulator.envelope import failure, new_request_id
from emulator.errors import ApiError

log = logging.getLogger("bda_emulator.edge")


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


class EnvelopeRequestHandler(RequestHandler):
    """aiohttp's per-connection handler, answering its own errors with the envelope.

    It also closes a connection whose first request head has not arrived within
    ``head_timeout`` seconds, so a client sending a byte per second holds nothing for long
    (aiohttp itself has no such deadline; idle keep-alive connections close after 75 s).
    """

    head_timeout: float = 0.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.head_timeout > 0:
            loop = asyncio.get_running_loop()
            self._head_timer = loop.call_later(self.head_timeout, self._head_deadline)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _head_deadline(self) -> None:
        if self._request_count == 0 and self.transport is not None:
            log.debug("closed a connection that sent no request head in %ss", self.head_timeout)
            self.transport.close()

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
        return response


class EnvelopeServer(web.Server):
    """An aiohttp low-level server that creates :class:`EnvelopeRequestHandler` s."""

    head_timeout: float = 0.0

    def __call__(self) -> RequestHandler:
        handler = EnvelopeRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.head_timeout = self.head_timeout
        return handler


class EmulatorRunner(web.AppRunner):
    """An AppRunner whose server answers parse errors with the envelope."""

    def __init__(self, app: web.Application, *, head_timeout: float = 0.0,
                 **kwargs: object) -> None:
        super().__init__(app, **kwargs)  # type: ignore[arg-type]
        self._head_timeout = head_timeout

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        envelope = EnvelopeServer(server.request_handler, request_factory=server.request_factory,
                                  handler_cancellation=server.handler_cancellation,
                                  loop=server._loop, **server._kwargs)
        envelope.head_timeout = self._head_timeout
        return envelope
