"""The wire contract through the official Python SDK (and raw requests for what no SDK sends)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.resources import fixture_path
from emulator.serve.server import EmulatorServer
from emulator.wire import auth
from tests.helpers import (
    REGION,
    SECRET_ID,
    SECRET_KEY,
    assert_envelope,
    bda,
    common,
    post_raw,
    segment_request,
    tc3_headers,
)

PORTRAIT = base64.b64encode(fixture_path("images/portrait.jpg").read_bytes()).decode()
HEAD = {"SegmentationOptions": {"Head": True}}


def _sdk_error(call: Any) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    err = info.value
    assert err.get_request_id() and len(err.get_request_id()) == 36, err
    return err


def _segment(endpoint: str, params: dict[str, Any], **kw: Any) -> Any:
    return bda(endpoint, **kw).SegmentCustomizedPortraitPic(segment_request(params))


@pytest.mark.parametrize(("sign_method", "req_method", "unsigned"), [
    ("TC3-HMAC-SHA256", "POST", False),
    ("TC3-HMAC-SHA256", "GET", False),
    ("TC3-HMAC-SHA256", "POST", True),
    ("HmacSHA1", "POST", False),
    ("HmacSHA256", "POST", False),
    ("HmacSHA1", "GET", False),
    ("HmacSHA256", "GET", False),
])
def test_every_signature_method_succeeds(endpoint: str, sign_method: str, req_method: str,
                                         unsigned: bool) -> None:
    image = PORTRAIT if req_method == "POST" else None
    params: dict[str, Any] = {**HEAD, "Image": image} if image else {
        **HEAD, "Url": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"}
    resp = _segment(endpoint, params, sign_method=sign_method, req_method=req_method,
                    unsigned=unsigned)
    assert resp.PortraitImage.startswith("iVBORw0KGgo")
    assert resp.MaskImage.startswith("/9j/")
    assert [r.Label for r in resp.ImageRects] == ["Head"]
    assert len(resp.RequestId) == 36


@pytest.mark.parametrize(("language", "message"), [
    ("en-US", "The request is missing a required parameter `SegmentationOptions`."),
    ("zh-CN", "缺少必要参数`SegmentationOptions`。"),
])
@pytest.mark.parametrize("sign_method", ["TC3-HMAC-SHA256", "HmacSHA256"])
def test_language_selects_message(endpoint: str, language: str, message: str,
                                  sign_method: str) -> None:
    err = _sdk_error(lambda: _segment(endpoint, {"Image": PORTRAIT}, language=language,
                                      sign_method=sign_method))
    assert err.get_code() == "MissingParameter"
    assert err.get_message() == message


def test_no_language_means_english(server: EmulatorServer) -> None:
    body = json.dumps({"Image": "x"}).encode()
    resp = assert_envelope(post_raw(server.url, body, tc3_headers(server.endpoint, body)))
    assert resp["Error"]["Message"].startswith("The request is missing")


def test_wrong_action_names_action_service_version(endpoint: str) -> None:
    err = _sdk_error(lambda: common(endpoint).call_json("DetectBodyParts", {}))
    assert err.get_code() == "InvalidAction"
    assert err.get_message() == ("The request action=`DetectBodyParts` is invalid or not found "
                                 "in service=`bda` and version=`2020-03-24`.")


def test_wrong_version(endpoint: str) -> None:
    err = _sdk_error(lambda: common(endpoint, version="2018-01-01").call_json(
        "SegmentCustomizedPortraitPic", HEAD))
    assert err.get_code() == "NoSuchVersion"
    assert "version=`2018-01-01`" in err.get_message()


def test_unknown_parameter(endpoint: str) -> None:
    err = _sdk_error(lambda: common(endpoint).call_json(
        "SegmentCustomizedPortraitPic", {**HEAD, "Image": PORTRAIT, "Foo": 1}))
    assert err.get_code() == "UnknownParameter"
    assert err.get_message() == "The parameter `Foo` is not recognized."


def test_unknown_nested_parameter_v1(endpoint: str) -> None:
    err = _sdk_error(lambda: common(endpoint, sign_method="HmacSHA1").call_json(
        "SegmentCustomizedPortraitPic",
        {"SegmentationOptions": {"Head": True, "Tail": True}, "Image": PORTRAIT}))
    assert err.get_code() == "UnknownParameter"
    assert "`SegmentationOptions.Tail`" in err.get_message()


@pytest.mark.parametrize("sign_method", ["TC3-HMAC-SHA256", "HmacSHA1"])
def test_wrong_type_is_invalid_parameter(endpoint: str, sign_method: str) -> None:
    err = _sdk_error(lambda: common(endpoint, sign_method=sign_method).call_json(
        "SegmentCustomizedPortraitPic",
        {"SegmentationOptions": {"Head": "maybe"}, "Image": PORTRAIT}))
    assert err.get_code() == "InvalidParameter"
    assert "`SegmentationOptions.Head`" in err.get_message()


def test_no_option_true_is_invalid_parameter_value(endpoint: str) -> None:
    err = _sdk_error(lambda: _segment(endpoint, {"SegmentationOptions": {"Background": False},
                                                 "Image": PORTRAIT}))
    assert err.get_code() == "InvalidParameterValue"


def test_neither_image_nor_url(endpoint: str) -> None:
    err = _sdk_error(lambda: _segment(endpoint, HEAD))
    assert err.get_code() == "MissingParameter"
    assert "`Image` or `Url`" in err.get_message()


@pytest.mark.parametrize(("kw", "code"), [
    ({"secret_key": "wrong" + SECRET_KEY[5:]}, "AuthFailure.SignatureFailure"),
    ({"secret_id": "AKIDUNKNOWN"}, "AuthFailure.SecretIdNotFound"),
    ({"secret_id": "AKIDEMULATORDISABLED0000000000000000"}, "AuthFailure.SecretIdNotFound"),
    ({"secret_id": "AKIDEMULATORINARREARS000000000000000"}, "ResourceUnavailable.InArrears"),
    ({"secret_id": "AKIDEMULATORNOTACTIVATED000000000000"}, "ResourceUnavailable.NotExist"),
    ({"secret_id": "AKIDEMULATORUNAUTHORIZED000000000000"}, "AuthFailure.UnauthorizedOperation"),
    ({"secret_id": "AKIDEMULATORTEMPORARY000000000000000"}, "AuthFailure.TokenFailure"),
    ({"secret_id": "AKIDEMULATORTEMPORARY000000000000000", "token": "wrong"},
     "AuthFailure.TokenFailure"),
    ({"secret_id": "AKIDEMULATORTEMPEXPIRED0000000000000", "token": "emulator-expired-token"},
     "AuthFailure.TokenFailure"),
    ({"token": "a-token-with-long-term-keys"}, "AuthFailure.TokenFailure"),
    ({"region": None}, "MissingParameter"),
    ({"region": "ap-chengdu"}, "UnsupportedRegion"),
])
@pytest.mark.parametrize("sign_method", ["TC3-HMAC-SHA256", "HmacSHA1"])
def test_account_and_common_parameter_errors(endpoint: str, kw: dict[str, Any], code: str,
                                             sign_method: str) -> None:
    err = _sdk_error(lambda: _segment(endpoint, {**HEAD, "Image": PORTRAIT},
                                      sign_method=sign_method, **kw))
    assert err.get_code() == code


@pytest.mark.parametrize("sign_method", ["TC3-HMAC-SHA256", "HmacSHA1"])
def test_temporary_credentials_with_token_succeed(endpoint: str, sign_method: str) -> None:
    resp = _segment(endpoint, {**HEAD, "Image": PORTRAIT}, sign_method=sign_method,
                    secret_id="AKIDEMULATORTEMPORARY000000000000000",
                    token="emulator-session-token")
    assert resp.PortraitImage


@pytest.mark.parametrize("shift", [-301, 301])
def test_signature_expires_outside_the_window(server: EmulatorServer, shift: int) -> None:
    server.clock.shift(shift)
    err = _sdk_error(lambda: _segment(server.endpoint, {**HEAD, "Image": PORTRAIT}))
    assert err.get_code() == "AuthFailure.SignatureExpire"


def test_signature_within_the_window(server: EmulatorServer) -> None:
    server.clock.shift(-290)
    assert _segment(server.endpoint, {**HEAD, "Image": PORTRAIT}).MaskImage


def test_region_missing_names_region(endpoint: str) -> None:
    err = _sdk_error(lambda: _segment(endpoint, {**HEAD, "Image": PORTRAIT}, region=None))
    assert err.get_message() == "The request is missing a required parameter `Region`."


# ---- raw requests: what no SDK sends -------------------------------------------------------

def _raw_code(server: EmulatorServer, body: bytes, headers: dict[str, str],
              method: str = "POST") -> str:
    resp = assert_envelope(post_raw(server.url, body, headers, method))
    return str(resp["Error"]["Code"])


def test_malformed_authorization(server: EmulatorServer) -> None:
    body = json.dumps(HEAD).encode()
    headers = tc3_headers(server.endpoint, body)
    headers["Authorization"] = "TC3-HMAC-SHA256 nonsense"
    assert _raw_code(server, body, headers) == "AuthFailure.InvalidAuthorization"


def test_missing_authorization(server: EmulatorServer) -> None:
    body = json.dumps(HEAD).encode()
    headers = tc3_headers(server.endpoint, body)
    del headers["Authorization"]
    assert _raw_code(server, body, headers) == "AuthFailure.InvalidAuthorization"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_wrong_method(server: EmulatorServer, method: str) -> None:
    body = json.dumps(HEAD).encode()
    assert _raw_code(server, body, tc3_headers(server.endpoint, body), method) == (
        "UnsupportedProtocol")


def test_bad_json_with_valid_signature(server: EmulatorServer) -> None:
    body = b'{"SegmentationOptions": {"Head": true'
    assert _raw_code(server, body, tc3_headers(server.endpoint, body)) == "InvalidParameter"


def test_bad_utf8_with_valid_signature(server: EmulatorServer) -> None:
    body = b'{"Image": "\xff\xfe"}'
    assert _raw_code(server, body, tc3_headers(server.endpoint, body)) == "InvalidParameter"


def test_json_array_body(server: EmulatorServer) -> None:
    body = b"[1, 2]"
    assert _raw_code(server, body, tc3_headers(server.endpoint, body)) == "InvalidParameter"


def test_content_type_not_fitting_signature(server: EmulatorServer) -> None:
    body = json.dumps(HEAD).encode()
    headers = tc3_headers(server.endpoint, body, content_type="text/plain")
    assert _raw_code(server, body, headers) == "InvalidParameter"


def test_unknown_path(server: EmulatorServer) -> None:
    resp = assert_envelope(requests.post(server.url + "/v2/segment", data=b"{}", timeout=10))
    assert resp["Error"]["Code"] == "UnsupportedOperation"


def test_wrong_credential_date(server: EmulatorServer) -> None:
    body = json.dumps({**HEAD, "Image": PORTRAIT}).encode()
    now = int(time.time())
    headers = tc3_headers(server.endpoint, body, timestamp=now)
    wrong = auth.utc_date(now - 86400)
    headers["Authorization"] = headers["Authorization"].replace(auth.utc_date(now), wrong)
    assert _raw_code(server, body, headers) == "AuthFailure.SignatureFailure"


def test_node_style_signature_host_without_port_service_first_label(
        server: EmulatorServer) -> None:
    body = json.dumps({**HEAD, "Image": PORTRAIT}, separators=(",", ":")).encode()
    headers = tc3_headers(server.host, body, service=server.host.split(".")[0])
    headers["Host"] = server.endpoint  # sent with the port, signed without it
    resp = assert_envelope(post_raw(server.url, body, headers))
    assert "PortraitImage" in resp, resp


def test_tccli_style_host_with_scheme(server: EmulatorServer) -> None:
    body = json.dumps({**HEAD, "Image": PORTRAIT}).encode()
    host = "http://" + server.endpoint
    headers = tc3_headers(host, body)
    resp = assert_envelope(post_raw(server.url, body, headers))
    assert "PortraitImage" in resp, resp


def test_signed_extra_header_x_tc_action(server: EmulatorServer) -> None:
    body = json.dumps({**HEAD, "Image": PORTRAIT}).encode()
    ts = int(time.time())
    date = auth.utc_date(ts)
    pairs = [("content-type", "application/json"), ("host", server.endpoint),
             ("x-tc-action", "SegmentCustomizedPortraitPic")]
    canonical = auth.tc3_canonical_request("POST", "", pairs, auth.sha256_hex(body))
    sig = auth.tc3_signature(SECRET_KEY, date, "bda",
                             auth.tc3_string_to_sign(str(ts), date, "bda", canonical))
    headers = tc3_headers(server.endpoint, body, timestamp=ts)
    headers["Authorization"] = (f"TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/bda/tc3_request, "
                                f"SignedHeaders=content-type;host;x-tc-action, Signature={sig}")
    resp = assert_envelope(post_raw(server.url, body, headers))
    assert "PortraitImage" in resp, resp


def test_v1_nonce_zero_and_max(server: EmulatorServer) -> None:
    for nonce in ("0", str(2**63 - 1)):
        params = {"Action": "SegmentCustomizedPortraitPic", "Version": "2020-03-24",
                  "Region": REGION, "Timestamp": str(int(time.time())), "Nonce": nonce,
                  "SecretId": SECRET_ID, "SegmentationOptions.Head": "true",
                  "Url": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"}
        sts = auth.v1_string_to_sign("GET", server.endpoint, params.items())
        params["Signature"] = auth.v1_signature(SECRET_KEY, sts)
        resp = assert_envelope(requests.get(server.url + "/", params=params, timeout=30))
        assert "PortraitImage" in resp, resp


def test_v1_nonce_out_of_range(server: EmulatorServer) -> None:
    params = {"Action": "SegmentCustomizedPortraitPic", "Version": "2020-03-24",
              "Region": REGION, "Timestamp": str(int(time.time())), "Nonce": str(2**63),
              "SecretId": SECRET_ID, "SegmentationOptions.Head": "true"}
    sts = auth.v1_string_to_sign("GET", server.endpoint, params.items())
    params["Signature"] = auth.v1_signature(SECRET_KEY, sts)
    resp = assert_envelope(requests.get(server.url + "/", params=params, timeout=30))
    assert resp["Error"]["Code"] == "InvalidParameter"


def test_missing_common_parameters_v1(server: EmulatorServer) -> None:
    resp = assert_envelope(requests.get(server.url + "/?SecretId=x&Signature=y&Nonce=1",
                                        timeout=10))
    assert resp["Error"] == {"Code": "MissingParameter",
                             "Message": "The request is missing a required parameter `Action`."}


def test_malformed_query(server: EmulatorServer) -> None:
    resp = assert_envelope(requests.get(server.url + "/?Action", timeout=10))
    assert resp["Error"]["Code"] == "InvalidParameter"


# ---- size limits -----------------------------------------------------------------------------

def test_oversized_v3_body_through_the_sdk(endpoint: str) -> None:
    big = "A" * (10 * 1024 * 1024 + 1)
    err = _sdk_error(lambda: _segment(endpoint, {**HEAD, "Image": big}))
    assert err.get_code() == "RequestSizeLimitExceeded"


def test_oversized_v1_body_through_the_sdk(endpoint: str) -> None:
    big = "A" * (1024 * 1024 + 1)
    err = _sdk_error(lambda: _segment(endpoint, {**HEAD, "Image": big}, sign_method="HmacSHA1"))
    assert err.get_code() == "RequestSizeLimitExceeded"


def test_oversized_chunked_body(server: EmulatorServer) -> None:
    def chunks() -> Any:
        for _ in range(12):
            yield b"x" * (1024 * 1024)

    resp = requests.post(server.url + "/", data=chunks(),
                         headers={"Content-Type": "application/json"}, timeout=30)
    assert assert_envelope(resp)["Error"]["Code"] == "RequestSizeLimitExceeded"


def test_get_up_to_32kb_is_served_and_over_is_refused(server: EmulatorServer) -> None:
    def get(size: int) -> dict[str, Any]:
        base = "/?Image="
        query = base[2:] + "A" * (size - len(base))
        headers = tc3_headers(server.endpoint, b"", method="GET", query=query,
                              content_type="application/x-www-form-urlencoded")
        return assert_envelope(requests.get(server.url + "/?" + query, headers=headers,
                                            timeout=10))

    under = get(32 * 1024)
    assert under["Error"]["Code"] == "MissingParameter"  # admitted, then validated
    over = get(32 * 1024 + 1)
    assert over["Error"]["Code"] == "RequestSizeLimitExceeded"
