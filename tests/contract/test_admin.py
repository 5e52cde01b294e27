"""The admin API under /_emulator/: scenarios, reset, journal, coverage, clock, token, loading."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.resources import fixture_path
from emulator.scenarios.loading import bundled_names
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from emulator.testing import free_port as _free_port
from tests.helpers import SECRET_ID, SECRET_KEY, bda, segment_request

IMAGE = base64.b64encode(fixture_path("images/portrait.png").read_bytes()).decode()
PARAMS = {"Image": IMAGE, "SegmentationOptions": {"Head": True, "Hair": True}}
START: dict[str, Any] = {"name": "start", "rules": [
    {"name": "tagged", "match": {"headers": {"X-Start": "yes"}},
     "effect": {"error": {"code": "InternalError"}}, "times": 1}]}
BOOM: dict[str, Any] = {"name": "boom", "rules": [{"name": "once", "times": 1,
                                   "effect": {"error": {"code": "FailedOperation.RpcFail"}}}]}


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "start.json").write_text(json.dumps(START))
    with EmulatorServer(Settings(port=0, workers=2, scenarios=(folder,))) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh(emu: EmulatorServer) -> Iterator[None]:
    yield
    requests.post(f"{emu.url}/_emulator/reset", timeout=10).raise_for_status()


def admin(emu: EmulatorServer, method: str, path: str, body: Any = None,
          **kw: Any) -> requests.Response:
    data = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
    return requests.request(method, f"{emu.url}/_emulator/{path}", data=data, timeout=10, **kw)


def segment(emu: EmulatorServer, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    req = segment_request(PARAMS)
    req.headers = headers
    return bda(emu.endpoint, **kw).SegmentCustomizedPortraitPic(req)


def code_of(emu: EmulatorServer, headers: dict[str, str] | None = None, **kw: Any) -> str:
    try:
        segment(emu, headers, **kw)
    except TencentCloudSDKException as err:
        return str(err.get_code())
    return "OK"


# -- scenarios ----------------------------------------------------------------------------------

def test_put_lists_replaces_and_deletes(emu: EmulatorServer) -> None:
    created = admin(emu, "PUT", "scenarios", BOOM)
    assert created.status_code == 201
    assert created.json() == {"status": "created", "name": "boom", "rules": 1}
    assert code_of(emu) == "FailedOperation.RpcFail"
    assert code_of(emu) == "OK"
    listing = admin(emu, "GET", "scenarios").json()
    assert [s["name"] for s in listing["scenarios"]] == ["start", "boom"]
    (rule,) = listing["scenarios"][1]["rules"]
    assert (rule["name"], rule["matched"], rule["hits"], rule["remaining"]) == ("once", 1, 1, 0)
    assert rule["effect"] == BOOM["rules"][0]["effect"]
    assert "drills/flaky-10" in listing["bundled"] and "errors/InternalError" in listing["bundled"]
    replaced = admin(emu, "PUT", "scenarios", BOOM)
    assert replaced.status_code == 200 and replaced.json()["status"] == "replaced"
    assert code_of(emu) == "FailedOperation.RpcFail"  # replaced = fresh counters
    assert admin(emu, "DELETE", "scenarios/boom").json() == {"status": "deleted", "name": "boom"}
    missing = admin(emu, "DELETE", "scenarios/boom")
    assert missing.status_code == 404 and "boom" in missing.json()["error"]
    admin(emu, "PUT", "scenarios", {**BOOM, "name": "drills/mine"})
    assert admin(emu, "DELETE", "scenarios/drills/mine").status_code == 200
    cleared = admin(emu, "DELETE", "scenarios").json()
    assert cleared == {"status": "cleared", "removed": ["start"]}
    assert admin(emu, "GET", "scenarios").json()["scenarios"] == []


@pytest.mark.parametrize(("body", "words"), [
    (b"{not json", "request body: at /: not JSON"),
    ({"name": "x", "rules": [{"effect": {"error": {"code": "Nope"}}}]},
     "request body: at /rules/0/effect/error/code: 'Nope' is not a documented error code"),
    ({"name": "x"}, "request body: at /: 'rules' is a required property"),
])
def test_put_refuses_invalid_scenarios(emu: EmulatorServer, body: Any, words: str) -> None:
    answer = admin(emu, "PUT", "scenarios", body)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"] == words or answer.json()["error"].startswith(words)


def test_reset_restores_the_start_state(emu: EmulatorServer) -> None:
    tagged = {"X-Start": "yes"}
    assert code_of(emu, tagged) == "InternalError"
    assert code_of(emu, tagged) == "OK"
    admin(emu, "DELETE", "scenarios")
    admin(emu, "PUT", "scenarios", BOOM)
    admin(emu, "POST", "clock", {"offset": 30})
    answer = admin(emu, "POST", "reset")
    assert answer.status_code == 200
    assert answer.json()["status"] == "reset" and answer.json()["scenarios"] == ["start"]
    assert abs(admin(emu, "GET", "clock").json()["offset"]) < 1e-9
    assert admin(emu, "GET", "requests").json()["requests"] == []
    assert admin(emu, "GET", "coverage").json()["requests"] == 0
    assert code_of(emu, tagged) == "InternalError"  # counters are fresh again
    assert code_of(emu) == "OK"  # boom is gone


def test_per_request_header_applies_a_loaded_scenario(emu: EmulatorServer) -> None:
    admin(emu, "PUT", "scenarios", {"name": "only-by-header", "rules": [
        {"match": {"headers": {"X-Emulator-Scenario": "only-by-header"}},
         "effect": {"error": {"code": "FailedOperation.ServerError"}}}]})
    assert code_of(emu) == "OK"
    named = {"X-Emulator-Scenario": "only-by-header"}
    assert code_of(emu, named) == "FailedOperation.ServerError"
    assert code_of(emu, {"X-Emulator-Scenario": "drills/account-in-arrears"}) == \
        "ResourceUnavailable.InArrears"
    per_request = admin(emu, "GET", "scenarios").json()["per_request"]
    assert [s["name"] for s in per_request] == ["drills/account-in-arrears"]


# -- journal ------------------------------------------------------------------------------------

def test_journal_records_metadata_and_filters(emu: EmulatorServer) -> None:
    before = time.time()
    admin(emu, "PUT", "scenarios", BOOM)
    code_of(emu)
    code_of(emu, sign_method="HmacSHA256")
    code_of(emu, secret_id="AKIDEMULATORINARREARS000000000000000", region="ap-beijing")
    answer = admin(emu, "GET", "requests")
    assert "emulatorsecretkey" not in answer.text and IMAGE[:200] not in answer.text
    data = answer.json()
    assert (data["count"], data["size"], data["recorded"], data["dropped"]) == (3, 1000, 3, 0)
    first, second, third = data["requests"]
    assert first["code"] == "FailedOperation.RpcFail" and first["rules"] == ["boom#once"]
    assert second["code"] == "OK" and second["rules"] == []
    assert third["code"] == "ResourceUnavailable.InArrears"
    assert (second["action"], second["secret_id"], second["region"],
            second["signature_method"], second["options"]) == (
        "SegmentCustomizedPortraitPic", SECRET_ID, "ap-guangzhou", "HmacSHA256",
        ["Hair", "Head"])
    png = fixture_path("images/portrait.png").read_bytes()
    assert second["image_bytes"] == len(png) and len(second["image_sha256"]) == 64
    assert second["image_width"] > 0 and second["image_height"] > 0
    assert second["http_method"] == "POST" and second["latency_ms"] > 0
    assert first["time"] >= before - 1 and len(first["request_id"]) == 36

    def ids(**query: Any) -> list[str]:
        reply = admin(emu, "GET", "requests", params=query).json()
        return [e["request_id"] for e in reply["requests"]]

    assert ids(code="OK") == [second["request_id"]]
    assert ids(secret_id="AKIDEMULATORINARREARS000000000000000") == [third["request_id"]]
    assert ids(since=second["time"]) == [second["request_id"], third["request_id"]]
    assert ids(since=third["time"] + 1) == []
    assert ids(limit=1) == [third["request_id"]]
    bad = admin(emu, "GET", "requests", params={"since": "yesterday"})
    assert bad.status_code == 400 and "since" in bad.json()["error"]
    assert admin(emu, "DELETE", "requests").json() == {"status": "cleared", "removed": 3}
    assert admin(emu, "GET", "requests").json()["count"] == 0


def test_journal_records_requests_that_never_reach_the_gateway(emu: EmulatorServer) -> None:
    requests.put(f"{emu.url}/", data=b"x", timeout=10)
    requests.post(f"{emu.url}/", data=b"{}", timeout=10,
                  headers={"Content-Type": "application/json"})
    codes = [e["code"] for e in admin(emu, "GET", "requests").json()["requests"]]
    assert codes == ["UnsupportedProtocol", "AuthFailure.InvalidAuthorization"]


def test_journal_size_bounds_the_ring() -> None:
    assert Settings.load(environ={"BDA_EMULATOR_JOURNAL_SIZE": "2"}).journal_size == 2
    with EmulatorServer(Settings(port=0, workers=1, journal_size=2)) as small:
        for _ in range(3):
            requests.post(f"{small.url}/", data=b"{}", timeout=10)
        data = requests.get(f"{small.url}/_emulator/requests", timeout=10).json()
        assert (data["count"], data["size"], data["recorded"], data["dropped"]) == (2, 2, 3, 1)


# -- coverage -----------------------------------------------------------------------------------

def test_coverage_groups_returned_and_never_returned_codes(emu: EmulatorServer) -> None:
    code_of(emu, {"X-Emulator-Scenario": "errors/FailedOperation.RpcFail"})
    code_of(emu, {"X-Emulator-Scenario": "errors/FailedOperation.JobConflict"})
    code_of(emu, secret_key="wrong")
    code_of(emu)
    code_of(emu, {"X-Emulator-Scenario": "drills/connection-resets"})
    report = admin(emu, "GET", "coverage").json()
    assert (report["requests"], report["ok"], len(report["never"])) == (5, 1, 70)
    assert report["returned"] == {"FailedOperation.RpcFail": 1,
                                  "FailedOperation.JobConflict": 1,
                                  "AuthFailure.SignatureFailure": 1}
    assert report["groups"]["action"]["returned"] == {"FailedOperation.RpcFail": 1}
    assert report["groups"]["bda"]["returned"] == {"FailedOperation.JobConflict": 1}
    assert report["groups"]["common"]["returned"] == {"AuthFailure.SignatureFailure": 1}
    assert "InternalError" in report["groups"]["common"]["never"]
    assert report["transport"] == {"transport.reset": 1}


# -- clock --------------------------------------------------------------------------------------

def test_clock_set_offset_reset(emu: EmulatorServer) -> None:
    now = admin(emu, "POST", "clock", {"set": 1_700_000_000}).json()["now"]
    assert abs(now - 1_700_000_000) < 1
    assert code_of(emu) == "AuthFailure.SignatureExpire"  # the SDK signs with the real time
    shifted = admin(emu, "POST", "clock", {"reset": True}).json()
    assert abs(shifted["now"] - time.time()) < 5 and shifted["offset"] == 0
    later = admin(emu, "POST", "clock", {"offset": 120}).json()
    assert abs(later["now"] - time.time() - 120) < 5 and later["offset"] == 120
    assert code_of(emu) == "OK"  # within the 300 s the signature may be off
    admin(emu, "POST", "clock", {"offset": 200})
    assert admin(emu, "GET", "clock").json()["offset"] == 320
    assert code_of(emu) == "AuthFailure.SignatureExpire"


@pytest.mark.parametrize("body", [{}, {"set": "now"}, {"offset": True}, {"reset": False},
                                  {"set": 1, "offset": 2}, [1], b"nope"])
def test_clock_refuses_bad_bodies(emu: EmulatorServer, body: Any) -> None:
    answer = admin(emu, "POST", "clock", body)
    assert answer.status_code == 400 and "error" in answer.json()


def test_time_windows_follow_the_emulator_clock(emu: EmulatorServer) -> None:
    admin(emu, "PUT", "scenarios", {"name": "later", "rules": [
        {"effect": {"error": {"code": "InternalError"}}, "window": {"after": 60}}]})
    assert code_of(emu) == "OK"
    admin(emu, "POST", "clock", {"offset": 61})
    assert code_of(emu) == "InternalError"


# -- routing and the token ----------------------------------------------------------------------

def test_unknown_routes_and_methods_answer_json(emu: EmulatorServer) -> None:
    missing = admin(emu, "GET", "nothing-here")
    assert missing.status_code == 404 and "nothing-here" in missing.json()["error"]
    wrong = admin(emu, "POST", "coverage")
    assert wrong.status_code == 405 and wrong.json()["allow"] == ["GET"]
    assert admin(emu, "PUT", "health").status_code == 405
    assert admin(emu, "GET", "scenarios/x").json()["allow"] == ["DELETE"]


def test_admin_token() -> None:
    with EmulatorServer(Settings(port=0, workers=1, admin_token="s3cret")) as guarded:
        def get(path: str, token: str | None) -> requests.Response:
            headers = {"X-Emulator-Token": token} if token is not None else {}
            return requests.get(f"{guarded.url}/_emulator/{path}", headers=headers, timeout=10)

        assert get("health", None).status_code == 200
        for path in ("scenarios", "requests", "coverage", "clock", "nowhere"):
            refused = get(path, None)
            assert refused.status_code == 401, path
            assert refused.json() == {"error": "missing or wrong X-Emulator-Token header"}
            assert get(path, "s3cre").status_code == 401
        assert get("coverage", "s3cret").status_code == 200
        assert requests.post(f"{guarded.url}/_emulator/reset", timeout=10).status_code == 401
    assert Settings.load(environ={"BDA_EMULATOR_ADMIN_TOKEN": "t"}).admin_token == "t"


# -- loading at start ---------------------------------------------------------------------------

def test_environment_loads_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(BOOM))
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "two.json").write_text(json.dumps({**START, "name": "two"}))
    env = {"BDA_EMULATOR_SCENARIOS": f"{tmp_path / 'one.json'}{os.pathsep}{folder}"}
    settings = Settings.load(environ=env, overrides={"port": 0, "workers": 1})
    assert settings.scenarios == (tmp_path / "one.json", folder)
    with EmulatorServer(settings) as srv:
        listing = requests.get(f"{srv.url}/_emulator/scenarios", timeout=10).json()
        assert [s["name"] for s in listing["scenarios"]] == ["boom", "two"]
        assert listing["scenarios"][0]["source"] == str(tmp_path / "one.json")




def test_cli_scenario_flag_is_repeatable(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(BOOM))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", str(port),
                             "--scenario", str(tmp_path / "one.json"),
                             "--scenario", str(fixture_path("scenarios/drills"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                listing = requests.get(f"http://127.0.0.1:{port}/_emulator/scenarios",
                                       timeout=2).json()
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
                time.sleep(0.1)
        names = [s["name"] for s in listing["scenarios"]]
        drills = [n for n in bundled_names() if n.startswith("drills/")]
        assert names[0] == "boom" and "drills/flaky-10" in names
        assert len(names) == 1 + len(drills)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_cli_refuses_an_invalid_scenario_naming_file_and_pointer(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad",
                               "rules": [{"effect": {"gateway": {"status": 418}}}]}))
    out = subprocess.run([sys.executable, "-m", "emulator", "--port", "0", "--scenario",
                          str(bad)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert f"{bad}: at /rules/0/effect/gateway/status:" in out.stderr
    missing = subprocess.run([sys.executable, "-m", "emulator", "--scenario",
                              str(tmp_path / "nope.json")], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "BDA_EMULATOR_SCENARIOS" in missing.stderr


def test_sdk_credentials_never_reach_the_journal(emu: EmulatorServer) -> None:
    code_of(emu, sign_method="HmacSHA1", req_method="GET")
    text = admin(emu, "GET", "requests").text
    assert SECRET_KEY not in text and "Signature" not in text
