"""The input picture of an image action: the ``Url`` (preferred, as the docs say) or the base64
``Image``, read, hashed and sized the same way for every action."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator import offload
from emulator.actions.results import Picture, decode_picture, picture
from emulator.actions.services import Services
from emulator.errors import ApiError
from emulator.inputs.fetch import fetch_image


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
