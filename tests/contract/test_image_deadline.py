"""Image work end to end: a deadline answered through the official SDK, and the work of a
client that hung up dropped before it starts (unless another request shares it).

``compute_reply`` is wrapped in-process (the server runs in a thread of this process): the
input ``SLOW`` holds the only image worker until the test opens ``gate``.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.actions import results
from emulator.actions.results import ResultCache
from emulator.resources import fixture_path
from emulator.serve.keys import SERVICES
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from tests.helpers import bda, segment_request, tc3_headers

SLOW = fixture_path("images/portrait.png").read_bytes()
OTHER = fixture_path("images/portrait.jpg").read_bytes()


def params(image: bytes) -> dict[str, object]:
    return {"Image": base64.b64encode(image).decode(), "SegmentationOptions": {"Head": True}}


class Gated:
    """``compute_reply`` that records its inputs and holds ``SLOW`` until ``gate`` opens."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.seen: list[bytes] = []
        self.original = results.compute_reply

    def __call__(self, image: bytes, options: tuple[str, ...], max_subjects: int
                 ) -> results.Reply:
        self.seen.append(image)
        if image == SLOW:
            assert self.gate.wait(20)
        return self.original(image, options, max_subjects)


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gated]:
    fake = Gated()
    monkeypatch.setattr(results, "compute_reply", fake)
    try:
        yield fake
    finally:
        fake.gate.set()


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def cache_of(srv: EmulatorServer) -> ResultCache:
    assert srv.app is not None
    return srv.app[SERVICES].cache


def hang_up_after_sending(srv: EmulatorServer, image: bytes,
                          until: Callable[[], bool]) -> None:
    """A signed request on a raw socket, closed without reading once ``until()`` holds."""
    body = json.dumps(params(image)).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in tc3_headers(srv.endpoint, body).items())
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
                     + body)
        wait_for(until)


def journal_codes(srv: EmulatorServer) -> list[str]:
    entries = requests.get(srv.url + "/_emulator/requests", timeout=10).json()["requests"]
    return [entry["code"] for entry in entries]


def test_image_work_over_the_deadline_answers_request_timeout(gated: Gated) -> None:
    with EmulatorServer(Settings(port=0, image_timeout=0.5)) as srv:
        started = time.monotonic()
        with pytest.raises(TencentCloudSDKException) as excinfo:
            bda(srv.endpoint).SegmentCustomizedPortraitPic(segment_request(params(SLOW)))
        assert 0.5 <= time.monotonic() - started < 5
        assert excinfo.value.get_code() == "FailedOperation.RequestTimeout"
        assert excinfo.value.get_message() == "Backend service timed out."
        entries = requests.get(srv.url + "/_emulator/requests", timeout=10).json()["requests"]
        assert entries[0]["code"] == "FailedOperation.RequestTimeout"
        assert "--image-timeout" in entries[0]["explain"]
        gated.gate.set()  # the running work ends; its reply serves the retry
        wait_for(lambda: not cache_of(srv).inflight)
        retry = bda(srv.endpoint).SegmentCustomizedPortraitPic(segment_request(params(SLOW)))
        assert retry.MaskImage
        assert gated.seen == [SLOW]


def test_queued_work_of_a_client_that_hung_up_never_runs(gated: Gated) -> None:
    with EmulatorServer(Settings(port=0, workers=1)) as srv, ThreadPoolExecutor(1) as pool:
        first = pool.submit(lambda: bda(srv.endpoint).SegmentCustomizedPortraitPic(
            segment_request(params(SLOW))))
        wait_for(lambda: gated.seen == [SLOW])  # the only image worker is taken
        cache = cache_of(srv)
        hang_up_after_sending(srv, OTHER, until=lambda: len(cache.inflight) == 2)
        wait_for(lambda: len(cache.inflight) == 1)  # noticed and dropped, still queued
        gated.gate.set()
        assert first.result(timeout=20).MaskImage
        wait_for(lambda: "transport.cancelled" in journal_codes(srv))
    assert gated.seen == [SLOW]  # the hung-up request's computation never ran


def test_shared_work_survives_one_client_hanging_up(gated: Gated) -> None:
    with EmulatorServer(Settings(port=0, workers=1)) as srv, ThreadPoolExecutor(1) as pool:
        first = pool.submit(lambda: bda(srv.endpoint).SegmentCustomizedPortraitPic(
            segment_request(params(SLOW))))
        wait_for(lambda: gated.seen == [SLOW])
        jobs = cache_of(srv).inflight
        hang_up_after_sending(srv, SLOW, until=lambda: [j.waiters for j in jobs.values()] == [2])
        wait_for(lambda: [j.waiters for j in jobs.values()] == [1])
        gated.gate.set()
        assert first.result(timeout=20).MaskImage
    assert gated.seen == [SLOW]
