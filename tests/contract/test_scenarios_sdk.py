"""Scenarios through the official Python SDK: every error code, every effect, the drills.

What the SDK reports for each transport fault (asserted below, summarised in the README):

=================  =====================================================================
fault              TencentCloudSDKException code / message (RequestId is None)
=================  =====================================================================
reset              ClientNetworkError / "('Connection aborted.', ConnectionResetError(…))"
close              ClientNetworkError / "('Connection aborted.', RemoteDisconnected(…))"
truncated          ChunkedEncodingError / "('Connection broken: IncompleteRead(…)', …)"
malformed_json     JSONDecodeError / "Unterminated string starting at: …"
gateway 502/3/4    ServerNetworkError / the raw HTML page as bytes
hang (timeout t)   ClientNetworkError / "HTTPConnectionPool(…): Read timed out. (read timeout=t)"
=================  =====================================================================

StandardRetryer retries only ClientNetworkError, ServerNetworkError and RequestLimitExceeded
(+ .UinLimitExceeded, .GlobalRegionUinLimitExceeded): truncated and malformed replies surface
at once. And in SDK 3.1.195 it never recovers once an attempt failed (see below).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from tencentcloud.bda.v20200324 import bda_client
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)
from tencentcloud.common.retry import StandardRetryer

from emulator.errors import CATALOGUE, ApiError
from emulator.resources import fixture_path
from emulator.scenarios.facts import Facts
from emulator.scenarios.loading import load_bundled
from emulator.scenarios.store import ScenarioStore
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from tests.helpers import REGION, SECRET_ID, SECRET_KEY, profile, segment_request

IMAGE = base64.b64encode(fixture_path("images/portrait.jpg").read_bytes()).decode()
PARAMS = {"Image": IMAGE, "SegmentationOptions": {"Head": True}}
DETAILS = {"RequestLimitExceeded": {"count": "6", "limit": "5"}}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(Settings(port=0, workers=2)) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh(emu: EmulatorServer) -> Iterator[None]:
    requests.post(f"{emu.url}/_emulator/reset", timeout=10).raise_for_status()
    yield


def client(emu: EmulatorServer, *, timeout: float = 30, retryer: Any = None,
           secret_key: str = SECRET_KEY, region: str = REGION, language: str = "en-US"
           ) -> bda_client.BdaClient:
    prof = profile(emu.endpoint, language=language)
    prof.httpProfile.reqTimeout = timeout
    if retryer is not None:
        prof.retryer = retryer
    return bda_client.BdaClient(credential.Credential(SECRET_ID, secret_key), region, prof)


def call(cl: bda_client.BdaClient, scenario: str | None = None) -> Any:
    req = segment_request(PARAMS)
    if scenario is not None:
        req.headers = {"X-Emulator-Scenario": scenario}
    return cl.SegmentCustomizedPortraitPic(req)


def sdk_error(cl: bda_client.BdaClient, scenario: str | None = None) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call(cl, scenario)
    return info.value


def put(emu: EmulatorServer, *rules: dict[str, Any], name: str = "t") -> None:
    answer = requests.put(f"{emu.url}/_emulator/scenarios", timeout=10,
                          json={"name": name, "rules": list(rules)})
    assert answer.status_code in (200, 201), answer.text


def journal(emu: EmulatorServer, at_least: int = 1) -> list[dict[str, Any]]:
    """The journal, once it holds ``at_least`` entries (a hang is recorded when it ends)."""
    deadline = time.monotonic() + 5
    while True:
        answer = requests.get(f"{emu.url}/_emulator/requests", timeout=10).json()
        if len(answer["requests"]) >= at_least or time.monotonic() > deadline:
            return list(answer["requests"])
        time.sleep(0.02)


# -- every documented code --------------------------------------------------------------------

@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_error_scenario_through_the_sdk(emu: EmulatorServer, code: str) -> None:
    cl = client(emu)
    err = sdk_error(cl, f"errors/{code}")
    assert err.get_code() == code
    assert err.get_message() == ApiError(code, **DETAILS.get(code, {})).message("en-US")
    assert len(err.get_request_id()) == 36
    assert call(cl, f"errors/{code}").RequestId  # times 1: the next one is processed normally


def test_error_message_follows_the_language_unless_overridden(emu: EmulatorServer) -> None:
    put(emu, {"sequence": [{"error": {"code": "FailedOperation.RpcFail"}},
                           {"error": {"code": "InternalError", "message": "boom"}}]})
    cl = client(emu, language="zh-CN")
    assert sdk_error(cl).get_message() == CATALOGUE["FailedOperation.RpcFail"].zh
    assert sdk_error(cl).get_message() == "boom"


def test_a_scenario_fails_a_request_that_would_fail_auth(emu: EmulatorServer) -> None:
    wrong = client(emu, secret_key="not-the-key")
    assert sdk_error(wrong).get_code() == "AuthFailure.SignatureFailure"
    put(emu, {"effect": {"error": {"code": "ResourceUnavailable.InArrears"}}})
    assert sdk_error(wrong).get_code() == "ResourceUnavailable.InArrears"


def test_unmatched_requests_are_processed_normally(emu: EmulatorServer) -> None:
    put(emu, {"match": {"region": "ap-shanghai"}, "effect": "reset"})
    assert call(client(emu)).MaskImage
    assert sdk_error(client(emu, region="ap-shanghai")).get_code() == "ClientNetworkError"


def test_unknown_scenario_header_is_reported(emu: EmulatorServer) -> None:
    err = sdk_error(client(emu), "drills/nope")
    assert err.get_code() == "InvalidParameter"
    assert "`drills/nope` is neither loaded nor bundled" in err.get_message()


# -- effects ------------------------------------------------------------------------------------

def test_delay_then_normal_processing(emu: EmulatorServer) -> None:
    put(emu, {"effect": {"delay": {"seconds": 0.3}}})
    started = time.monotonic()
    assert call(client(emu)).MaskImage
    assert time.monotonic() - started >= 0.3
    (entry,) = journal(emu)
    assert entry["code"] == "OK" and entry["latency_ms"] >= 300 and entry["rules"] == ["t#rule-0"]


def test_rate_limit_per_secret_id(emu: EmulatorServer) -> None:
    put(emu, {"effect": {"rate_limit": {"limit": 2, "per_seconds": 30}}})
    cl = client(emu)
    call(cl)
    call(cl)
    err = sdk_error(cl)
    assert err.get_code() == "RequestLimitExceeded"
    assert err.get_message() == (
        "Your current request times equals to `3` in a second, which exceeds the frequency "
        "limit `2` for a second. Please reduce the frequency of calls.")
    other = bda_client.BdaClient(credential.Credential("AKIDEMULATORTEMPORARY000000000000000",
                                                       SECRET_KEY, "emulator-session-token"),
                                 REGION, profile(emu.endpoint))
    assert call(other).MaskImage  # another SecretId has its own budget
    assert [e["code"] for e in journal(emu)] == ["OK", "OK", "RequestLimitExceeded", "OK"]


@pytest.mark.parametrize(("effect", "code", "message"), [
    ("reset", "ClientNetworkError", "Connection reset by peer"),
    ("close", "ClientNetworkError", "Remote end closed connection without response"),
    ("truncated", "ChunkedEncodingError", "IncompleteRead"),
    ("malformed_json", "JSONDecodeError", ""),
    ({"gateway": {"status": 502}}, "ServerNetworkError", "502 Bad Gateway"),
    ({"gateway": {"status": 503}}, "ServerNetworkError",
     "503 Service Temporarily Unavailable"),
    ({"gateway": {"status": 504}}, "ServerNetworkError", "504 Gateway Time-out"),
    ("hang", "ClientNetworkError", "Read timed out. (read timeout=0.5)"),
])
def test_what_the_sdk_reports_for_each_transport_fault(emu: EmulatorServer,
                                                       effect: str | dict[str, Any], code: str,
                                                       message: str) -> None:
    put(emu, {"effect": effect, "times": 1})
    err = sdk_error(client(emu, timeout=0.5))
    assert err.get_code() == code
    text = err.get_message()
    shown = text.decode() if isinstance(text, bytes) else str(text)
    assert message in shown
    assert err.get_request_id() is None
    if isinstance(effect, dict):  # the gateway pages
        assert isinstance(text, bytes) and shown.startswith("<html>")
    (entry,) = journal(emu)
    assert entry["code"].startswith("transport.") and entry["rules"] == ["t#rule-0"]
    assert call(client(emu)).MaskImage  # times 1, and the connection pool recovers


def test_journal_codes_for_transport_faults(emu: EmulatorServer) -> None:
    put(emu, {"sequence": [{"gateway": {"status": 503}}, "truncated"]})
    cl = client(emu)
    sdk_error(cl)
    sdk_error(cl)
    assert [e["code"] for e in journal(emu)] == ["transport.gateway_503", "transport.truncated"]


# -- StandardRetryer ----------------------------------------------------------------------------
#
# Observed with tencentcloud-sdk-python-common 3.1.195: StandardRetryer.send_request never clears
# the error of a failed attempt, so once one attempt failed with a retryable code it keeps
# calling until max_attempts even after a success, then raises that stale error. The emulator
# side recovers as the drill says (the journal shows it); a retryer that forgets the error on
# success recovers too.

def _retryer() -> StandardRetryer:
    return StandardRetryer(max_attempts=3, backoff_fn=lambda n: 0.05 * 2**n)


class ClearingRetryer(StandardRetryer):  # type: ignore[misc]
    """StandardRetryer's policy, returning the first success."""

    def send_request(self, fn: Any) -> Any:
        for n in range(self._max_attempts):
            try:
                return fn()
            except TencentCloudSDKException as err:
                if not self.should_retry(None, err) or n == self._max_attempts - 1:
                    raise
                time.sleep(self._backoff_fn(n))
        raise AssertionError("unreachable")


def _gaps(entries: list[dict[str, Any]]) -> list[float]:
    return [b["time"] - a["time"] for a, b in itertools.pairwise(entries)]


def test_standard_retryer_under_throttle_then_recover(emu: EmulatorServer) -> None:
    started = time.monotonic()
    err = sdk_error(client(emu, retryer=_retryer()), "drills/throttle-then-recover")
    assert err.get_code() == "RequestLimitExceeded"  # the stale error, despite the success
    assert time.monotonic() - started >= 0.05 + 0.1 + 0.2  # it sleeps after the last try too
    entries = journal(emu, 3)
    assert [e["code"] for e in entries] == ["RequestLimitExceeded", "RequestLimitExceeded", "OK"]
    assert all(e["rules"] == ["drills/throttle-then-recover#throttled twice"]
               for e in entries[:2])
    first, second = _gaps(entries)
    assert 0.05 <= first < 0.05 + 0.25 and 0.1 <= second < 0.1 + 0.25, (first, second)


def test_standard_retryer_keeps_calling_after_a_success(emu: EmulatorServer) -> None:
    put(emu, {"effect": {"error": {"code": "RequestLimitExceeded"}}, "times": 1})
    assert sdk_error(client(emu, retryer=_retryer())).get_code() == "RequestLimitExceeded"
    assert [e["code"] for e in journal(emu, 3)] == ["RequestLimitExceeded", "OK", "OK"]


def test_a_retryer_that_forgets_the_error_recovers(emu: EmulatorServer) -> None:
    retryer = ClearingRetryer(max_attempts=3, backoff_fn=lambda n: 0.05 * 2**n)
    assert call(client(emu, retryer=retryer), "drills/throttle-then-recover").MaskImage
    entries = journal(emu, 3)
    assert [e["code"] for e in entries] == ["RequestLimitExceeded", "RequestLimitExceeded", "OK"]
    first, second = _gaps(entries)
    assert first >= 0.05 and second >= 0.1


def test_standard_retryer_gives_up_after_max_attempts(emu: EmulatorServer) -> None:
    put(emu, {"effect": {"rate_limit": {"limit": 0}}})
    assert sdk_error(client(emu, retryer=_retryer())).get_code() == "RequestLimitExceeded"
    assert [e["code"] for e in journal(emu, 3)] == ["RequestLimitExceeded"] * 3


@pytest.mark.parametrize(("drill", "codes"), [
    ("drills/connection-resets", ["transport.reset", "OK", "transport.reset"]),
    ("drills/gateway-errors", ["transport.gateway_502", "OK", "transport.gateway_503"]),
])
def test_retryers_under_transport_drills(emu: EmulatorServer, drill: str,
                                         codes: list[str]) -> None:
    with pytest.raises(TencentCloudSDKException):
        call(client(emu, retryer=_retryer()), drill)
    assert [e["code"] for e in journal(emu, 3)] == codes
    requests.post(f"{emu.url}/_emulator/reset", timeout=10).raise_for_status()
    retryer = ClearingRetryer(max_attempts=3, backoff_fn=lambda n: 0.01)
    assert call(client(emu, retryer=retryer), drill).MaskImage
    assert [e["code"] for e in journal(emu, 2)] == codes[:2]


def test_standard_retryer_does_not_retry_malformed_replies(emu: EmulatorServer) -> None:
    put(emu, {"effect": "malformed_json", "times": 1})
    assert sdk_error(client(emu, retryer=_retryer())).get_code() == "JSONDecodeError"
    assert len(journal(emu)) == 1


# -- drills -------------------------------------------------------------------------------------

def test_flaky_10_is_seeded(emu: EmulatorServer) -> None:
    cl = client(emu)
    runs = []
    for _ in range(2):
        requests.post(f"{emu.url}/_emulator/reset", timeout=10).raise_for_status()
        outcome = []
        for _ in range(40):
            try:
                call(cl, "drills/flaky-10")
                outcome.append(".")
            except TencentCloudSDKException as err:
                assert err.get_code() == "InternalError"
                outcome.append("x")
        runs.append("".join(outcome))
    assert runs[0] == runs[1] and 1 <= runs[0].count("x") <= 10, runs


def test_region_outage_expired_keys_and_arrears(emu: EmulatorServer) -> None:
    assert sdk_error(client(emu, region="ap-shanghai"), "drills/region-outage").get_code() == \
        "ServiceUnavailable"
    assert call(client(emu, region="ap-beijing"), "drills/region-outage").MaskImage
    cl = client(emu)
    assert call(cl, "drills/expired-keys") and call(cl, "drills/expired-keys")
    assert sdk_error(cl, "drills/expired-keys").get_code() == "AuthFailure.TokenFailure"
    assert sdk_error(cl, "drills/account-in-arrears").get_code() == \
        "ResourceUnavailable.InArrears"


def test_slow_backend_draws_its_seeded_delay(emu: EmulatorServer) -> None:
    drill = load_bundled("drills/slow-backend")
    assert drill is not None
    decision = ScenarioStore([drill]).decide(Facts(action="SegmentCustomizedPortraitPic"), 0.0)
    expected = asyncio.run(decision).delay
    assert 0 < expected <= 10
    assert call(client(emu), "drills/slow-backend").MaskImage
    (entry,) = journal(emu)
    assert entry["latency_ms"] >= expected * 1000

