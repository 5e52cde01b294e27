"""Memory under concurrency: request bodies held at once stay within --max-inflight-bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from emulator.serve.keys import BUDGET
from emulator.serve.server import EmulatorServer
from tests.helpers import AdminApi, assert_envelope, post_raw, tc3_headers

MIB = 1024 * 1024


@pytest.fixture
def emu(make_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    return make_server(max_inflight_bytes=4 * MIB, read_timeout=1.0)


def _body(size: int) -> bytes:
    return json.dumps({"SegmentationOptions": {"Head": True}, "Image": "A" * (size - 52)}
                      ).encode()


def _code(emu: EmulatorServer, body: bytes, extra: dict[str, str] | None = None) -> str:
    resp = post_raw(emu.url, body, {**tc3_headers(emu.endpoint, body), **(extra or {})})
    return str(assert_envelope(resp).get("Error", {}).get("Code", "OK"))


def test_concurrent_large_bodies_never_hold_more_than_the_budget(emu: EmulatorServer) -> None:
    body = _body(900 * 1024)
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda _: _code(emu, body), range(20)))
    assert codes == ["FailedOperation.ImageDecodeFailed"] * 20  # every one answered
    assert emu.app is not None
    budget = emu.app[BUDGET]
    assert 900 * 1024 <= budget.peak <= 4 * MIB and budget.used == 0


def test_a_request_waiting_past_the_read_timeout_gets_request_limit_exceeded(
        emu: EmulatorServer) -> None:
    hold = {"name": "hold", "rules": [{"match": {"headers": {"x-hold": "1"}},
                                       "effect": {"delay": {"seconds": 2.5}}}]}
    assert AdminApi(emu)("PUT", "scenarios", hold).status_code == 201
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(_code, emu, _body(3 * MIB), {"X-Hold": "1"})
        while emu.app is None or emu.app[BUDGET].used == 0:
            pass
        assert _code(emu, _body(2 * MIB)) == "RequestLimitExceeded"
        assert first.result(timeout=30) == "FailedOperation.ImageDecodeFailed"
    journal = AdminApi(emu).journal()
    limited = [e for e in journal if e["code"] == "RequestLimitExceeded"]
    assert limited and "--max-inflight-bytes" in limited[0]["explain"]
