"""One truth for scenario state under concurrent load: a ``times: 1`` rule fires once in total."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import requests
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.serve.server import EmulatorServer
from tests.helpers import bda, segment_request

DOCS = {"Url": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg",
        "SegmentationOptions": {"Head": True}}


def _call(endpoint: str) -> str:
    try:
        bda(endpoint).SegmentCustomizedPortraitPic(segment_request(DOCS))
    except TencentCloudSDKException as exc:
        return str(exc.code)
    return "OK"


def test_times_one_fires_exactly_once_under_concurrent_load(server: EmulatorServer) -> None:
    assert server.settings.threads >= 2  # more than one image worker
    requests.post(server.url + "/_emulator/reset", timeout=10).raise_for_status()
    scenario = {"name": "once", "rules": [{"times": 1, "effect": {"error": {
        "code": "FailedOperation.ServerError"}}}]}
    requests.put(server.url + "/_emulator/scenarios", data=json.dumps(scenario),
                 timeout=10).raise_for_status()
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(_call, [server.endpoint] * 48))
        assert codes.count("FailedOperation.ServerError") == 1
        assert codes.count("OK") == 47
        journal = requests.get(server.url + "/_emulator/requests", timeout=10).json()
        fired = [e for e in journal["requests"] if e["code"] == "FailedOperation.ServerError"]
        assert len(fired) == 1
        assert fired[0]["rules"] and fired[0]["rules"][0].startswith("once#")
        assert sum(1 for e in journal["requests"] if e["rules"]) == 1
    finally:
        requests.post(server.url + "/_emulator/reset", timeout=10).raise_for_status()
