"""Pictures of recent requests for the dashboard: kept by reference, drawn when looked at.

:meth:`Gallery.keep` is the one hook in the request path (``app._answer``, for a successful
outcome). It holds references to bytes that exist anyway — the input picture, shared by every
request that sent the same sha256, and the reply's serialised fields, which for a cached reply
are the cache's own object — and does nothing else: no decoding, no copying, no JSON. A gallery
nobody looks at costs a few dictionary operations per request.

When the dashboard opens a request, :meth:`Gallery.view` draws its pictures once, off the event
loop, and lets the references go: the input as a thumbnail, the cut-out and the mask as the
reply carried them (byte for byte, or thumbnails past :data:`MAX_VERBATIM`; in ``url`` mode
read from the result files while they are kept), the ``ImageRects``, and the reply's fields
with base64 elided.

Bounded: :data:`MAX_ENTRIES` requests and :data:`MAX_BYTES` bytes held (shared bytes counted
once, drawn views counted too), the oldest dropped first; a request whose bytes alone pass
half the budget is not kept. Never secrets: nothing of a request is kept but its input picture
and the reply's fields, which hold none.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from emulator.actions.services import Outcome
from emulator.imaging.thumbnails import Thumbnail, thumbnail
from emulator.text import clip

__all__ = ["KINDS", "MAX_BYTES", "MAX_ENTRIES", "MAX_VERBATIM", "Gallery", "Shot", "View",
           "elide", "read_reply"]

#: Requests whose pictures are kept.
MAX_ENTRIES = 100
#: Bytes held for them (inputs, replies, drawn pictures), oldest requests dropped first.
MAX_BYTES = 16 * 1024 * 1024
#: A cut-out or mask up to this size is kept as the reply's own bytes; larger: a thumbnail.
MAX_VERBATIM = 1024 * 1024
#: Strings longer than this that look like base64 are shown as their length only.
ELIDE_CHARS = 64
#: Other strings are clipped to this many characters.
MAX_STRING_CHARS = 512
#: The pictures of one request: the input, the cut-out, the mask.
KINDS = ("input", "cutout", "mask")
#: Reply fields holding the cut-out and the mask, in base64 or as a result Url.
_FIELDS = {"cutout": (("PortraitImage", "ResultImage"), ("ResultImageUrl",)),
           "mask": (("MaskImage", "ResultMask"), ("ResultMaskUrl",))}
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_RESULT_KEY = re.compile(r"/_results/([0-9a-f]{32})/")


@dataclass(frozen=True, slots=True)
class Shot:
    """One picture as the dashboard serves it; ``verbatim``: the reply's own bytes."""

    data: bytes
    content_type: str
    width: int | None
    height: int | None
    verbatim: bool

    def describe(self) -> dict[str, Any]:
        return {"content_type": self.content_type, "bytes": len(self.data),
                "width": self.width, "height": self.height, "verbatim": self.verbatim}


@dataclass(frozen=True, slots=True)
class View:
    """What the dashboard shows of one successful request."""

    pictures: dict[str, Shot]
    rects: list[dict[str, Any]]
    fields: dict[str, Any]
    size: tuple[int, int] | None  # the input's, in pixels: the rectangles' coordinates
    missing: dict[str, str] = field(default_factory=dict)  # picture kind → why it is absent

    @property
    def weight(self) -> int:
        """Bytes it holds (its pictures, and a little for the rest)."""
        return sum(len(shot.data) for shot in self.pictures.values()) + 1024

    def describe(self) -> dict[str, Any]:
        return {"pictures": {kind: shot.describe() for kind, shot in self.pictures.items()},
                "missing": self.missing, "rects": self.rects, "fields": self.fields,
                "width": self.size[0] if self.size else None,
                "height": self.size[1] if self.size else None}


@dataclass(slots=True)
class _Kept:
    """A request's references until it is drawn, then its view."""

    picture: Hashable | None
    fragment: Hashable | None
    size: tuple[int, int] | None
    view: View | None = None
    drawing: asyncio.Future[View] | None = None


class _Held:
    """Bytes objects referenced by several requests, counted once."""

    def __init__(self) -> None:
        self._items: dict[Hashable, list[Any]] = {}  # key → [bytes, holders]
        self.bytes = 0

    def hold(self, key: Hashable, data: bytes) -> Hashable:
        item = self._items.get(key)
        if item is None:
            self._items[key] = [data, 1]
            self.bytes += len(data)
        else:
            item[1] += 1
        return key

    def get(self, key: Hashable | None) -> bytes | None:
        item = self._items.get(key) if key is not None else None
        return None if item is None else item[0]

    def release(self, key: Hashable | None) -> None:
        item = self._items.get(key) if key is not None else None
        if item is None:
            return
        item[1] -= 1
        if item[1] == 0:
            del self._items[key]
            self.bytes -= len(item[0])

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


class Gallery:
    """The pictures of the last :data:`MAX_ENTRIES` successful requests, by RequestId."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _Kept] = OrderedDict()
        self._held = _Held()
        self._drawn = 0

    @property
    def held(self) -> int:
        """Bytes held: references not yet drawn (each counted once) and drawn views."""
        return self._held.bytes + self._drawn

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._entries

    def keep(self, request_id: str, outcome: Outcome) -> None:
        """Remember a successful outcome's input picture and reply (references only)."""
        pic, fragment = outcome.picture, outcome.fragment
        if (pic is None and outcome.task is None) or request_id in self._entries:
            return
        alone = len(fragment) + (len(pic.data) if pic is not None else 0)
        if alone > self.max_bytes // 2 or self.max_entries == 0:
            return
        self._entries[request_id] = _Kept(
            picture=self._held.hold(("picture", pic.sha256), pic.data) if pic else None,
            # the object itself is the key: held here, its id cannot be reused meanwhile
            fragment=self._held.hold(("fragment", id(fragment)), fragment),
            size=(pic.width, pic.height) if pic and pic.width and pic.height else None)
        self._trim()

    async def view(self, request_id: str, executor: Executor,
                   stored: Callable[[str], Awaitable[bytes | None]]) -> View | None:
        """The request's view, drawn on first use in ``executor``; None when not kept.

        ``stored`` reads a result file by key (``url`` mode replies)."""
        kept = self._entries.get(request_id)
        if kept is None:
            return None
        if kept.view is not None:
            return kept.view
        if kept.drawing is None:
            kept.drawing = asyncio.ensure_future(self._draw(kept, executor, stored))
        try:
            view = await asyncio.shield(kept.drawing)
        except Exception:
            kept.drawing = None  # the next look tries again
            raise
        if kept.view is None and self._entries.get(request_id) is kept:
            kept.view, kept.drawing = view, None
            self._held.release(kept.picture)
            self._held.release(kept.fragment)
            kept.picture = kept.fragment = None
            self._drawn += view.weight
            self._trim()
        return view

    async def _draw(self, kept: _Kept, executor: Executor,
                    stored: Callable[[str], Awaitable[bytes | None]]) -> View:
        loop = asyncio.get_running_loop()
        fragment = self._held.get(kept.fragment) or b""
        picture = self._held.get(kept.picture)
        fields, found, urls = await loop.run_in_executor(executor, read_reply, fragment)
        gone = []
        for kind, key in urls.items():  # result files: read on the loop that owns them
            data = await stored(key)
            if data is None:
                gone.append(kind)
            else:
                found[kind] = data
        return await loop.run_in_executor(executor, _draw_view, fields, found, picture,
                                          kept.size, gone)

    def clear(self) -> None:
        """Forget every request (the journal was cleared)."""
        self._entries.clear()
        self._held.clear()
        self._drawn = 0

    def _trim(self) -> None:
        while self._entries and (len(self._entries) > self.max_entries
                                 or self.held > self.max_bytes):
            _, old = self._entries.popitem(last=False)
            self._held.release(old.picture)
            self._held.release(old.fragment)
            if old.view is not None:
                self._drawn -= old.view.weight


def read_reply(fragment: bytes) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
    """A reply's fields with base64 elided, the cut-out and mask bytes it carries, and the
    result-file keys of those it names by Url."""
    try:
        fields = json.loads(b"{" + fragment + b"}") if fragment else {}
    except ValueError:
        fields = {}
    found: dict[str, bytes] = {}
    urls: dict[str, str] = {}
    for kind, (inline, linked) in _FIELDS.items():
        for name in inline:
            value = fields.get(name)
            if isinstance(value, str) and value:
                try:
                    found[kind] = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    continue
        for name in linked:
            value = fields.get(name)
            match = _RESULT_KEY.search(value) if isinstance(value, str) else None
            if kind not in found and match:
                urls[kind] = match.group(1)
    return elide(fields), found, urls


def elide(value: Any) -> Any:
    """``value`` with long base64 strings replaced by their length, other strings clipped."""
    if isinstance(value, dict):
        return {key: elide(item) for key, item in value.items()}
    if isinstance(value, list):
        return [elide(item) for item in value]
    if isinstance(value, str) and len(value) > ELIDE_CHARS and _BASE64.fullmatch(value):
        return f"<base64: {len(value):,} characters>"
    if isinstance(value, str):
        return clip(value, MAX_STRING_CHARS)
    return value


def _draw_view(fields: dict[str, Any], found: dict[str, bytes], picture: bytes | None,
               size: tuple[int, int] | None, gone: list[str]) -> View:
    """Thumbnail the input, keep or shrink the outputs (a worker thread: Pillow)."""
    pictures: dict[str, Shot] = {}
    missing = {kind: "the result file is no longer kept" for kind in gone}
    if picture is not None:
        try:
            pictures["input"] = _shot(thumbnail(picture), verbatim=False)
        except Exception as exc:  # an input the action took but Pillow cannot shrink
            missing["input"] = f"not drawn: {type(exc).__name__}"
    for kind in ("cutout", "mask"):
        data = found.get(kind)
        if data is None:
            continue
        try:
            if len(data) <= MAX_VERBATIM:
                content_type = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
                pictures[kind] = Shot(data, content_type, None, None, verbatim=True)
            else:
                pictures[kind] = _shot(thumbnail(data, ours=True), verbatim=False)
        except Exception as exc:
            missing[kind] = f"not drawn: {type(exc).__name__}"
    rects = [r for r in fields.get("ImageRects", []) if isinstance(r, dict)] \
        if isinstance(fields.get("ImageRects"), list) else []
    return View(pictures, rects, fields, size, missing)


def _shot(small: Thumbnail, *, verbatim: bool) -> Shot:
    return Shot(small.data, small.content_type, small.width, small.height, verbatim)
