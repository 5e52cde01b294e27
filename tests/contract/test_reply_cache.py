"""The reply cache (emulator.serve.replycache): a repeat of an identical request skips parsing,
validation and image decoding, yet every request is still authenticated, journalled and exposed
to scenarios, and gets its own RequestId and the same bytes as an uncached reply."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from emulator.resources import fixture_path
from emulator.serve.generation import state_generation
from emulator.serve.keys import CREDENTIALS, REPLIES
from emulator.serve.replycache import ReplyCache
from emulator.serve.server import EmulatorServer
from emulator.testing import SECRET_ID, SECRET_KEY
from tests.helpers import AdminApi, tc3_headers

IMAGE = base64.b64encode(fixture_path("images/portrait.jpg").read_bytes()).decode()
CUSTOMIZED = "SegmentCustomizedPortraitPic"
PORTRAIT = "SegmentPortraitPic"
BODIES = {CUSTOMIZED: {"Image": IMAGE, "SegmentationOptions": {"Head": True, "Body": True}},
          PORTRAIT: {"Image": IMAGE}}
BOOM = {"name": "boom", "rules": [{"effect": {"error": {"code": "FailedOperation.ServerError"}}}]}
IMAGE_FACTS = ("action", "secret_id", "region", "signature_method", "options", "image_sha256",
               "image_bytes", "image_width", "image_height", "code", "rules", "http_method")
_REQUEST_ID = re.compile(rb'"RequestId":"[0-9a-f-]{36}"')


def send(emu: EmulatorServer, action: str = CUSTOMIZED, body: dict[str, Any] | None = None,
         extra: dict[str, str] | None = None, **signing: Any) -> dict[str, Any]:
    """One TC3-signed POST (a fresh timestamp each time): its ``Response`` and raw bytes."""
    data = json.dumps(BODIES[action] if body is None else body).encode()
    headers = {**tc3_headers(emu.host, data, action=action, **signing), **(extra or {})}
    resp = requests.post(emu.url + "/", data=data, headers=headers, timeout=30)
    assert resp.status_code == 200
    return {**resp.json()["Response"], "_bytes": resp.content}


def error_code(reply: dict[str, Any]) -> str:
    return str(reply["Error"]["Code"]) if "Error" in reply else "OK"


def without_request_id(reply: dict[str, Any]) -> bytes:
    return _REQUEST_ID.sub(b'"RequestId":""', reply["_bytes"])


def newest(emu: EmulatorServer, account: str | None = None) -> dict[str, Any]:
    """The newest journal entry (of ``account``'s namespace when given)."""
    query = f"?account={account}" if account else ""
    entries = AdminApi(emu)("GET", "requests" + query).json()["requests"]
    return max(entries, key=lambda entry: entry["time"])  # type: ignore[no-any-return]


def replies(emu: EmulatorServer) -> ReplyCache:
    assert emu.app is not None
    return emu.app[REPLIES]


@pytest.fixture
def emu(make_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    return make_server()


@pytest.mark.parametrize("action", [CUSTOMIZED, PORTRAIT])
def test_a_repeat_is_answered_from_the_cache_with_the_same_bytes(
        make_server: Callable[..., EmulatorServer], action: str) -> None:
    emu = make_server()
    first, second, third = (send(emu, action) for _ in range(3))
    assert replies(emu).hits == 2 and len(replies(emu)) == 1
    uncached = send(make_server(cache_size=0), action)
    assert error_code(first) == "OK"
    assert without_request_id(first) == without_request_id(second) == \
        without_request_id(third) == without_request_id(uncached)
    assert len({first["RequestId"], second["RequestId"], third["RequestId"]}) == 3


def test_a_cached_reply_is_journalled_with_the_same_facts(emu: EmulatorServer) -> None:
    send(emu)
    send(emu)
    assert replies(emu).hits == 1
    uncached, cached = sorted(AdminApi(emu).journal(), key=lambda entry: entry["time"])
    assert uncached["request_id"] != cached["request_id"]
    assert {k: cached[k] for k in IMAGE_FACTS} == {k: uncached[k] for k in IMAGE_FACTS}
    assert cached["image_sha256"] is not None and cached["image_width"] == 640
    assert cached["options"] == ["Head", "Body"] and cached["code"] == "OK"
    coverage = AdminApi(emu)("GET", "coverage").json()
    assert json.dumps(coverage).count(CUSTOMIZED) >= 1


def test_a_bad_signature_fails_even_when_its_payload_is_cached(emu: EmulatorServer) -> None:
    assert error_code(send(emu)) == "OK"
    assert error_code(send(emu)) == "OK"
    assert replies(emu).hits == 1
    assert error_code(send(emu, secret_key=SECRET_KEY[::-1])) == "AuthFailure.SignatureFailure"
    assert error_code(send(emu, timestamp=1)) == "AuthFailure.SignatureExpire"
    assert error_code(send(emu, region="ap-nowhere")) == "UnsupportedRegion"
    assert replies(emu).hits == 1
    entry = newest(emu)
    assert entry["code"] == "UnsupportedRegion" and entry["image_sha256"] is None
    assert entry["options"] == ["Head", "Body"]  # the body's facts, as for an uncached failure


def test_an_account_disabled_after_a_cached_reply_gets_its_error(emu: EmulatorServer) -> None:
    admin = AdminApi(emu)
    account = admin("POST", "accounts", {}).json()
    keys = {"secret_id": account["secret_id"], "secret_key": account["secret_key"]}
    assert error_code(send(emu, **keys)) == error_code(send(emu, **keys)) == "OK"
    assert replies(emu).hits == 1
    assert emu.app is not None
    credentials = emu.app[CREDENTIALS]  # changed behind the admin API: no generation bump
    account_now = credentials.runtime[account["secret_id"]]
    credentials.runtime[account["secret_id"]] = dataclasses.replace(account_now,
                                                                    state="in_arrears")
    assert error_code(send(emu, **keys)) == "ResourceUnavailable.InArrears"
    credentials.runtime[account["secret_id"]] = dataclasses.replace(account_now,
                                                                    state="disabled")
    assert error_code(send(emu, **keys)) == "AuthFailure.SecretIdNotFound"
    credentials.runtime[account["secret_id"]] = account_now
    assert error_code(send(emu, **keys)) == "OK"
    assert admin("DELETE", f"accounts/{account['secret_id']}").status_code == 200
    assert error_code(send(emu, **keys)) == "AuthFailure.SecretIdNotFound"
    assert error_code(send(emu)) == "OK"  # the default account is still served


@pytest.mark.parametrize("namespace", [False, True])
def test_a_scenario_activated_after_a_cached_reply_acts(emu: EmulatorServer,
                                                        namespace: bool) -> None:
    admin = AdminApi(emu)
    account = admin("POST", "accounts", {}).json()
    keys = {"secret_id": account["secret_id"], "secret_key": account["secret_key"]}
    assert error_code(send(emu, **keys)) == error_code(send(emu, **keys)) == "OK"
    assert replies(emu).hits == 1
    where = f"?account={account['secret_id']}" if namespace else ""
    assert admin("PUT", "scenarios" + where, BOOM).status_code in (200, 201)
    assert error_code(send(emu, **keys)) == "FailedOperation.ServerError"
    assert newest(emu, account["secret_id"])["rules"][0].startswith("boom#")
    if namespace:  # another account's requests see no scenario: served from the cache again
        assert error_code(send(emu)) == error_code(send(emu)) == "OK"
    admin("DELETE", "scenarios" + where)
    assert error_code(send(emu, **keys)) == "OK"


def test_a_scenario_header_bypasses_the_cache(emu: EmulatorServer) -> None:
    assert error_code(send(emu)) == error_code(send(emu)) == "OK"
    named = {"X-Emulator-Scenario": "drills/account-in-arrears"}
    assert error_code(send(emu, extra=named)) == "ResourceUnavailable.InArrears"
    assert replies(emu).hits == 1


def test_every_admin_mutation_starts_a_new_generation(emu: EmulatorServer) -> None:
    assert emu.app is not None
    send(emu)
    before = state_generation(emu.app)
    assert len(replies(emu)) == 1
    AdminApi(emu)("GET", "requests")
    assert state_generation(emu.app) == before and len(replies(emu)) == 1
    AdminApi(emu).reset()
    assert state_generation(emu.app) > before and len(replies(emu)) == 0
    send(emu)
    send(emu)
    assert replies(emu).hits == 1


def test_url_mode_and_url_inputs_are_not_reused(emu: EmulatorServer) -> None:
    url_mode = {"Image": IMAGE, "RspImgType": "url"}
    first, second = send(emu, PORTRAIT, url_mode), send(emu, PORTRAIT, url_mode)
    assert first["ResultImageUrl"] != second["ResultImageUrl"]  # each call stores new files
    by_url = {"Url": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg",
              "SegmentationOptions": {"Head": True}}
    assert error_code(send(emu, CUSTOMIZED, by_url)) == error_code(send(emu, CUSTOMIZED, by_url))
    assert len(replies(emu)) == 0 and replies(emu).hits == 0


def test_a_disabled_cache_keeps_nothing(make_server: Callable[..., EmulatorServer]) -> None:
    emu = make_server(cache_size=0)
    assert error_code(send(emu)) == error_code(send(emu)) == "OK"
    assert len(replies(emu)) == 0 and replies(emu).hits == 0


def test_the_signer_oracle_still_accepts_the_default_account(emu: EmulatorServer) -> None:
    assert error_code(send(emu, secret_id=SECRET_ID)) == "OK"
