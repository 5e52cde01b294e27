"""The route that serves result files by Url, answering like Tencent COS does.

``GET /_results/<key>/<name>?q-sign-time=<start>;<end>&q-signature=…`` (outside the emulated
API's ``/`` and the admin API; no token: the signed Url is the credential, as a presigned COS
Url is). In COS's order: a key never stored, evicted or deleted answers 404 ``NoSuchKey``; a
missing or altered signature 403 ``SignatureDoesNotMatch``; a Url past its end (on the
emulator's clock) 403 ``AccessDenied`` "Request has expired"; otherwise 200 with the file's
media type and an ``ETag`` of its MD5. Errors carry COS's XML body (``application/xml``):
``Code``, ``Message``, ``Resource``, ``RequestId``, ``TraceId``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from xml.sax.saxutils import escape

from aiohttp import web

from emulator.serve.keys import CLOCK, RESULT_FILES, SHARING
from emulator.state.files import PATH_PREFIX
from emulator.state.redis_link import is_unavailable

__all__ = ["add_routes"]

_ROUTE = PATH_PREFIX + "/{key:[0-9a-f]{32}}/{name:[A-Za-z0-9._-]{1,64}}"


def add_routes(app: web.Application) -> None:
    """Register the results route (before the API's catch-all route)."""
    app.router.add_get(_ROUTE, serve_file)
    app.router.add_route("*", PATH_PREFIX + "/{tail:.*}", _unknown)


async def serve_file(request: web.Request) -> web.StreamResponse:
    files, key = request.app[RESULT_FILES], request.match_info["key"]
    sharing = request.app[SHARING]
    try:
        await sharing.sync()  # the clock another replica moved decides the Url's expiry
        stored = await files.get(key)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        sharing.unreachable(exc, f"GET {PATH_PREFIX}/…")
        return _cos_error(request, 503, "ServiceUnavailable", "Please reduce your request rate.")
    if stored is None:
        return _not_found(request)
    end = files.valid_until(key, request.query.get("q-sign-time", "")[:64],
                            request.query.get("q-signature", "")[:64])
    if end is None:
        return _cos_error(request, 403, "SignatureDoesNotMatch", "The request signature we "
                          "calculated does not match the signature you provided.")
    if request.app[CLOCK].now() >= end:
        return _cos_error(request, 403, "AccessDenied", "Request has expired")
    etag = hashlib.md5(stored.data, usedforsecurity=False).hexdigest()
    return web.Response(body=stored.data, content_type=stored.content_type,
                        headers={"ETag": f'"{etag}"', "x-cos-request-id": _request_id()})


async def _unknown(request: web.Request) -> web.Response:
    return _not_found(request)


def _not_found(request: web.Request) -> web.Response:
    if request.method not in ("GET", "HEAD"):
        return _cos_error(request, 405, "MethodNotAllowed",
                          "The specified method is not allowed against this resource.")
    return _cos_error(request, 404, "NoSuchKey", "The specified key does not exist.")


def _cos_error(request: web.Request, status: int, code: str, message: str) -> web.Response:
    body = ("<?xml version='1.0' encoding='utf-8' ?>\n<Error>\n"
            f"\t<Code>{code}</Code>\n\t<Message>{message}</Message>\n"
            f"\t<Resource>{escape(request.path[:256])}</Resource>\n"
            f"\t<RequestId>{_request_id()}</RequestId>\n"
            f"\t<TraceId>{secrets.token_hex(24)}</TraceId>\n</Error>\n")
    return web.Response(status=status, text=body, content_type="application/xml")


def _request_id() -> str:
    """Shaped like COS's request ids (base64 text)."""
    return base64.b64encode(secrets.token_bytes(24)).decode("ascii")
