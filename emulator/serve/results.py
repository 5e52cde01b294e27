"""The route that serves result files by Url, answering like Tencent COS does.

``GET /_results/<key>/<name>`` (outside the emulated API's ``/`` and the admin API; no token:
the Url itself is the credential, as a presigned COS Url is). A stored file answers 200 with
its media type and an ``ETag`` of its MD5; after its Url expired (on the emulator's clock) 403
``AccessDenied`` "Request has expired"; a key never stored or already evicted 404
``NoSuchKey`` — each with COS's XML error body (``application/xml``): ``Code``, ``Message``,
``Resource``, ``RequestId``, ``TraceId``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from xml.sax.saxutils import escape

from aiohttp import web

from emulator.serve.keys import CLOCK, RESULT_FILES
from emulator.state.files import PATH_PREFIX

__all__ = ["add_routes"]

_ROUTE = PATH_PREFIX + "/{key:[0-9a-f]{32}}/{name:[A-Za-z0-9._-]{1,64}}"


def add_routes(app: web.Application) -> None:
    """Register the results route (before the API's catch-all route)."""
    app.router.add_get(_ROUTE, serve_file)
    app.router.add_route("*", PATH_PREFIX + "/{tail:.*}", _unknown)


async def serve_file(request: web.Request) -> web.StreamResponse:
    stored = request.app[RESULT_FILES].get(request.match_info["key"])
    if stored is None:
        return _not_found(request)
    if request.app[CLOCK].now() >= stored.expires_at:
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
