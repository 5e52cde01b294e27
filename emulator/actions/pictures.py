"""The input picture of an image action: the ``Url`` (preferred, as the docs say) or the base64
``Image``, read, hashed and sized the same way for every action.

:func:`read_request` reads the business parameters and an ``Image`` picture in one step, so a
large body costs one hand-off to the ``prep`` executor, not one for the parameters and another
for the picture; the checks keep their order (schema, the action's own checks, then the
picture).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from emulator import offload
from emulator.actions.business import business_params
from emulator.actions.results import Picture, decode_picture, picture
from emulator.actions.services import Services
from emulator.errors import ApiError
from emulator.inputs.fetch import fetch_image
from emulator.wire.gateway import Call
from emulator.wire.request import RawRequest
from emulator.wire.validation import RequestValidator

Check = Callable[[Mapping[str, Any]], None]


async def read_request(services: Services, action: str, call: Call, raw: RawRequest,
                       check: Check | None = None, empty: str = "MissingParameter"
                       ) -> tuple[dict[str, Any], Picture]:
    """The validated business parameters (``check`` run on them, when given) and the picture
    they name (see :func:`read_picture`); parameters and an ``Image`` are read in one go, off
    the event loop when the body is large."""
    params, pic = await offload.run(services.prep, len(raw.body), _params_and_image,
                                    services.validators[action], call, raw, check, empty)
    if pic is None:  # a Url: fetched on the loop (aiohttp), then hashed
        pic = await read_picture(services, params, empty)
    return params, pic


def _params_and_image(validator: RequestValidator, call: Call, raw: RawRequest,
                      check: Check | None, empty: str) -> tuple[dict[str, Any], Picture | None]:
    params = business_params(validator, call, raw)
    if check is not None:
        check(params)
    if params.get("Url"):
        return params, None
    text = params.get("Image")
    if text:
        return params, decode_picture(text)
    raise ApiError(empty, param="Image` or `Url")


async def read_picture(services: Services, params: Mapping[str, Any],
                       empty: str = "MissingParameter") -> Picture:
    """The picture the validated ``params`` name; ``empty`` (a code) when neither is given:
    ``MissingParameter`` by default, or the action's own documented code."""
    url = params.get("Url") or None
    if url is not None:
        data = await fetch_image(url, session=services.session, policy=services.fetch_policy,
                                 url_map=services.url_map)
        return await offload.run(services.prep, len(data), picture, data)
    text = params.get("Image")
    if text:
        return await offload.run(services.prep, len(text), decode_picture, text)
    raise ApiError(empty, param="Image` or `Url")
