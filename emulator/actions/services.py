"""What an action handler gets and gives back: the app's services, and its outcome.

A handler gets the services, the admitted :class:`~emulator.wire.gateway.Call` and the request
(whose parsed views it shares with earlier stages), and returns the reply's output fields
serialised;
it raises :class:`~emulator.errors.ApiError` for every failure. Work on megabytes (base64,
hashing, images) runs in an executor, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass

import aiohttp

from emulator.actions.results import Picture, ResultCache
from emulator.clock import Clock
from emulator.inputs.fetch import FetchPolicy
from emulator.inputs.urlmap import UrlMap
from emulator.state.files import URL_TTL, ResultFiles
from emulator.wire.gateway import Call
from emulator.wire.request import RawRequest
from emulator.wire.validation import RequestValidator


@dataclass(frozen=True, slots=True)
class Services:
    """What handlers may use; built once per app."""

    validators: Mapping[str, RequestValidator]
    cache: ResultCache
    executor: Executor  # segmentation: seconds of work per large image
    prep: Executor  # hashing and decoding megabytes: never queued behind segmentation
    session: aiohttp.ClientSession
    fetch_policy: FetchPolicy
    url_map: UrlMap
    max_subjects: int
    image_timeout: float  # seconds a request may wait for its image work, queueing included
    results: ResultFiles  # files behind result Urls
    clock: Clock  # the emulator's now: when result Urls expire
    public_url: str | None = None  # base of result Urls (default: the client's Host)
    url_ttl: float = URL_TTL


@dataclass(frozen=True, slots=True)
class Outcome:
    """A handler's result: the serialised output fields, and the input picture if one was read
    (for the journal)."""

    fragment: bytes
    picture: Picture | None = None


Handler = Callable[[Services, Call, RawRequest], Awaitable[Outcome]]


