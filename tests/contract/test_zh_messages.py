"""Messages that name or explain something are whole in both languages: the official SDK's
default language is zh-CN, so a Chinese client must get the same detail as an English one."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from emulator.resources import fixture_path
from tests.helpers import bda, segment_request

PARAMS = {"Image": base64.b64encode(fixture_path("images/portrait.jpg").read_bytes()).decode(),
          "SegmentationOptions": {"Head": True}}
TEMPORARY = "AKIDEMULATORTEMPORARY000000000000000"
EXPIRED = "AKIDEMULATORTEMPEXPIRED0000000000000"


def _error(call: Callable[[], Any]) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    return info.value


@pytest.mark.parametrize(("language", "message"), [
    ("zh-CN", "X-Emulator-Scenario `drills/nope` 既不是已加载的场景，也不是内置场景。"),
    ("en-US", "X-Emulator-Scenario `drills/nope` is neither loaded nor bundled"),
])
def test_unknown_scenario_is_named_in_both_languages(endpoint: str, language: str,
                                                     message: str) -> None:
    req = segment_request(PARAMS)
    req.headers = {"X-Emulator-Scenario": "drills/nope"}
    err = _error(lambda: bda(endpoint, language=language).SegmentCustomizedPortraitPic(req))
    assert (err.get_code(), err.get_message()) == ("InvalidParameter", message)


@pytest.mark.parametrize(("kw", "zh", "en"), [
    ({"token": "a-token"}, "长期密钥的请求不能携带 token。",
     "a token was sent with long-term credentials"),
    ({"secret_id": TEMPORARY}, "临时密钥的请求必须携带 `X-TC-Token`。",
     "temporary credentials need `X-TC-Token`"),
    ({"secret_id": TEMPORARY, "token": "wrong"}, "token 与临时密钥不匹配。",
     "the token does not match"),
    ({"secret_id": EXPIRED, "token": "emulator-expired-token"}, "token 已过期。",
     "the token has expired"),
])
@pytest.mark.parametrize("sign_method", ["TC3-HMAC-SHA256", "HmacSHA256"])
def test_token_failures_are_explained_in_both_languages(endpoint: str, kw: dict[str, str],
                                                        zh: str, en: str,
                                                        sign_method: str) -> None:
    for language, message in (("zh-CN", f"token 错误：{zh}"), ("en-US", f"Token error: {en}")):
        client = bda(endpoint, language=language, sign_method=sign_method, **kw)
        err = _error(lambda c=client: c.SegmentCustomizedPortraitPic(segment_request(PARAMS)))
        assert (err.get_code(), err.get_message()) == ("AuthFailure.TokenFailure", message)
