"""The wire envelope's bytes as aiohttp responses (status 200, the exact Content-Type).

A failure's explanation (``ApiError.explain``, else its detailed reason) never goes on the wire:
besides the journal entry it is logged here at DEBUG on ``bda_emulator.explain``, the same
text the journal keeps (clipped alike), so a test author can read why without the admin API.
"""

from __future__ import annotations

import logging

from aiohttp import web

from emulator import errors
from emulator.serve.trace import MAX_EXPLAIN_CHARS
from emulator.text import clean
from emulator.wire import envelope

__all__ = ["failure", "new_request_id", "success"]

log = logging.getLogger("bda_emulator.explain")

new_request_id = envelope.new_request_id


def success(fragment: bytes, request_id: str) -> web.Response:
    """A successful reply around the serialised output fields."""
    return web.Response(status=envelope.STATUS, body=envelope.success(fragment, request_id),
                        headers=envelope.HEADERS)


def failure(error: errors.ApiError, language: errors.Language, request_id: str) -> web.Response:
    """An error reply, rendered by :func:`emulator.wire.envelope.failure`; its explanation
    logged at DEBUG."""
    if log.isEnabledFor(logging.DEBUG):
        why = error.explain or error.details.get("reason")
        if why:
            log.debug("RequestId %s rejected with %s: %s", request_id, error.code,
                      clean(why[:MAX_EXPLAIN_CHARS]))
    return web.Response(status=envelope.STATUS,
                        body=envelope.failure(error, language, request_id),
                        headers=envelope.HEADERS)
