"""The raw request as the HTTP edge hands it over, its size limits, and reading a body so that
an oversized one costs bounded memory.

The documented limits: GET ≤ 32 KB, POST signed with v1 (form) ≤ 1 MB, POST signed with v3 ≤
10 MB. An oversized body is still read to its end and discarded before the reply: closing the
connection early shows up in the SDKs as a network error instead of ``RequestSizeLimitExceeded``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from emulator.errors import ApiError

T = TypeVar("T")

KIB = 1024
MIB = 1024 * KIB
GET_LIMIT = 32 * KIB
FORM_LIMIT = 1 * MIB
JSON_LIMIT = 10 * MIB


class StreamReader(Protocol):
    """What body reading needs of aiohttp's ``StreamReader`` (kept out of the wire layer)."""

    async def readany(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class RawRequest:
    """What the HTTP edge hands over: nothing parsed beyond the header block.

    It is the one request object every stage gets. What several stages read of it (the
    signature method, the language, the JSON body) is computed once, on first use, and kept in
    ``_views`` — an outcome or the :class:`ApiError` it raised.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-cased names; first value of each
    body: bytes
    _views: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower-cased."""
        return media_type(self.headers)

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    def view(self, name: str, compute: Callable[[RawRequest], T]) -> T:
        """``compute(self)`` the first time ``name`` is asked for, the same answer (or the
        same :class:`ApiError`) every later time."""
        if name not in self._views:
            try:
                self._views[name] = compute(self)
            except ApiError as error:
                self._views[name] = _Failed(error)
        value = self._views[name]
        if isinstance(value, _Failed):
            raise value.error
        return value  # type: ignore[return-value]

    def has_view(self, name: str) -> bool:
        """Whether ``name`` was computed already."""
        return name in self._views


@dataclass(frozen=True, slots=True)
class _Failed:
    error: ApiError


def body_sha256(raw: RawRequest) -> str:
    """The lower-case hex sha256 of the body, computed once: the TC3 payload hash, and the
    reply cache's key (:mod:`emulator.serve.replycache`)."""
    return raw.view(BODY_SHA256, _body_sha256)


#: The view :func:`body_sha256` keeps.
BODY_SHA256 = "body_sha256"


def _body_sha256(raw: RawRequest) -> str:
    return hashlib.sha256(raw.body).hexdigest()


def media_type(headers: Mapping[str, str]) -> str:
    """The Content-Type without parameters, lower-cased."""
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def body_limit(method: str, media_type: str) -> int:
    """The largest body accepted for this method and Content-Type."""
    if method == "POST" and media_type == "application/x-www-form-urlencoded":
        return FORM_LIMIT
    return JSON_LIMIT


def check_query(raw_target: str) -> None:
    """GET requests carry everything in the request target; 32 KB at most."""
    if len(raw_target) > GET_LIMIT:
        raise ApiError("RequestSizeLimitExceeded",
                       reason=f"a GET request may be {GET_LIMIT} bytes at most")


async def read_body(stream: StreamReader, declared: int | None, limit: int,
                    timeout: float = 0.0) -> bytes:
    """The whole body, or ``RequestSizeLimitExceeded`` after draining it (bounded memory).

    A body that does not arrive within ``timeout`` seconds (0: no limit) is a slow client
    holding a connection: ``FailedOperation.RequestTimeout``, and the connection is closed.
    """
    try:
        async with asyncio.timeout(timeout or None):
            return await _read_body(stream, declared, limit)
    except TimeoutError:
        raise ApiError("FailedOperation.RequestTimeout",
                       message=f"The request body did not arrive within {timeout:g} s.") from None


async def _read_body(stream: StreamReader, declared: int | None, limit: int) -> bytes:
    if declared is not None and declared > limit:
        await drain(stream)
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await stream.readany()
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            await drain(stream)
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def drain(stream: StreamReader) -> None:
    """Read and discard the rest of a body."""
    while await stream.readany():
        pass


def _too_large(limit: int) -> ApiError:
    return ApiError("RequestSizeLimitExceeded",
                    reason=f"this request may carry {limit} bytes at most")
