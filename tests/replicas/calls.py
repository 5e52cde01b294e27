"""Calls the replica tests make: the official SDK's, raw signed ones, and the admin API's."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests
from tencentcloud.bda.v20200324 import models
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.resources import fixture_path
from tests.helpers import bda

PORTRAIT = base64.b64encode(fixture_path("images/portrait.jpg").read_bytes()).decode()
CUSTOMIZED = {"Image": PORTRAIT, "SegmentationOptions": {"Head": True, "Body": True}}
VIDEO = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.mp4"


@dataclass(frozen=True)
class Reply:
    """What one SDK call came back with: ``code`` is ``"OK"`` for a success."""

    code: str
    request_id: str | None
    data: dict[str, Any]


def sdk(endpoint: str, action: str, params: dict[str, Any], **kw: Any) -> Reply:
    """One call of ``action`` through the official Python SDK (a client of its own)."""
    request = getattr(models, f"{action}Request")()
    request.from_json_string(json.dumps(params))
    try:
        resp = getattr(bda(endpoint, **kw), action)(request)
    except TencentCloudSDKException as err:
        return Reply(str(err.get_code()), err.get_request_id(), {})
    data = json.loads(resp.to_json_string())
    return Reply("OK", data.get("RequestId"), data)


def burst(calls: Sequence[Callable[[], Reply]]) -> list[Reply]:
    """All ``calls`` at once, one thread each, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Reply]) -> Reply:
        barrier.wait(timeout=60)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def admin(url: str, method: str, path: str, body: Any = None, **params: str) -> Any:
    """``/_emulator/<path>`` of the emulator at ``url``; the JSON reply (2xx expected)."""
    resp = requests.request(method, f"{url}/_emulator/{path}", params=params or None,
                            data=None if body is None else json.dumps(body), timeout=10)
    assert resp.ok, (method, path, resp.status_code, resp.text[:300])
    return resp.json()


def journal(url: str, **params: str) -> list[dict[str, Any]]:
    return admin(url, "GET", "requests", **params)["requests"]  # type: ignore[no-any-return]


def rule_hits(url: str, scenario: str) -> dict[str, int]:
    """Each rule's ``hits`` of the active scenario ``scenario``."""
    for active in admin(url, "GET", "scenarios")["scenarios"]:
        if active["name"] == scenario:
            return {rule["name"]: rule["hits"] for rule in active["rules"]}
    raise AssertionError(f"no active scenario {scenario!r}")
