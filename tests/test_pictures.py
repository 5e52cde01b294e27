"""Reading an image action's parameters and picture: one hand-off for a large body, the checks
in their order."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, cast

import pytest
from PIL import Image

from emulator.actions.pictures import read_request
from emulator.actions.services import Services
from emulator.errors import ApiError
from emulator.offload import OFF_LOOP_BYTES
from emulator.wire.credentials import Account
from emulator.wire.gateway import Call
from emulator.wire.params import Common
from emulator.wire.request import RawRequest
from emulator.wire.validation import RequestValidator, check_segmentation_options

ACTION = "SegmentCustomizedPortraitPic"


class CountingExecutor(Executor):
    """A thread pool that counts what it is given."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(1)
        self.calls = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls += 1
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait, cancel_futures=cancel_futures)


class FakeServices:
    def __init__(self) -> None:
        self.prep = CountingExecutor()
        self.validators = {ACTION: RequestValidator.for_action(ACTION)}


def noisy_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((side, side), 80).convert("RGB").save(out, "PNG", compress_level=0)
    return out.getvalue()


def call_for(body: dict[str, Any]) -> tuple[Call, RawRequest]:
    raw = RawRequest("POST", "/", "", {"content-type": "application/json"},
                     json.dumps(body).encode())
    call = Call(ACTION, "ap-guangzhou", "TC3-HMAC-SHA256", Account("id", "key"),
                Common("TC3-HMAC-SHA256", action=ACTION))
    return call, raw


def read(services: FakeServices, body: dict[str, Any]) -> Any:
    call, raw = call_for(body)

    async def go() -> Any:
        return await read_request(cast(Services, services), ACTION, call, raw,
                                  check_segmentation_options)

    try:
        return asyncio.run(go())
    finally:
        services.prep.shutdown()


def test_a_large_body_costs_one_hand_off() -> None:
    data = noisy_png(200)
    text = base64.b64encode(data).decode("ascii")
    assert len(text) > OFF_LOOP_BYTES
    services = FakeServices()
    params, pic = read(services, {"Image": text, "SegmentationOptions": {"Head": True}})
    assert services.prep.calls == 1  # parameters and picture together
    assert pic.data == data and (pic.width, pic.height) == (200, 200)
    assert params["SegmentationOptions"] == {"Head": True}


def test_a_small_body_stays_on_the_loop() -> None:
    services = FakeServices()
    text = base64.b64encode(noisy_png(40)).decode("ascii")
    read(services, {"Image": text, "SegmentationOptions": {"Head": True}})
    assert services.prep.calls == 0


@pytest.mark.parametrize(("body", "code"), [
    ({"Image": "@@@", "SegmentationOptions": {"Head": False}}, "InvalidParameterValue"),
    ({"Image": "@@@", "SegmentationOptions": {"Head": True}}, "FailedOperation.ImageDecodeFailed"),
    ({"SegmentationOptions": {"Head": True}}, "MissingParameter"),
    ({"Image": 5, "SegmentationOptions": {"Head": True}}, "InvalidParameter"),
])
def test_checks_keep_their_order(body: dict[str, Any], code: str) -> None:
    """Schema first, then the action's own check, then the picture."""
    with pytest.raises(ApiError) as caught:
        read(FakeServices(), body)
    assert caught.value.code == code
