"""Secret keys and tokens never appear in error messages, the journal or the admin API."""

from __future__ import annotations

import logging

import pytest
import requests
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.serve.server import EmulatorServer
from tests.helpers import SECRET_KEY, bda, segment_request

TOKENS = ["emulator-session-token", "a-wrong-token-value-9f8e7d", "emulator-expired-token"]
DOCS = {"Url": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg",
        "SegmentationOptions": {"Head": True}}


def test_no_secret_in_messages_journal_or_logs(server: EmulatorServer,
                                               caplog: pytest.LogCaptureFixture) -> None:
    requests.post(server.url + "/_emulator/reset", timeout=10).raise_for_status()
    messages: list[str] = []
    caplog.set_level(logging.DEBUG)
    for sign_method in ("TC3-HMAC-SHA256", "HmacSHA1"):
        for sid, token in (("AKIDEMULATORTEMPORARY000000000000000", TOKENS[0]),
                           ("AKIDEMULATORTEMPORARY000000000000000", TOKENS[1]),
                           ("AKIDEMULATORTEMPEXPIRED0000000000000", TOKENS[2]),
                           ("AKIDEMULATOR000000000000000000000000", TOKENS[1])):
            client = bda(server.endpoint, secret_id=sid, token=token, sign_method=sign_method)
            try:
                client.SegmentCustomizedPortraitPic(segment_request(DOCS))
            except TencentCloudSDKException as exc:
                messages.append(str(exc.message))
        wrong = bda(server.endpoint, secret_key=SECRET_KEY[::-1], sign_method=sign_method)
        with pytest.raises(TencentCloudSDKException) as info:
            wrong.SegmentCustomizedPortraitPic(segment_request(DOCS))
        messages.append(str(info.value.message))
    assert any("Token" in m or "token" in m for m in messages)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bda_emulator")]
    exposed = "\n".join([*messages, *ours,
                         requests.get(server.url + "/_emulator/requests", timeout=10).text,
                         requests.get(server.url + "/_emulator/coverage", timeout=10).text])
    for secret in (*TOKENS, SECRET_KEY, SECRET_KEY[::-1]):
        assert secret not in exposed
