"""The action registry: ``X-TC-Action`` → handler. The emulator serves one action of bda.

A handler gets the admitted :class:`~emulator.gateway.Call`, the app's services and the JSON
body if it was already parsed, and returns the reply's output fields serialised; it raises
:class:`~emulator.errors.ApiError` for every failure. Work on megabytes (base64, hashing,
images) runs in the executor, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import aiohttp

from emulator import strictjson
from emulator.errors import ApiError
from emulator.fetch import FetchPolicy, UrlMap, fetch_image
from emulator.gateway import Call
from emulator.limits import OFF_LOOP_BYTES
from emulator.params import RawRequest
from emulator.results import Picture, ResultCache, decode_picture, picture, reply_for
from emulator.segmentation import OPTIONS
from emulator.validation import RequestValidator, check_segmentation_options

SEGMENT = "SegmentCustomizedPortraitPic"


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


@dataclass(frozen=True, slots=True)
class Outcome:
    """A handler's result: the serialised output fields, and the input picture if one was read
    (for the journal)."""

    fragment: bytes
    picture: Picture | None = None


Handler = Callable[[Services, Call, RawRequest, Mapping[str, Any] | None], Awaitable[Outcome]]


def business_params(validator: RequestValidator, call: Call, raw: RawRequest,
                    parsed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The business parameters in JSON shape, validated against the action's schema.

    ``parsed`` is the JSON body when it was already parsed (for the scenarios' facts), so a
    large body is parsed once.
    """
    if call.method == "TC3-HMAC-SHA256" and raw.method == "POST":
        if parsed is not None:
            params: Any = dict(parsed)
        else:
            try:
                params = strictjson.loads(raw.body.decode("utf-8")) if raw.body.strip() else {}
            except (ValueError, RecursionError) as exc:  # NaN and 1e400 are not JSON either
                raise ApiError("InvalidParameter",
                               reason="The request body is not valid UTF-8 JSON.",
                               reason_zh="请求体不是合法的 UTF-8 JSON。") from exc
        if not isinstance(params, dict):
            raise ApiError("InvalidParameter", reason="The request body must be a JSON object.",
                           reason_zh="请求体必须是 JSON 对象。")
    else:
        params = validator.from_flat(call.common.flat)
    validator.validate(params)
    return dict(params)


async def segment_customized_portrait_pic(services: Services, call: Call, raw: RawRequest,
                                          parsed: Mapping[str, Any] | None) -> Outcome:
    """Synthetic multi-class portrait segmentation of the Url (preferred) or Image input."""
    loop = asyncio.get_running_loop()
    validate = functools.partial(business_params, services.validators[SEGMENT], call, raw, parsed)
    params = (validate() if len(raw.body) <= OFF_LOOP_BYTES  # megabytes of JSON: off the loop
              else await loop.run_in_executor(services.prep, validate))
    check_segmentation_options(params)
    options = [name for name in OPTIONS if params["SegmentationOptions"].get(name) is True]
    url = params.get("Url") or None
    if url is not None:
        data = await fetch_image(url, session=services.session, policy=services.fetch_policy,
                                 url_map=services.url_map)
        pic = (picture(data) if len(data) <= OFF_LOOP_BYTES
               else await loop.run_in_executor(services.prep, picture, data))
    elif params.get("Image"):
        text = params["Image"]
        pic = (decode_picture(text) if len(text) <= OFF_LOOP_BYTES
               else await loop.run_in_executor(services.prep, decode_picture, text))
    else:
        raise ApiError("MissingParameter", param="Image` or `Url")
    reply = await reply_for(pic, options, cache=services.cache, executor=services.executor,
                            max_subjects=services.max_subjects, timeout=services.image_timeout)
    return Outcome(reply.fragment, pic)


ACTIONS: Mapping[str, Handler] = {SEGMENT: segment_customized_portrait_pic}
