"""The business parameters of a call, in JSON shape, validated against the action's schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator import strictjson
from emulator.errors import ApiError
from emulator.wire.gateway import Call
from emulator.wire.request import RawRequest
from emulator.wire.validation import RequestValidator


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
