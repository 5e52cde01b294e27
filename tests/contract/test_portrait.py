"""SegmentPortraitPic through the official SDKs: inputs, both RspImgType, both Scene, natural
errors, result Urls and their expiry on the emulator clock, agreement with the customised
action, determinism across clients and encodings."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
import requests
from PIL import Image, ImageChops
from tencentcloud.bda.v20200324 import models
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.imaging.person import PERSON_OPTIONS
from emulator.resources import fixture_path, schema_path
from emulator.serve.server import EmulatorServer
from tests.helpers import AdminApi, bda, call_async, segment_request
from tests.node_sdk import node_call

PORTRAIT = base64.b64encode(fixture_path("images/portrait.jpg").read_bytes()).decode()
GREEN = base64.b64encode(fixture_path("images/green-screen.png").read_bytes()).decode()
EXAMPLE_URL = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"
RESPONSE = jsonschema.Draft202012Validator(
    json.loads(schema_path("SegmentPortraitPic.response.schema.json").read_text()))


def _plain(size: tuple[int, int] = (320, 240)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 205, 210)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def _request(params: dict[str, Any]) -> models.SegmentPortraitPicRequest:
    req = models.SegmentPortraitPicRequest()
    req.from_json_string(json.dumps(params))
    return req


def portrait(endpoint: str, params: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """One call through the Python SDK; the reply checked against the generated schema."""
    resp = bda(endpoint, **kw).SegmentPortraitPic(_request(params))
    data: dict[str, Any] = json.loads(resp.to_json_string())
    RESPONSE.validate(data)
    return data


def sdk_error(call: Callable[[], Any]) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    return info.value


def _image(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


@pytest.fixture
def emu(make_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    return make_server()


# -- outputs ----------------------------------------------------------------------------------

def test_base64_reply_is_a_cutout_and_a_mask_of_the_input_size(endpoint: str) -> None:
    data = portrait(endpoint, {"Image": PORTRAIT})
    cut, mask = _image(data["ResultImage"]), _image(data["ResultMask"])
    assert (cut.format, cut.mode, cut.size) == ("PNG", "RGBA", (640, 457))
    assert (mask.format, mask.mode, mask.size) == ("JPEG", "L", (640, 457))
    assert data["HasForeground"] is True
    assert data["ResultImageUrl"] == "" and data["ResultMaskUrl"] == ""
    alpha = cut.getchannel("A")
    assert alpha.getextrema() == (0, 255)  # transparent background, opaque person
    assert ImageChops.difference(alpha.point(lambda v: 255 if v else 0),
                                 mask.point(lambda v: 255 if v > 127 else 0)).getbbox() is None


def test_the_person_mask_agrees_with_the_customised_action(endpoint: str) -> None:
    mask = _image(portrait(endpoint, {"Image": PORTRAIT})["ResultMask"])
    options = {name: True for name in PERSON_OPTIONS}
    custom = bda(endpoint).SegmentCustomizedPortraitPic(
        segment_request({"Image": PORTRAIT, "SegmentationOptions": options}))
    other = _image(custom.MaskImage)
    assert mask.tobytes() == other.tobytes()


def test_url_input_and_determinism_across_encodings_and_clients(endpoint: str) -> None:
    by_url = portrait(endpoint, {"Url": EXAMPLE_URL})
    by_image = portrait(endpoint, {"Image": base64.b64encode(
        fixture_path("images/portrait.jpg").read_bytes()).decode()})
    by_get = portrait(endpoint, {"Url": EXAMPLE_URL}, req_method="GET")
    by_v1 = portrait(endpoint, {"Url": EXAMPLE_URL}, sign_method="HmacSHA256")
    results = {json.dumps({k: v for k, v in d.items() if k != "RequestId"}, sort_keys=True)
               for d in (by_url, by_image, by_get, by_v1)}
    assert len(results) == 1
    asynchronous = asyncio.run(call_async(endpoint, "SegmentPortraitPic", {"Url": EXAMPLE_URL},
                                          models.SegmentPortraitPicResponse))
    assert asynchronous.ResultImage == by_url["ResultImage"]
    assert asynchronous.HasForeground is True


def test_a_picture_with_nobody_succeeds_without_foreground(endpoint: str) -> None:
    data = portrait(endpoint, {"Image": _plain()})
    assert data["HasForeground"] is False
    assert _image(data["ResultImage"]).getchannel("A").getextrema() == (0, 0)
    assert _image(data["ResultMask"]).getextrema() == (0, 0)


def test_green_screen_scene_clears_the_backdrop_colour_inside_the_person(endpoint: str) -> None:
    general = _image(portrait(endpoint, {"Image": GREEN, "Scene": "GEN"})["ResultMask"])
    screen = _image(portrait(endpoint, {"Image": GREEN, "Scene": "GS"})["ResultMask"])
    card = (140 + int(0.40 * 200) + 4, 40 + int(0.70 * 360) + 4)  # inside the green card
    assert general.getpixel(card) > 200 and screen.getpixel(card) < 50
    face = (240, 140)
    assert general.getpixel(face) > 200 and screen.getpixel(face) > 200
    default = _image(portrait(endpoint, {"Image": GREEN})["ResultMask"])
    assert default.tobytes() == general.tobytes()


# -- result Urls ------------------------------------------------------------------------------

def test_url_mode_serves_the_same_files_until_they_expire(emu: EmulatorServer) -> None:
    base = portrait(emu.endpoint, {"Image": PORTRAIT})
    data = portrait(emu.endpoint, {"Image": PORTRAIT, "RspImgType": "url"})
    assert data["ResultImage"] == "" and data["ResultMask"] == ""
    assert data["HasForeground"] is True
    image_url, mask_url = data["ResultImageUrl"], data["ResultMaskUrl"]
    assert image_url.startswith(f"http://{emu.endpoint}/_results/")
    assert "q-sign-time=" in image_url
    got = requests.get(image_url, timeout=10)
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/png"
    assert got.content == base64.b64decode(base["ResultImage"])
    mask = requests.get(mask_url, timeout=10)
    assert mask.headers["Content-Type"] == "image/jpeg"
    assert mask.content == base64.b64decode(base["ResultMask"])
    emu.clock.shift(29 * 60)
    assert requests.get(image_url, timeout=10).status_code == 200
    emu.clock.shift(61)  # 30 minutes and a second: expired, like a presigned COS Url
    expired = requests.get(image_url, timeout=10)
    assert expired.status_code == 403 and expired.headers["Content-Type"].startswith(
        "application/xml")
    assert "<Code>AccessDenied</Code>" in expired.text
    assert "<Message>Request has expired</Message>" in expired.text


def test_unknown_and_evicted_results_answer_no_such_key(
        make_server: Callable[..., EmulatorServer]) -> None:
    emu = make_server(result_files=2)
    first = portrait(emu.endpoint, {"Image": PORTRAIT, "RspImgType": "url"})
    portrait(emu.endpoint, {"Image": PORTRAIT, "RspImgType": "url"})  # evicts the first two
    gone = requests.get(first["ResultImageUrl"], timeout=10)
    assert gone.status_code == 404 and "<Code>NoSuchKey</Code>" in gone.text
    unknown = requests.get(f"{emu.url}/_results/{'0' * 32}/result.png", timeout=10)
    assert unknown.status_code == 404
    assert requests.get(f"{emu.url}/_results/whatever", timeout=10).status_code == 404
    assert requests.delete(first["ResultMaskUrl"], timeout=10).status_code == 405


def test_public_url_is_the_base_of_result_urls(
        make_server: Callable[..., EmulatorServer]) -> None:
    emu = make_server(public_url="http://bda-emulator:9527")
    data = portrait(emu.endpoint, {"Image": PORTRAIT, "RspImgType": "url"})
    assert data["ResultImageUrl"].startswith("http://bda-emulator:9527/_results/")


def test_a_host_header_with_a_scheme_still_gives_a_plain_base(emu: EmulatorServer) -> None:
    from tests.helpers import post_raw, tc3_headers

    body = json.dumps({"Image": PORTRAIT, "RspImgType": "url"}).encode()
    host = f"http://{emu.endpoint}"  # what tccli sends
    headers = tc3_headers(host, body, action="SegmentPortraitPic")
    data = post_raw(emu.url, body, headers).json()["Response"]
    assert data["ResultImageUrl"].startswith(f"http://{emu.endpoint}/_results/"), data


# -- errors from natural inputs ---------------------------------------------------------------

@pytest.mark.parametrize(("params", "code"), [
    ({"Image": PORTRAIT, "RspImgType": "Url"}, "InvalidParameter.InvalidParameter"),
    ({"Image": PORTRAIT, "RspImgType": "URL"}, "InvalidParameter.InvalidParameter"),
    ({"Image": PORTRAIT, "RspImgType": "file"}, "InvalidParameter.InvalidParameter"),
    ({"Image": PORTRAIT, "Scene": "gs"}, "InvalidParameter.InvalidParameter"),
    ({}, "InvalidParameterValue.ImageEmpty"),
    ({"Image": ""}, "InvalidParameterValue.ImageEmpty"),
    ({"Image": "!!!"}, "FailedOperation.ImageDecodeFailed"),
    ({"Image": base64.b64encode(b"GIF89a" + b"\x00" * 40).decode()},
     "FailedOperation.ImageNotSupported"),
    ({"Url": "htttttps://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"},
     "InvalidParameterValue.UrlIllegal"),
    ({"Image": "A" * (5 * 1024 * 1024 + 4)}, "FailedOperation.ImageSizeExceed"),
    ({"Image": _plain((2000, 40))}, "FailedOperation.ImageResolutionExceed"),
    ({"Image": _plain((20, 40))}, "FailedOperation.ImageResolutionInsufficient"),
])
def test_natural_errors(endpoint: str, params: dict[str, Any], code: str) -> None:
    err = sdk_error(lambda: portrait(endpoint, params))
    assert err.get_code() == code, err


def test_regions(endpoint: str) -> None:
    for region in ("ap-beijing", "ap-shanghai"):
        assert portrait(endpoint, {"Image": PORTRAIT}, region=region)["HasForeground"]
    err = sdk_error(lambda: portrait(endpoint, {"Image": PORTRAIT}, region="ap-hongkong"))
    assert err.get_code() == "UnsupportedRegion"


def test_too_many_people_is_still_an_error(make_server: Callable[..., EmulatorServer]) -> None:
    emu = make_server(max_subjects=1)
    two = base64.b64encode(fixture_path("images/two-people.jpg").read_bytes()).decode()
    err = sdk_error(lambda: portrait(emu.endpoint, {"Image": two}))
    assert err.get_code() == "FailedOperation.ProfileNumExceed"


# -- scenarios and coverage -------------------------------------------------------------------

def test_scenarios_match_the_action_and_coverage_counts_per_action(emu: EmulatorServer) -> None:
    admin = AdminApi(emu)
    rule = {"name": "only-portrait", "rules": [{
        "match": {"action": "SegmentPortraitPic"},
        "effect": {"error": {"code": "FailedOperation.ImageNotForeground"}}}]}
    assert admin("PUT", "scenarios", rule).status_code == 201
    err = sdk_error(lambda: portrait(emu.endpoint, {"Image": PORTRAIT}))
    assert err.get_code() == "FailedOperation.ImageNotForeground"
    custom = bda(emu.endpoint).SegmentCustomizedPortraitPic(
        segment_request({"Image": PORTRAIT, "SegmentationOptions": {"Head": True}}))
    assert custom.PortraitImage
    report = admin("GET", "coverage").json()["actions"]
    assert report["SegmentPortraitPic"]["returned"] == {"FailedOperation.ImageNotForeground": 1}
    assert "InvalidParameterValue.ImageEmpty" in report["SegmentPortraitPic"]["never"]
    assert report["SegmentCustomizedPortraitPic"]["ok"] == 1
    assert "FailedOperation.ImageNotForeground" not in (
        report["SegmentCustomizedPortraitPic"]["never"])  # not one of its documented codes


# -- the Node SDK -----------------------------------------------------------------------------

def test_node_sdk_both_modes_and_an_error(emu: EmulatorServer) -> None:
    plain = node_call(emu.endpoint, "SegmentPortraitPic", {"Image": PORTRAIT})
    assert plain["ok"] and plain["response"]["HasForeground"] is True
    python = portrait(emu.endpoint, {"Image": PORTRAIT})
    assert plain["response"]["ResultImage"] == python["ResultImage"]
    by_url = node_call(emu.endpoint, "SegmentPortraitPic",
                       {"Url": EXAMPLE_URL, "RspImgType": "url", "Scene": "GEN"})
    assert by_url["ok"], by_url
    got = requests.get(by_url["response"]["ResultImageUrl"], timeout=10)
    assert got.content == base64.b64decode(python["ResultImage"])
    wrong = node_call(emu.endpoint, "SegmentPortraitPic", {"Image": PORTRAIT, "RspImgType": "Url"})
    assert not wrong["ok"] and wrong["code"] == "InvalidParameter.InvalidParameter"


def test_a_result_url_cannot_be_extended_by_editing_it(emu: EmulatorServer) -> None:
    url = portrait(emu.endpoint, {"Image": PORTRAIT, "RspImgType": "url"})["ResultImageUrl"]
    begin, end = url.split("q-sign-time=")[1].split("&")[0].split(";")
    longer = url.replace(f"q-sign-time={begin};{end}", f"q-sign-time={begin};{int(end) + 86400}")
    forged = requests.get(longer, timeout=10)
    assert forged.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in forged.text
    unsigned = requests.get(url.split("?")[0], timeout=10)
    assert unsigned.status_code == 403
