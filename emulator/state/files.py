"""Result files served by Url, like objects in Tencent COS behind presigned Urls.

``SegmentPortraitPic`` with ``RspImgType: url`` and finished video tasks answer with Urls on
which the emulator itself serves the bytes. As with COS, the object and the Url are two things:
a file is kept until it is evicted (oldest first, past ``max_files`` files or ``max_bytes``
bytes) or deleted with its task; each Url carries its own validity (``q-sign-time``, on the
emulator's clock) and a signature over the key and that validity, so a Url cannot be extended
by editing it and a key cannot be guessed (128 random bits). An expired Url answers "expired"
even while its file is kept, as COS does. The store knows no HTTP; its methods are async so a
shared store (:mod:`emulator.state.redis_objects`, every process signing with one secret) can
replace this in-memory one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["PATH_PREFIX", "URL_TTL", "ResultFiles", "StoredFile"]

#: Result Urls live under this path, outside the emulated API's ``/`` and the admin API.
PATH_PREFIX = "/_results"
#: Seconds a result Url works, on the emulator's clock: "url有效期为30分钟" (the API page).
URL_TTL = 30 * 60


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One stored result: its bytes and media type."""

    data: bytes
    content_type: str


class ResultFiles:
    """Bounded, in-memory, insertion-ordered (oldest evicted first); signs and checks Urls."""

    def __init__(self, max_files: int, max_bytes: int, secret: bytes | None = None) -> None:
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._bytes = 0
        self._secret = secret or secrets.token_bytes(32)
        self.evicted = 0

    async def put(self, data: bytes, content_type: str) -> str:
        """Store a file; returns its key (evicting the oldest files past the bounds)."""
        key = secrets.token_hex(16)
        self._files[key] = StoredFile(data, content_type)
        self._bytes += len(data)
        while self._files and (len(self._files) > self.max_files
                               or self._bytes > self.max_bytes):
            _, old = self._files.popitem(last=False)
            self._bytes -= len(old.data)
            self.evicted += 1
        return key

    async def get(self, key: str) -> StoredFile | None:
        """The file, or None when it was never stored, has been evicted or deleted."""
        return self._files.get(key)

    async def delete(self, key: str) -> None:
        old = self._files.pop(key, None)
        if old is not None:
            self._bytes -= len(old.data)

    def use_secret(self, secret: bytes) -> None:
        """Sign with ``secret`` (the one every process of a shared store uses)."""
        self._secret = secret

    def url(self, base: str, key: str, name: str, start: float, ttl: float = URL_TTL) -> str:
        """A Url of ``key`` valid from ``start`` for ``ttl`` seconds, shaped like a presigned
        COS Url (``q-sign-time`` is its validity, ``q-signature`` binds it to the key)."""
        begin, end = int(start), int(start + ttl)
        return (f"{base.rstrip('/')}{PATH_PREFIX}/{key}/{name}?q-sign-algorithm=sha1"
                f"&q-sign-time={begin};{end}&q-key-time={begin};{end}"
                f"&q-signature={self.signature(key, end)}")

    def signature(self, key: str, end: int) -> str:
        return hmac.new(self._secret, f"{key}\n{end}".encode(), hashlib.sha1).hexdigest()

    def valid_until(self, key: str, sign_time: str, signature: str) -> int | None:
        """The end of a Url's validity when its signature holds, else None."""
        _, _, end_text = sign_time.partition(";")
        if not end_text.isdigit() or len(end_text) > 12:
            return None
        end = int(end_text)
        return end if hmac.compare_digest(self.signature(key, end), signature) else None

    def clear(self) -> None:
        self._files.clear()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._files)
