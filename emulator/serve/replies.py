"""The wire envelope's bytes as aiohttp responses (status 200, the exact Content-Type)."""

from __future__ import annotations

from aiohttp import web

from emulator import errors
from emulator.wire import envelope

__all__ = ["failure", "new_request_id", "success"]

new_request_id = envelope.new_request_id


def success(fragment: bytes, request_id: str) -> web.Response:
    """A successful reply around the serialised output fields."""
    return web.Response(status=envelope.STATUS, body=envelope.success(fragment, request_id),
                        headers=envelope.HEADERS)


def failure(error: errors.ApiError, language: errors.Language, request_id: str) -> web.Response:
    """An error reply, rendered by :func:`emulator.wire.envelope.failure`."""
    return web.Response(status=envelope.STATUS,
                        body=envelope.failure(error, language, request_id),
                        headers=envelope.HEADERS)
