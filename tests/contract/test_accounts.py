"""Accounts as namespaces: created and deleted at run time, each with its own scenarios, clock,
journal view, coverage and tasks, never meeting another's."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.resources import fixture_path
from emulator.serve.server import EmulatorServer
from tests.helpers import AdminApi, bda, segment_request

PARAMS = {"Image": base64.b64encode(fixture_path("images/portrait.jpg").read_bytes()).decode(),
          "SegmentationOptions": {"Head": True}}
BOOM = {"name": "boom", "rules": [{"effect": {"error": {"code": "FailedOperation.ServerError"}}}]}


@pytest.fixture
def emu(make_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    return make_server()


def code(emu: EmulatorServer, account: dict[str, Any] | None = None) -> str:
    keys = {} if account is None else {"secret_id": account["secret_id"],
                                       "secret_key": account["secret_key"]}
    try:
        bda(emu.endpoint, **keys).SegmentCustomizedPortraitPic(segment_request(PARAMS))
    except TencentCloudSDKException as err:
        return str(err.get_code())
    return "OK"


def test_create_use_and_delete_an_account(emu: EmulatorServer) -> None:
    admin = AdminApi(emu)
    created = admin("POST", "accounts", {})
    assert created.status_code == 201
    account = created.json()
    assert account["secret_id"].startswith("AKID") and len(account["secret_key"]) >= 24
    assert code(emu, account) == "OK"
    assert admin("DELETE", f"accounts/{account['secret_id']}").status_code == 200
    assert code(emu, account) == "AuthFailure.SecretIdNotFound"
    assert admin("DELETE", f"accounts/{account['secret_id']}").status_code == 404
    assert admin("DELETE", "accounts/AKIDEMULATOR000000000000000000000000").status_code == 404


@pytest.mark.parametrize(("body", "expected"), [
    ({"state": "in_arrears"}, "ResourceUnavailable.InArrears"),
    ({"state": "unauthorized"}, "AuthFailure.UnauthorizedOperation"),
])
def test_accounts_can_be_created_in_any_state(emu: EmulatorServer, body: dict[str, Any],
                                              expected: str) -> None:
    account = AdminApi(emu)("POST", "accounts", body).json()
    assert code(emu, account) == expected


@pytest.mark.parametrize("body", [{"state": "sleepy"}, {"token": ""}, {"expires_at": "soon"},
                                  {"unknown": 1}, [1]])
def test_bad_account_bodies_are_400(emu: EmulatorServer, body: Any) -> None:
    assert AdminApi(emu)("POST", "accounts", body).status_code == 400


def test_scoped_scenarios_see_only_their_account(emu: EmulatorServer) -> None:
    admin = AdminApi(emu)
    one, two = (admin("POST", "accounts", {}).json() for _ in range(2))
    assert admin("PUT", f"scenarios?account={one['secret_id']}", BOOM).status_code == 201
    assert code(emu, one) == "FailedOperation.ServerError"
    assert code(emu, two) == "OK" and code(emu) == "OK"  # neither another account nor default
    assert admin("GET", "scenarios").json()["scenarios"] == []  # the global namespace
    listed = admin("GET", f"scenarios?account={one['secret_id']}").json()["scenarios"]
    assert [s["name"] for s in listed] == ["boom"]
    assert admin("PUT", "scenarios?account=AKIDNOBODY", BOOM).status_code == 400


def test_scoped_clock_journal_coverage_and_reset(emu: EmulatorServer) -> None:
    admin = AdminApi(emu)
    one, two = (admin("POST", "accounts", {}).json() for _ in range(2))
    clock = admin("POST", f"clock?account={one['secret_id']}", {"offset": 3600}).json()
    assert clock["account_offset"] == 3600 and clock["offset"] == 0
    assert code(emu, one) == "AuthFailure.SignatureExpire"  # its clock moved: only its own
    assert code(emu, two) == "OK"
    journal = admin("GET", f"requests?account={one['secret_id']}").json()["requests"]
    assert [e["code"] for e in journal] == ["AuthFailure.SignatureExpire"]
    report = admin("GET", f"coverage?account={one['secret_id']}").json()
    assert report["returned"] == {"AuthFailure.SignatureExpire": 1} and report["ok"] == 0
    assert admin("GET", f"coverage?account={two['secret_id']}").json()["ok"] == 1
    assert admin("POST", f"reset?account={one['secret_id']}").status_code == 200
    assert code(emu, one) == "OK"  # its clock is back
    assert admin("GET", f"requests?account={two['secret_id']}").json()["count"] == 1
    assert admin("GET", "coverage").json()["requests"] == 3  # the global view sees all


def test_strict_scenarios_report_what_is_left(emu: EmulatorServer) -> None:
    admin = AdminApi(emu)
    account = admin("POST", "accounts", {}).json()
    drill = {"name": "boot", "strict": True, "rules": [{"name": "boot", "sequence": [
        {"error": {"code": "FailedOperation.ServerError"}}, "pass", "pass"]}]}
    admin("PUT", f"scenarios?account={account['secret_id']}", drill)
    assert code(emu, account) == "FailedOperation.ServerError"
    pending = admin("GET", f"scenarios?account={account['secret_id']}").json()["pending"]
    assert pending == [{"scenario": "boot", "rule": "boot", "kind": "steps", "unused": 2,
                        "of": 3}]
    code(emu, account)
    code(emu, account)
    assert admin("GET", f"scenarios?account={account['secret_id']}").json()["pending"] == []
