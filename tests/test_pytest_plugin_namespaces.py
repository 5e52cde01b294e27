"""The plugin with accounts as namespaces: strict plans, near misses, explanations in reports,
and parallel suites sharing one remote emulator without meeting."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator

import pytest

from emulator.resources import fixture_path
from emulator.serve.keys import CREDENTIALS, JOURNAL
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from tests.helpers import SECRET_ID, bda, segment_request

pytest_plugins = ["pytester"]

DOCS_URL = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"
SEGMENT = f'''
import json
import pytest
from tencentcloud.bda.v20200324 import models
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

def segment(client, **options):
    req = models.SegmentCustomizedPortraitPicRequest()
    req.from_json_string(json.dumps({{"Url": "{DOCS_URL}",
                                      "SegmentationOptions": options or {{"Head": True}}}}))
    return client.SegmentCustomizedPortraitPic(req)

def code(client, **options):
    try:
        segment(client, **options)
        return "OK"
    except TencentCloudSDKException as err:
        return err.code
'''
BOOT = {"name": "boot", "rules": [{"name": "boot", "sequence": [
    {"error": {"code": "FailedOperation.ServerError"}}, "pass", "pass"]}]}


def test_a_strict_plan_not_used_up_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SEGMENT + f'''
@pytest.mark.bda_scenario({BOOT!r})
def test_retries_too_little(bda_client):
    assert code(bda_client) == "FailedOperation.ServerError"

@pytest.mark.bda_scenario({BOOT!r})
def test_uses_the_plan(bda_client):
    assert [code(bda_client) for _ in range(3)] == ["FailedOperation.ServerError", "OK", "OK"]

@pytest.mark.bda_scenario({BOOT!r}, strict=False)
def test_not_strict(bda_client):
    code(bda_client)
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*rule boot: 2 of 3 steps unused: the client retried less "
                                 "than the drill expected*"])


def test_assert_requests_shows_near_misses(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SEGMENT + '''
def test_counts(bda_client, bda_emulator):
    segment(bda_client, Head=True)
    segment(bda_client, Face=True)
    assert len(bda_emulator.assert_requests(count=1, options=["Face"])) == 1
    bda_emulator.assert_requests(min=2, action="SegmentCustomizedPortraitPic", code="OK")
    bda_emulator.assert_requests(count=1, options=["Hair"])
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([  # (fnmatch: square brackets would be character sets)
        "*expected exactly 1 requests matching {'options': *Hair*}, found 0.*",
        "*closest requests in the journal:*",
        "*SegmentCustomizedPortraitPic -> OK: options: *Head* (wanted *Hair*)*"])


def test_a_failing_test_reports_why_requests_were_rejected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SEGMENT + '''
def test_bad_options(bda_client):
    assert code(bda_client, Head="yes") == "OK"
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*bda-emulator: rejected requests*",
                                 "*-> InvalidParameter*", "*SegmentationOptions*"])


@pytest.fixture
def shared() -> Iterator[EmulatorServer]:
    with EmulatorServer(Settings(port=0, workers=2)) as server:
        yield server


def test_parallel_workers_and_another_client_share_one_emulator(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
        shared: EmulatorServer) -> None:
    monkeypatch.setenv("BDA_EMULATOR_URL", shared.url)
    pytester.makepyfile(SEGMENT + '''
import time

@pytest.mark.parametrize("n", range(4))
@pytest.mark.bda_scenario("drills/flaky-10", strict=False)
def test_flaky_suite(bda_client, bda_emulator, n):
    codes = [code(bda_client) for _ in range(20)]
    mine = bda_emulator.requests()
    assert [e["code"] for e in mine] == codes  # the journal view has exactly my requests
    assert set(codes) <= {"OK", "InternalError"}
    assert bda_emulator.coverage()["requests"] == 20

@pytest.mark.parametrize("n", range(4))
@pytest.mark.bda_scenario("drills/account-in-arrears")
def test_arrears_suite(bda_client, bda_emulator, n):
    time.sleep(0.05 * n)
    assert [code(bda_client) for _ in range(5)] == ["ResourceUnavailable.InArrears"] * 5
    assert len(bda_emulator.requests()) == 5

@pytest.mark.parametrize("n", range(2))
def test_clock_suite(bda_client, bda_emulator, n):
    bda_emulator.set_clock(offset=3600)  # my clock only: the other workers' calls still pass
    assert [code(bda_client) for _ in range(5)] == ["AuthFailure.SignatureExpire"] * 5
''')
    stop = threading.Event()
    outsider: list[str] = []

    def independent_client() -> None:  # the default account: no scenario of the suites hits it
        params = {"Url": DOCS_URL, "SegmentationOptions": {"Head": True}}
        client = bda(shared.endpoint)
        while not stop.is_set():
            client.SegmentCustomizedPortraitPic(segment_request(params))
            outsider.append("OK")
            time.sleep(0.01)

    thread = threading.Thread(target=independent_client, daemon=True)
    thread.start()
    try:
        result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    finally:
        stop.set()
        thread.join(timeout=30)
    result.assert_outcomes(passed=10)
    assert len(outsider) > 10  # it ran all along, every call succeeded (an error would raise)
    assert shared.app is not None
    default = [e for e in shared.app[JOURNAL] if e.secret_id == SECRET_ID]
    assert default and all(e.code == "OK" for e in default)  # no suite's scenario leaked
    assert shared.app[CREDENTIALS].runtime == {}  # the suites' accounts are gone again


def test_the_default_account_still_works_without_the_plugin(endpoint: str) -> None:
    image = base64.b64encode(fixture_path("images/portrait.jpg").read_bytes()).decode()
    reply = bda(endpoint).SegmentCustomizedPortraitPic(
        segment_request({"Image": image, "SegmentationOptions": {"Head": True}}))
    assert reply.PortraitImage
