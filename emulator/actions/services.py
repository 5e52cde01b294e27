"""What an action handler gets and gives back: the app's services, and its outcome.

A handler gets the services, the admitted :class:`~emulator.wire.gateway.Call` and the request
(whose parsed views it shares with earlier stages), and returns the reply's output fields
serialised;
it raises :class:`~emulator.errors.ApiError` for every failure. Work on megabytes (base64,
hashing, images) runs in an executor, never on the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass

import aiohttp

from emulator.actions.jobs import JobRunner
from emulator.actions.results import Picture, ResultCache
from emulator.clock import Clock
from emulator.inputs.fetch import FetchPolicy
from emulator.inputs.urlmap import UrlMap
from emulator.state.files import URL_TTL, ResultFiles
from emulator.state.tasks import JobPlan
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
    jobs: JobRunner  # the video tasks
    video_policy: FetchPolicy  # the image policy with the video size cap
    public_url: str | None = None  # base of result Urls (default: the client's Host)
    url_ttl: float = URL_TTL


@dataclass(frozen=True, slots=True)
class Directives:
    """What the scenarios decided for a request beyond its outcome: a video task's plan."""

    job: JobPlan | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A handler's result: the serialised output fields, and the input picture if one was read
    (for the journal)."""

    fragment: bytes
    picture: Picture | None = None
    task: tuple[str, str] | None = None  # (TaskID, TaskStatus) of the task it touched


Handler = Callable[[Services, Call, RawRequest, Directives], Awaitable[Outcome]]

_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


def result_base(services: Services, raw: RawRequest) -> str:
    """The base of result Urls: ``--public-url``, or the address the client used (its Host
    header; tccli sends ``http://host:port``); a header that is no host[:port] gives
    ``localhost``."""
    if services.public_url:
        return services.public_url
    host = raw.host.split("://", 1)[-1].strip().rstrip("/")
    return f"http://{host if _HOST.fullmatch(host) else 'localhost'}"


