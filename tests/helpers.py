"""Test helpers: official SDK clients pointed at a server, and raw signed requests."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
from tencentcloud.bda.v20200324 import bda_client, models
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from emulator.wire import auth

SECRET_ID = "AKIDEMULATOR000000000000000000000000"
SECRET_KEY = "emulatorsecretkey000000000000000"
REGION = "ap-guangzhou"


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


def tc3_headers(host: str, body: bytes, *, action: str = "SegmentCustomizedPortraitPic",
                version: str = "2020-03-24", region: str | None = REGION,
                secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY,
                timestamp: int | None = None, content_type: str = "application/json",
                method: str = "POST", query: str = "", service: str = "bda") -> dict[str, str]:
    """Headers of a correctly signed v3 request, built by our own signer (vector-tested)."""
    ts = int(time.time()) if timestamp is None else timestamp
    date = auth.utc_date(ts)
    payload = body if method == "POST" else b""
    canonical = auth.tc3_canonical_request(method, query, [("content-type", content_type),
                                                           ("host", host)],
                                           auth.sha256_hex(payload))
    sig = auth.tc3_signature(secret_key, date, service,
                             auth.tc3_string_to_sign(str(ts), date, service, canonical))
    headers = {"Content-Type": content_type, "Host": host, "X-TC-Action": action,
               "X-TC-Version": version, "X-TC-Timestamp": str(ts),
               "Authorization": f"TC3-HMAC-SHA256 Credential={secret_id}/{date}/{service}/"
                                f"tc3_request, SignedHeaders=content-type;host, Signature={sig}"}
    if region is not None:
        headers["X-TC-Region"] = region
    return headers


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
