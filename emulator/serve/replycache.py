"""Whole replies to repeated identical requests: a repeat skips parsing, validation and image
decoding — never the gateway's checks, the journal, coverage or the access log.

A load test replaying a fixed set of pictures sends the same body again and again under a fresh
signature. The gateway hashes the body anyway (the TC3 payload hash,
:func:`~emulator.wire.request.body_sha256`, computed once per request); keyed by that hash and
everything else the answer depends on, a repeat's reply is an earlier success's output fields
under a fresh RequestId, and its journal entry carries the same facts (the picture's sha256,
size and dimensions, the options, the Url) as the first one's.

What is reused, and when:

* only TC3-signed JSON POSTs to ``/`` of the image actions (:func:`candidate`), and only when
  no scenario could act on the request — no ``X-Emulator-Scenario`` header, no active scenario
  in the global namespace or the request's account namespace (the app checks, per request), so
  injected faults stay exact;
* only after the gateway admitted the request (signature, timestamp, token, account state), so
  a bad signature or a disabled account gets its error whatever is cached;
* only successes whose answer is a function of the key (:func:`reusable`): not an input given by
  ``Url`` (what it points at may change), not ``SegmentPortraitPic`` with ``RspImgType=url``
  (each call stores new files, whose Urls embed the time).

The key (:func:`key_of`): the state generation, the action, version, region, SecretId and
language of the admitted call, and the body's sha256. The state generation
(:func:`emulator.serve.generation.state_generation`) changes with every admin mutation
(accounts, scenarios, clock, reset): a change empties the cache, and a reply computed across one
is not kept. Bounded by entry count (``--cache-size``; 0 disables it) and by bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from emulator.actions import segment_customized_portrait_pic, segment_portrait_pic
from emulator.actions.services import Outcome
from emulator.errors import Language
from emulator.lru import SizedLru
from emulator.scenarios.facts import Facts, gather
from emulator.wire.gateway import Call
from emulator.wire.params import JSON, json_body
from emulator.wire.request import RawRequest, body_sha256

__all__ = ["MAX_BYTES", "REUSED_ACTIONS", "ReplyCache", "ReplyKey", "Reuse", "candidate",
           "header_facts", "key_of", "reusable"]

#: The actions whose successes may be reused.
REUSED_ACTIONS = frozenset({segment_customized_portrait_pic.ACTION, segment_portrait_pic.ACTION})
#: The most bytes of replies and pictures kept.
MAX_BYTES = 128 * 1024 * 1024

ReplyKey = tuple[int, str, str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Reuse:
    """A kept success: the action's outcome (output fields, input picture) and what the
    request's body told the journal (selected options, Url)."""

    outcome: Outcome
    options: Mapping[str, bool]
    url: str | None

    @property
    def size(self) -> int:
        pic = self.outcome.picture
        return len(self.outcome.fragment) + (len(pic.data) if pic is not None else 0)

    def facts(self, head: Facts) -> Facts:
        """A repeat's facts: its own headers' (:func:`header_facts`), the kept body's."""
        return dataclasses.replace(head, options=self.options, url=self.url)


class ReplyCache(SizedLru[ReplyKey, Reuse]):
    """LRU of :class:`Reuse` by :data:`ReplyKey`, and the state generation its keys carry."""

    def __init__(self, max_entries: int, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(max_entries, max_bytes)
        self.generation = 0
        self.hits = 0  # repeats answered from the cache

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def bump(self) -> None:
        """The answers may have changed: a new generation, nothing kept."""
        self.generation += 1
        self.clear()

    def get(self, key: ReplyKey) -> Reuse | None:
        found = super().get(key)
        if found is not None:
            self.hits += 1
        return found

    def put(self, key: ReplyKey, reuse: Reuse) -> None:
        """Keep ``reuse`` unless caching is off, it is too large, or its generation is past."""
        if key[0] == self.generation:
            super().put(key, reuse)


def candidate(raw: RawRequest) -> bool:
    """Whether the request has the shape of a reusable one (nothing verified yet)."""
    return (raw.method == "POST" and raw.path == "/" and raw.media_type == JSON
            and raw.headers.get("x-tc-action") in REUSED_ACTIONS
            and raw.headers.get("authorization", "").lstrip().startswith("TC3-"))


def header_facts(raw: RawRequest) -> Facts:
    """The facts the request's headers give (action, SecretId, region, host, signature
    method): :func:`~emulator.scenarios.facts.gather` without reading the body."""
    return gather(RawRequest(raw.method, raw.path, raw.query, raw.headers, b""), False)


def key_of(call: Call, raw: RawRequest, language: Language, generation: int) -> ReplyKey:
    """What the answer to an admitted candidate depends on."""
    return (generation, call.action, call.common.version or "", call.region,
            call.account.secret_id, language, body_sha256(raw))


def reusable(call: Call, raw: RawRequest, outcome: Outcome) -> bool:
    """Whether a candidate's success is the same answer for every repeat of it."""
    if outcome.picture is None or outcome.task is not None or call.action not in REUSED_ACTIONS:
        return False
    params = json_body(raw)  # parsed already by the action: a kept view
    if params.get("Url"):
        return False
    return (call.action != segment_portrait_pic.ACTION
            or params.get("RspImgType") in (None, "", "base64"))
