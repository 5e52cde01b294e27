"""Test helpers: official SDK clients pointed at a server, and raw signed requests."""

from __future__ import annotations

import json
from typing import Any

import requests
from tencentcloud.bda.v20200324 import bda_client, models
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from emulator.errors import CATALOGUE
from emulator.serve.server import EmulatorServer
from emulator.testing import REGION, SECRET_ID, SECRET_KEY, tc3_headers

__all__ = ["REGION", "SECRET_ID", "SECRET_KEY", "AdminApi", "assert_envelope", "bda",
           "call_async", "check_reply", "common", "parse_raw", "post_raw", "profile",
           "segment_request",
           "tc3_headers"]


def profile(endpoint: str, *, sign_method: str = "TC3-HMAC-SHA256", req_method: str = "POST",
            language: str | None = "en-US", unsigned: bool = False) -> ClientProfile:
    http = HttpProfile(endpoint=endpoint, protocol="http", reqMethod=req_method, reqTimeout=30)
    prof = ClientProfile(signMethod=sign_method, httpProfile=http, language=language or "zh-CN")
    if language is None:
        prof.language = None
    prof.unsignedPayload = unsigned
    return prof


def bda(endpoint: str, *, secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY,
        token: str | None = None, region: str | None = REGION, **kw: Any) -> bda_client.BdaClient:
    cred = credential.Credential(secret_id, secret_key, token)
    return bda_client.BdaClient(cred, region or "", profile(endpoint, **kw))


def common(endpoint: str, *, version: str = "2020-03-24", region: str = REGION,
           **kw: Any) -> CommonClient:
    cred = credential.Credential(SECRET_ID, SECRET_KEY)
    return CommonClient("bda", version, cred, region, profile=profile(endpoint, **kw))


def segment_request(params: dict[str, Any]) -> models.SegmentCustomizedPortraitPicRequest:
    req = models.SegmentCustomizedPortraitPicRequest()
    req.from_json_string(json.dumps(params))
    return req


def post_raw(url: str, body: bytes, headers: dict[str, str],
             method: str = "POST") -> requests.Response:
    return requests.request(method, url + "/", data=body, headers=headers, timeout=30)


def assert_envelope(resp: requests.Response) -> dict[str, Any]:
    """The contract every reply keeps: 200, exact Content-Type, Response + RequestId."""
    assert resp.status_code == 200, resp.text[:300]
    assert resp.headers["Content-Type"] == "application/json"
    data = resp.json()
    assert set(data) == {"Response"}
    assert isinstance(data["Response"]["RequestId"], str)
    assert len(data["Response"]["RequestId"]) == 36
    return data["Response"]  # type: ignore[no-any-return]


def check_reply(status: int, headers: dict[str, str], body: bytes, method: str) -> None:
    assert status == 200, (status, body[:200])
    assert headers.get("content-type") == "application/json", headers
    if method == "HEAD":
        return
    data = json.loads(body)
    response = data["Response"]
    assert set(data) == {"Response"}
    assert isinstance(response["RequestId"], str) and len(response["RequestId"]) == 36
    if "Error" in response:
        assert response["Error"]["Code"] in CATALOGUE, response
        assert response["Error"]["Code"] != "InternalError", response
        assert isinstance(response["Error"]["Message"], str)
    else:
        assert {"PortraitImage", "MaskImage", "ImageRects"} <= set(response)


def parse_raw(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return status, headers, body


class AdminApi:
    """``/_emulator/`` of one server, with its admin token if it has one."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        token = server.settings.admin_token
        self.headers = {"X-Emulator-Token": token} if token else {}

    def __call__(self, method: str, path: str, body: Any = None,
                 raw: bytes | None = None) -> requests.Response:
        data = raw if raw is not None else (
            body if isinstance(body, bytes | str) or body is None else json.dumps(body))
        return requests.request(method, f"{self.server.url}/_emulator/{path}", data=data,
                                headers=self.headers, timeout=10)

    def journal(self) -> list[dict[str, Any]]:
        return self("GET", "requests").json()["requests"]  # type: ignore[no-any-return]

    def reset(self) -> None:
        self("POST", "reset").raise_for_status()


async def call_async(endpoint: str, action: str, params: dict[str, Any], resp_cls: type,
                     **kw: Any) -> Any:
    """One call through the official async client of the common package: the same
    ``AbstractClient.call_and_deserialize`` path ``bda_client_async`` (shipped only in the
    169 MB all-products package) takes, with its generated response model."""
    from tencentcloud.common.common_client_async import CommonClient as AsyncCommonClient

    cred = credential.Credential(SECRET_ID, SECRET_KEY)
    client = AsyncCommonClient("bda", "2020-03-24", cred, REGION, profile=profile(endpoint, **kw))
    async with client:
        return await client.call_and_deserialize(action, params, resp_cls)
