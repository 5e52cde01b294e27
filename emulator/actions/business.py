"""The business parameters of a call, in JSON shape, validated against the action's schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator import offload
from emulator.wire.gateway import Call
from emulator.wire.params import json_body
from emulator.wire.request import RawRequest
from emulator.wire.validation import RequestValidator

if TYPE_CHECKING:
    from emulator.actions.services import Services


def business_params(validator: RequestValidator, call: Call, raw: RawRequest) -> dict[str, Any]:
    """The business parameters in JSON shape, validated against the action's schema: the JSON
    body of a v3 POST (parsed once, shared with the scenarios' facts), else the flattened
    query or form parameters."""
    if call.method == "TC3-HMAC-SHA256" and raw.method == "POST":
        params: Any = dict(json_body(raw))
    else:
        params = validator.from_flat(call.common.flat)
    validator.validate(params)
    return dict(params)


async def read_params(services: Services, action: str, call: Call, raw: RawRequest
                      ) -> dict[str, Any]:
    """:func:`business_params` for ``action``, off the event loop when the body is large."""
    return await offload.run(services.prep, len(raw.body), business_params,
                             services.validators[action], call, raw)
