"""The one place that turns a result or an error into the bytes of the Tencent Cloud reply.

Every reply is HTTP 200 with ``Content-Type: application/json`` exactly (the Python SDK silently
ignores errors when a charset is appended) and ``{"Response": {..., "RequestId": ...}}``.
:mod:`emulator.serve.replies` wraps these bytes in HTTP responses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from emulator.errors import ApiError, Language
from emulator.text import clean

CONTENT_TYPE = "application/json"


def new_request_id() -> str:
    """A lower-case UUID4, the shape of the real service's RequestId."""
    return str(uuid.uuid4())


#: Every reply's status and headers.
STATUS = 200
HEADERS: Mapping[str, str] = {"Content-Type": CONTENT_TYPE}


def fields_fragment(fields: Mapping[str, Any]) -> bytes:
    """The output fields serialised once, as the inside of a JSON object (cacheable)."""
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")[1:-1]


def success(fragment: bytes, request_id: str) -> bytes:
    """A successful reply: the serialised output fields spliced in before the RequestId."""
    head = b'{"Response":{' + fragment + b"," if fragment else b'{"Response":{'
    return b"".join((head, b'"RequestId":"', request_id.encode("ascii"), b'"}}'))


def error_body(error: ApiError, language: Language, request_id: str) -> dict[str, Any]:
    """The ``Response`` object of an error reply (a message echoing client bytes included)."""
    return {"Error": {"Code": error.code, "Message": clean(error.message(language))},
            "RequestId": request_id}


def failure(error: ApiError, language: Language, request_id: str) -> bytes:
    """An error reply: still HTTP 200, as the real service answers every processed request."""
    body = {"Response": error_body(error, language, request_id)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
