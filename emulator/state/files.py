"""Result files served by Url, like the presigned COS Urls of the real service.

``SegmentPortraitPic`` with ``RspImgType: url`` (and the video tasks' results) answer with Urls
on which the emulator itself serves the bytes. A file is kept until it is evicted, oldest
first, once more than ``max_files`` files or ``max_bytes`` bytes are held; after its expiry (on
the emulator's clock) it is still known, so its Url answers "expired", as COS does, rather than
"no such key". Keys are random (128 bits): a Url cannot be guessed from
another. The store does no I/O and knows no HTTP.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["PATH_PREFIX", "URL_TTL", "ResultFiles", "StoredFile", "file_url"]

#: Result Urls live under this path, outside the emulated API's ``/`` and the admin API.
PATH_PREFIX = "/_results"
#: Seconds a result Url works, on the emulator's clock: "url有效期为30分钟" (the API page).
URL_TTL = 30 * 60


def file_url(base: str, key: str, name: str, start: float, ttl: float = URL_TTL) -> str:
    """A result Url shaped like a presigned COS Url (``q-sign-time`` is its validity)."""
    begin, end = int(start), int(start + ttl)
    return (f"{base.rstrip('/')}{PATH_PREFIX}/{key}/{name}?q-sign-algorithm=sha1"
            f"&q-sign-time={begin};{end}&q-key-time={begin};{end}")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One stored result: its bytes, media type and when its Url stops working."""

    data: bytes
    content_type: str
    expires_at: float


class ResultFiles:
    """Bounded, in-memory, insertion-ordered (oldest evicted first)."""

    def __init__(self, max_files: int, max_bytes: int) -> None:
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._bytes = 0
        self.evicted = 0

    def put(self, data: bytes, content_type: str, expires_at: float) -> str:
        """Store a file; returns its key (evicting the oldest files past the bounds)."""
        key = secrets.token_hex(16)
        self._files[key] = StoredFile(data, content_type, expires_at)
        self._bytes += len(data)
        while self._files and (len(self._files) > self.max_files
                               or self._bytes > self.max_bytes):
            _, old = self._files.popitem(last=False)
            self._bytes -= len(old.data)
            self.evicted += 1
        return key

    def get(self, key: str) -> StoredFile | None:
        """The file, or None when it was never stored or has been evicted."""
        return self._files.get(key)

    def clear(self) -> None:
        self._files.clear()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._files)
