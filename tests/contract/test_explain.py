"""Every rejection explained, never on the wire.

Each test makes a request a real server rejects and checks two things: the reply is exactly
what it was before explanations existed (code and message), and the journal entry's ``explain``
(``GET /_emulator/requests``) says precisely why — the same text logged at DEBUG on the
``bda_emulator`` logger. Secrets (keys, tokens, the expected signature) appear in neither.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
import requests
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.clock import Clock
from emulator.resources import fixture_path
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from emulator.wire import auth, diagnosis
from tests.helpers import (
    SECRET_ID,
    SECRET_KEY,
    AdminApi,
    assert_envelope,
    bda,
    post_raw,
    segment_request,
    tc3_headers,
)

PORTRAIT = base64.b64encode(fixture_path("images/portrait.jpg").read_bytes()).decode()
HEAD = {"SegmentationOptions": {"Head": True}}
WRONG_KEY = "wrongsecretkey111111111111111111"
TEMPORARY = "AKIDEMULATORTEMPORARY000000000000000"
EXPIRED = "AKIDEMULATORTEMPEXPIRED0000000000000"
TOKENS = ("emulator-session-token", "emulator-expired-token", "a-wrong-token-value-9f8e7d")
#: The frozen server's clock: requests signed at FROZEN - 600 are 10 minutes late.
FROZEN = 1_700_000_600


@pytest.fixture(scope="module")
def live() -> Iterator[EmulatorServer]:
    """A server on the real clock, for the official SDK."""
    with EmulatorServer(Settings(port=0, workers=1)) as server:
        yield server


@pytest.fixture(scope="module")
def frozen() -> Iterator[EmulatorServer]:
    """A server whose clock stands still at ``FROZEN``: skews are exact."""
    with EmulatorServer(Settings(port=0, workers=1), clock=Clock(lambda: FROZEN)) as server:
        yield server


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="bda_emulator")
    return caplog


def _explained(server: EmulatorServer, request_id: str,
               log: pytest.LogCaptureFixture) -> str:
    """The journal's explanation of one request, checked to be the one logged at DEBUG."""
    entries = [e for e in AdminApi(server).journal() if e["request_id"] == request_id]
    assert len(entries) == 1, request_id
    explain = entries[0]["explain"]
    assert isinstance(explain, str) and explain
    logged = [r.getMessage() for r in log.records
              if r.name.startswith("bda_emulator") and r.levelno == logging.DEBUG
              and request_id in r.getMessage()]
    assert len(logged) == 1, logged
    assert logged[0].endswith(": " + explain)
    return explain


def _raw(server: EmulatorServer, body: bytes, headers: Mapping[str, str],
         log: pytest.LogCaptureFixture) -> tuple[dict[str, Any], str]:
    """(the reply's Error, the journal's explanation) of a raw request."""
    resp = assert_envelope(post_raw(server.url, body, dict(headers)))
    return resp["Error"], _explained(server, resp["RequestId"], log)


def _sdk(server: EmulatorServer, log: pytest.LogCaptureFixture,
         params: Mapping[str, Any] = HEAD, **kw: Any) -> tuple[TencentCloudSDKException, str]:
    """(the SDK's exception, the journal's explanation) of a SegmentCustomizedPortraitPic."""
    client = bda(server.endpoint, **kw)
    with pytest.raises(TencentCloudSDKException) as info:
        client.SegmentCustomizedPortraitPic(segment_request({**params, "Image": PORTRAIT}))
    return info.value, _explained(server, info.value.get_request_id(), log)


def _signed(host: str, body: bytes, *, signed: Mapping[str, str], sent: Mapping[str, str],
            timestamp: int, secret_key: str = SECRET_KEY) -> dict[str, str]:
    """Headers ``sent`` with an Authorization signing ``signed`` (names → values signed)."""
    date = auth.utc_date(timestamp)
    canonical = auth.tc3_canonical_request("POST", "", list(signed.items()),
                                           auth.sha256_hex(body))
    sts = auth.tc3_string_to_sign(str(timestamp), date, "bda", canonical)
    signature = auth.tc3_signature(secret_key, date, "bda", sts)
    return {**sent, "Authorization": f"TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/bda/"
                                     f"tc3_request, SignedHeaders={';'.join(signed)}, "
                                     f"Signature={signature}"}


def _no_secrets(server: EmulatorServer, log: pytest.LogCaptureFixture,
                secrets: Sequence[str]) -> None:
    journal = requests.get(server.url + "/_emulator/requests", timeout=10).text
    logged = "\n".join(r.getMessage() for r in log.records)
    for secret in secrets:
        assert secret not in journal
        assert secret not in logged


# ---- TC3 signatures --------------------------------------------------------------------------

def test_wrong_service_in_credential_scope(frozen: EmulatorServer,
                                           debug_log: pytest.LogCaptureFixture) -> None:
    body = json.dumps(HEAD).encode()
    headers = tc3_headers(frozen.endpoint, body, timestamp=FROZEN, service="cvm")
    error, explain = _raw(frozen, body, headers, debug_log)
    assert error == {"Code": "AuthFailure.SignatureFailure",
                     "Message": "The provided credentials could not be validated. The "
                                "credential scope names service `cvm`, expected `bda`."}
    date = auth.utc_date(FROZEN)
    assert explain.startswith("TC3-HMAC-SHA256: the credential scope names service `cvm`")
    assert (f"- credential scope: received {date}/cvm/tc3_request; expected "
            f"{date}/bda/tc3_request (the UTC date of X-TC-Timestamp; service `bda` or "
            f"`127`, the first label of the Host)") in explain
    assert f"string to sign (Host `{frozen.endpoint}`):\nTC3-HMAC-SHA256\n{FROZEN}\n" \
           f"{date}/cvm/tc3_request\n" in explain


def test_wrong_credential_date(frozen: EmulatorServer,
                               debug_log: pytest.LogCaptureFixture) -> None:
    body = json.dumps(HEAD).encode()
    headers = tc3_headers(frozen.endpoint, body, timestamp=FROZEN)
    today, yesterday = auth.utc_date(FROZEN), auth.utc_date(FROZEN - 86400)
    headers["Authorization"] = headers["Authorization"].replace(today, yesterday)
    error, explain = _raw(frozen, body, headers, debug_log)
    assert error["Message"] == ("The provided credentials could not be validated. The "
                                f"credential date `{yesterday}` is not the UTC date of "
                                "X-TC-Timestamp.")
    assert explain.startswith(f"TC3-HMAC-SHA256: the credential scope's date `{yesterday}` is "
                              f"not {today}, the UTC date of X-TC-Timestamp {FROZEN}")
    assert f"received {yesterday}/bda/tc3_request; expected {today}/bda/tc3_request" in explain


def test_signed_header_not_sent(frozen: EmulatorServer,
                                debug_log: pytest.LogCaptureFixture) -> None:
    body = json.dumps({**HEAD, "Image": PORTRAIT}).encode()
    base = tc3_headers(frozen.endpoint, body, timestamp=FROZEN)
    sent = {k: v for k, v in base.items() if k not in ("Authorization", "X-TC-Region")}
    headers = _signed(frozen.endpoint, body, timestamp=FROZEN, sent=sent, signed={
        "content-type": "application/json", "host": frozen.endpoint,
        "x-tc-region": "ap-guangzhou"})
    error, explain = _raw(frozen, body, headers, debug_log)
    assert error == {"Code": "AuthFailure.SignatureFailure", "Message": "The provided "
                     "credentials could not be validated. Please check your signature is "
                     "correct."}
    assert "- SignedHeaders: the client listed content-type;host;x-tc-region; the request " \
           "carried " in explain
    carried = re.search(r"the request carried ([^\n]*)", explain)
    assert carried is not None and "x-tc-action" in carried[1]
    assert "x-tc-region" not in carried[1]
    assert ("- listed in SignedHeaders but not sent (signed as empty values): x-tc-region"
            in explain)
    assert "\nx-tc-region:\n\ncontent-type;host;x-tc-region\n" in explain  # signed as empty


def test_signed_action_header_missing_is_missing_parameter(
        frozen: EmulatorServer, debug_log: pytest.LogCaptureFixture) -> None:
    """The client lists content-type;host;x-tc-action but sends no X-TC-Action: the gateway
    asks for Action before it verifies signatures, and says where Action goes."""
    body = json.dumps(HEAD).encode()
    base = tc3_headers(frozen.endpoint, body, timestamp=FROZEN)
    sent = {k: v for k, v in base.items() if k not in ("Authorization", "X-TC-Action")}
    headers = _signed(frozen.endpoint, body, timestamp=FROZEN, sent=sent, signed={
        "content-type": "application/json", "host": frozen.endpoint,
        "x-tc-action": "segmentcustomizedportraitpic"})
    error, explain = _raw(frozen, body, headers, debug_log)
    assert error == {"Code": "MissingParameter",
                     "Message": "The request is missing a required parameter `Action`."}
    assert explain == ("TC3-HMAC-SHA256 requests carry Action in an X-TC-Action header; it "
                       "is absent or empty")


@pytest.mark.parametrize(("offset", "where"), [(-600, "behind"), (600, "ahead of")])
def test_ten_minute_skew(frozen: EmulatorServer, debug_log: pytest.LogCaptureFixture,
                         offset: int, where: str) -> None:
    body = json.dumps({**HEAD, "Image": PORTRAIT}).encode()
    headers = tc3_headers(frozen.endpoint, body, timestamp=FROZEN + offset)
    error, explain = _raw(frozen, body, headers, debug_log)
    assert error == {"Code": "AuthFailure.SignatureExpire",
                     "Message": "The signature is expired, please request again."}
    assert explain == (f"X-TC-Timestamp {FROZEN + offset} is 600 s {where} the emulator's "
                       f"clock {FROZEN}; allowed ±300 s (--signature-ttl)")


def test_wrong_secret_key_shows_what_was_signed_and_no_secret(
        frozen: EmulatorServer, debug_log: pytest.LogCaptureFixture) -> None:
    body = json.dumps({**HEAD, "Image": PORTRAIT}).encode()
    headers = tc3_headers(frozen.endpoint, body, timestamp=FROZEN - 3, secret_key=WRONG_KEY)
    error, explain = _raw(frozen, body, headers, debug_log)
    assert error == {"Code": "AuthFailure.SignatureFailure", "Message": "The provided "
                     "credentials could not be validated. Please check your signature is "
                     "correct."}
    # what the client signed, computed here independently: it must appear verbatim
    date = auth.utc_date(FROZEN - 3)
    canonical = auth.tc3_canonical_request(
        "POST", "", [("content-type", "application/json"), ("host", frozen.endpoint)],
        auth.sha256_hex(body))
    sts = auth.tc3_string_to_sign(str(FROZEN - 3), date, "bda", canonical)
    assert explain.startswith(f"TC3-HMAC-SHA256: the signature is not the HMAC, with the key "
                              f"of SecretId `{SECRET_ID}`, of the string to sign below")
    assert f"string to sign (Host `{frozen.endpoint}`):\n{sts}\n" in explain
    assert f"canonical request (Host `{frozen.endpoint}`):\n{canonical}" in explain
    assert (f"X-TC-Timestamp {FROZEN - 3} is 3 s behind the emulator's clock {FROZEN}; "
            "allowed ±300 s") in explain
    assert f"- payload hash: sha256 of the {len(body)}-byte body" in explain
    bare = frozen.endpoint.rsplit(":", 1)[0]
    assert re.search(rf"host spellings tried[^\n]*`{re.escape(frozen.endpoint)}` [0-9a-f]{{64}}"
                     rf", `{re.escape(bare)}` [0-9a-f]{{64}}", explain)
    assert auth.sha256_hex(canonical.encode()) in explain
    right = auth.tc3_signature(SECRET_KEY, date, "bda", sts)
    sent = auth.tc3_signature(WRONG_KEY, date, "bda", sts)
    _no_secrets(frozen, debug_log, [SECRET_KEY, WRONG_KEY, right, sent])


def test_signed_token_header_value_is_not_shown(frozen: EmulatorServer,
                                                debug_log: pytest.LogCaptureFixture) -> None:
    body = json.dumps(HEAD).encode()
    base = tc3_headers(frozen.endpoint, body, timestamp=FROZEN)
    sent = {**{k: v for k, v in base.items() if k != "Authorization"}, "X-TC-Token": TOKENS[2]}
    headers = _signed(frozen.endpoint, body, timestamp=FROZEN, sent=sent,
                      secret_key=WRONG_KEY, signed={
                          "content-type": "application/json", "host": frozen.endpoint,
                          "x-tc-token": TOKENS[2]})
    error, explain = _raw(frozen, body, headers, debug_log)
    assert error["Code"] == "AuthFailure.SignatureFailure"
    assert f"\nx-tc-token:<{len(TOKENS[2])} chars, not shown>\n" in explain
    assert "the sha256 lines are of the exact text" in explain
    _no_secrets(frozen, debug_log, [TOKENS[2], WRONG_KEY, SECRET_KEY])


# ---- v1 signatures ---------------------------------------------------------------------------

@pytest.mark.parametrize("sign_method", ["HmacSHA1", "HmacSHA256"])
def test_v1_bad_signature(live: EmulatorServer, debug_log: pytest.LogCaptureFixture,
                          sign_method: str) -> None:
    err, explain = _sdk(live, debug_log, secret_key=WRONG_KEY, sign_method=sign_method,
                        secret_id=TEMPORARY, token=TOKENS[0])
    assert err.get_code() == "AuthFailure.SignatureFailure"
    assert err.get_message() == ("The provided credentials could not be validated. Please "
                                 "check your signature is correct.")
    assert explain.startswith(f"{sign_method}: the signature is not the HMAC, with the key of "
                              f"SecretId `{TEMPORARY}`")
    assert f"- HMAC: {sign_method} " in explain
    assert re.search(r"- clock: Timestamp \d+ is [\d.]+ s (behind|ahead of) the emulator's "
                     r"clock [\d.]+; allowed ±300 s \(--signature-ttl\)", explain)
    sts = explain.split(f"string to sign (Host `{live.endpoint}`):\n", 1)[1].split("\n")[0]
    assert sts.startswith(f"POST{live.endpoint}/?Action=SegmentCustomizedPortraitPic&Image="
                          f"{PORTRAIT[:64]}…[{len(PORTRAIT) - 64} more chars]&Language=en-US"
                          "&Nonce=")
    assert (f"&SecretId={TEMPORARY}&SegmentationOptions.Head=True&SignatureMethod="
            f"{sign_method}&Timestamp=") in sts
    assert f"&Token=<{len(TOKENS[0])} chars, not shown>&Version=2020-03-24" in sts
    assert "Signature=" not in sts.replace("SignatureMethod=", "")
    _no_secrets(live, debug_log, [WRONG_KEY, SECRET_KEY, TOKENS[0]])


# ---- tokens and accounts ---------------------------------------------------------------------

@pytest.mark.parametrize(("kw", "message", "explained"), [
    ({"secret_id": TEMPORARY}, "Token error: temporary credentials need `X-TC-Token`",
     f"missing token: SecretId `{TEMPORARY}` is a temporary key; its requests need its token "
     "in X-TC-Token (TC3) or Token (v1), and none was sent"),
    ({"secret_id": TEMPORARY, "token": TOKENS[2]}, "Token error: the token does not match",
     f"wrong token: the one sent ({len(TOKENS[2])} chars) is not the token of temporary "
     f"SecretId `{TEMPORARY}` ({len(TOKENS[0])} chars)"),
    ({"token": TOKENS[2]}, "Token error: a token was sent with long-term credentials",
     f"unexpected token: SecretId `{SECRET_ID}` is a long-term key (its account has no "
     f"token), yet the request sent one ({len(TOKENS[2])} chars in X-TC-Token or Token); "
     "send a token only with temporary keys"),
])
def test_token_failures(live: EmulatorServer, debug_log: pytest.LogCaptureFixture,
                        kw: dict[str, str], message: str, explained: str) -> None:
    err, explain = _sdk(live, debug_log, **kw)
    assert (err.get_code(), err.get_message()) == ("AuthFailure.TokenFailure", message)
    assert explain == explained
    _no_secrets(live, debug_log, [*TOKENS, SECRET_KEY])


def test_expired_token_says_when(live: EmulatorServer,
                                 debug_log: pytest.LogCaptureFixture) -> None:
    err, explain = _sdk(live, debug_log, secret_id=EXPIRED, token=TOKENS[1])
    assert (err.get_code(), err.get_message()) == ("AuthFailure.TokenFailure",
                                                   "Token error: the token has expired")
    expired = 1_577_836_800  # 2020-01-01T00:00:00Z, the fixture's expires_at
    match = re.fullmatch(rf"expired token: temporary SecretId `{EXPIRED}` expired at {expired} "
                         r"\(UNIX seconds, its `expires_at`\); the emulator's clock is "
                         r"([\d.]+), ([\d.]+) s later", explain)
    assert match is not None, explain
    assert abs(float(match[1]) - time.time()) < 60
    assert abs(float(match[2]) - (float(match[1]) - expired)) < 0.01
    _no_secrets(live, debug_log, [*TOKENS, SECRET_KEY])


@pytest.mark.parametrize(("kw", "code", "explained"), [
    ({"secret_id": "AKIDUNKNOWN"}, "AuthFailure.SecretIdNotFound",
     "no active account has SecretId `AKIDUNKNOWN` (SecretIds are case-sensitive; 7 accounts "
     "in the credentials file)"),
    ({"secret_id": "AKIDEMULATORDISABLED0000000000000000"}, "AuthFailure.SecretIdNotFound",
     "SecretId `AKIDEMULATORDISABLED0000000000000000` has state `disabled` in the "
     "credentials file"),
    ({"secret_id": "AKIDEMULATORINARREARS000000000000000"}, "ResourceUnavailable.InArrears",
     "the account of SecretId `AKIDEMULATORINARREARS000000000000000` (account in arrears) has "
     "state `in_arrears`: every request signed with it answers "
     "ResourceUnavailable.InArrears"),
    ({"region": "ap-chengdu"}, "UnsupportedRegion",
     "SegmentCustomizedPortraitPic is served in ap-beijing, ap-guangzhou, ap-shanghai; the "
     "request named `ap-chengdu`"),
])
def test_account_and_region_rejections(live: EmulatorServer,
                                       debug_log: pytest.LogCaptureFixture,
                                       kw: dict[str, str], code: str, explained: str) -> None:
    err, explain = _sdk(live, debug_log, **kw)
    assert err.get_code() == code
    assert explain == explained


# ---- schema ----------------------------------------------------------------------------------

def test_wrong_type_deep_in_segmentation_options(frozen: EmulatorServer,
                                                 debug_log: pytest.LogCaptureFixture) -> None:
    body = json.dumps({"SegmentationOptions": {"Head": "yes"}, "Image": PORTRAIT}).encode()
    error, explain = _raw(frozen, body, tc3_headers(frozen.endpoint, body, timestamp=FROZEN),
                          debug_log)
    assert error == {"Code": "InvalidParameter", "Message": "Parameter "
                     "`SegmentationOptions.Head` type error, expected boolean."}
    assert explain == ("/SegmentationOptions/Head: rule `type`: expected boolean, got string "
                       "\"yes\" (schema: SegmentCustomizedPortraitPic.request.schema.json"
                       "#/properties/SegmentationOptions/properties/Head/type)")


def test_long_values_are_described_not_quoted(frozen: EmulatorServer,
                                              debug_log: pytest.LogCaptureFixture) -> None:
    secretish = "s3cr3t-" + "x" * 40
    body = json.dumps({"SegmentationOptions": {"Head": secretish, "Tail": True},
                       "Image": PORTRAIT}).encode()
    error, explain = _raw(frozen, body, tc3_headers(frozen.endpoint, body, timestamp=FROZEN),
                          debug_log)
    assert error == {"Code": "UnknownParameter",
                     "Message": "The parameter `SegmentationOptions.Tail` is not recognized."}
    assert explain.startswith("/SegmentationOptions/Tail: rule `additionalProperties`: the "
                              "schema defines no such member there (it has: Background, ")
    assert "got boolean true (schema: SegmentCustomizedPortraitPic.request.schema.json" \
           "#/properties/SegmentationOptions/additionalProperties)" in explain
    assert explain.endswith("\n1 other schema failure, not answered: "
                            "/SegmentationOptions/Head (type)")
    assert secretish not in explain
    body = json.dumps({"SegmentationOptions": {"Head": secretish}, "Image": PORTRAIT}).encode()
    _, explain = _raw(frozen, body, tc3_headers(frozen.endpoint, body, timestamp=FROZEN),
                      debug_log)
    assert f"expected boolean, got string of {len(secretish)} chars" in explain
    _no_secrets(frozen, debug_log, [secretish])


def test_v1_flattened_type_error_points_into_the_json(
        live: EmulatorServer, debug_log: pytest.LogCaptureFixture) -> None:
    err, explain = _sdk(live, debug_log, {"SegmentationOptions": {"Head": "maybe"}},
                        sign_method="HmacSHA1")
    assert err.get_message() == "Parameter `SegmentationOptions.Head` type error, expected " \
                                "boolean."
    assert explain.startswith("/SegmentationOptions/Head: rule `type`: expected boolean, got "
                              "string \"maybe\"")


# ---- images ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("image", "message", "explained"), [
    (PORTRAIT.replace("+", "-").replace("/", "_"), "Image decoding failed: invalid base64 data",
     r"Image: `[-_]` at offset \d+: the url-safe base64 alphabet; the emulator accepts the "
     r"standard one only \(`\+` and `/`\)"),
    ("data:image/jpeg;base64," + PORTRAIT, "Image decoding failed: invalid base64 data",
     r"Image: starts with a `data:` URI prefix; send the base64 text only"),
    (base64.b64encode(base64.b64decode(PORTRAIT)[:3000]).decode(),
     "Image decoding failed: corrupt JPEG data (OSError)",
     r"corrupt JPEG data \(3000 bytes, \d+x\d+ by its header\): Pillow: OSError: image file "
     r"is truncated \(\d+ bytes not processed\)"),
    (base64.b64encode(b"<html>not an image</html>").decode(),
     "Image decoding failed: not a PNG, JPEG or BMP image",
     r"the 25 bytes start with 3c 68 74 6d 6c 3e 6e 6f: not the magic bytes of PNG "
     r"\(89 50 4e 47\), JPEG \(ff d8 ff\) or BMP \(42 4d\)"),
])
def test_image_decode_failures(frozen: EmulatorServer, debug_log: pytest.LogCaptureFixture,
                               image: str, message: str, explained: str) -> None:
    body = json.dumps({**HEAD, "Image": image}).encode()
    error, explain = _raw(frozen, body, tc3_headers(frozen.endpoint, body, timestamp=FROZEN),
                          debug_log)
    assert error == {"Code": "FailedOperation.ImageDecodeFailed", "Message": message}
    assert re.fullmatch(explained, explain), explain


def test_get_request_shows_its_query(live: EmulatorServer,
                                     debug_log: pytest.LogCaptureFixture) -> None:
    client = bda(live.endpoint, secret_key=WRONG_KEY, req_method="GET")
    with pytest.raises(TencentCloudSDKException) as info:
        client.SegmentCustomizedPortraitPic(segment_request(
            {**HEAD, "Url": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"}))
    explain = _explained(live, info.value.get_request_id(), debug_log)
    assert info.value.get_code() == "AuthFailure.SignatureFailure"
    assert re.search(r"- query string \(\d+ chars\): signed exactly as received", explain)
    canonical = explain.split(f"canonical request (Host `{live.endpoint}`):\n", 1)[1]
    assert canonical.startswith("GET\n/\nSegmentationOptions.Head=True&Url=https%3A%2F%2F")
    _no_secrets(live, debug_log, [WRONG_KEY, SECRET_KEY])


# ---- the pure explanation, with what no official client sends --------------------------------

def test_hostile_signed_values_are_escaped_and_bounded() -> None:
    names = [f"x-h{i}" for i in range(100)]
    headers = {"host": "127.0.0.1:9527", "content-type": "application/json",
               "x-h0": "bell\x07escape\x1b[31m", "x-h1": "v" * 5000,
               "cookie": "session=hunter2hunter2"}
    signed = ("content-type", "host", "cookie", *names)
    parsed = auth.Tc3Authorization(SECRET_ID, "2023-11-14", "bda", signed, "0" * 64)
    query = "A=" + "q" * 30000
    candidates = auth.tc3_candidates(auth=parsed, method="GET", query=query, headers=headers,
                                     body=b"", timestamp=str(FROZEN))
    explain = diagnosis.tc3("headline", auth=parsed, candidates=candidates, method="GET",
                            query=query, headers=headers, body_size=0, timestamp=FROZEN,
                            now=FROZEN, ttl=300)
    assert all(c.isprintable() for c in explain.replace("\n", ""))
    assert "x-h0:bell\\x07escape\\x1b[31m\n" in explain
    assert f"x-h1:{'v' * 195}…[4805 more chars]\n" in explain
    assert "cookie:<22 chars, not shown>\n" in explain and "hunter2" not in explain
    assert f"\nGET\n/\nA={'q' * 198}…[29802 more chars]\n" in explain
    assert "x-h36;… (63 more); the request carried" in explain  # names listed: bounded
    assert "x-h41, … (58 more)\n" in explain
    assert auth.sha256_hex(candidates[0].canonical_request.encode()) in explain
    assert len(explain) < 8000
