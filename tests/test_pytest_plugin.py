"""The pytest plugin, driven by pytester in subprocesses (each a fresh pytest session)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from emulator.serve.server import EmulatorServer
from emulator.settings import Settings

pytest_plugins = ["pytester"]

DOCS_URL = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"

SEGMENT_TEST = f'''
import json
from tencentcloud.bda.v20200324 import models

def segment(client):
    req = models.SegmentCustomizedPortraitPicRequest()
    req.from_json_string(json.dumps({{"Url": "{DOCS_URL}",
                                      "SegmentationOptions": {{"Head": True}}}}))
    return client.SegmentCustomizedPortraitPic(req)
'''


def test_importing_the_plugin_is_light() -> None:
    code = ("import sys, emulator.pytest_plugin; "
            "print(','.join(m for m in ('aiohttp', 'PIL', 'jsonschema') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_fixtures_marker_and_reset(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SEGMENT_TEST + '''
import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

def test_client_is_pointed_at_the_emulator(bda_client, bda_emulator):
    resp = segment(bda_client)
    assert resp.ImageRects[0].Label == "Head"
    assert bda_emulator.endpoint.startswith("127.0.0.1:")
    assert bda_emulator.url == "http://" + bda_emulator.endpoint
    assert bda_emulator.secret_id.startswith("AKID") and bda_emulator.secret_key
    assert bda_emulator.region == "ap-guangzhou"
    assert [r["code"] for r in bda_emulator.requests()] == ["OK"]

@pytest.mark.bda_scenario("errors/FailedOperation.ServerError")
def test_marker_loads_a_bundled_scenario(bda_client):
    with pytest.raises(TencentCloudSDKException) as info:
        segment(bda_client)
    assert info.value.code == "FailedOperation.ServerError"

def test_each_test_starts_from_a_reset_emulator(bda_client, bda_emulator):
    assert bda_emulator.requests() == []
    assert segment(bda_client).PortraitImage

@pytest.mark.bda_scenario({"name": "inline", "rules": [
    {"effect": {"error": {"code": "InternalError"}}}]})
def test_marker_takes_a_dict(bda_client, bda_emulator):
    with pytest.raises(TencentCloudSDKException) as info:
        segment(bda_client)
    assert info.value.code == "InternalError"
    assert "InternalError" in bda_emulator.coverage()["returned"]

def test_clock(bda_client, bda_emulator):
    bda_emulator.set_clock(offset=-3600)
    with pytest.raises(TencentCloudSDKException) as info:
        segment(bda_client)
    assert info.value.code == "AuthFailure.SignatureExpire"
''')
    result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_server_thread_errors_fail_the_test_that_caused_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SEGMENT_TEST + '''
import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

def test_bug_inside_the_server(bda_client, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("deliberate bug")
    monkeypatch.setattr("emulator.actions.segment_customized_portrait_pic.reply_for", broken)
    with pytest.raises(TencentCloudSDKException) as info:
        segment(bda_client)
    assert info.value.code == "InternalError"

def test_next_test_is_unaffected(bda_client):
    assert segment(bda_client).MaskImage
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)  # reported at the teardown of the guilty test
    result.stdout.fnmatch_lines(["*failed inside its server thread*", "*deliberate bug*"])


def test_bda_client_skips_without_the_sdk(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
import sys
sys.modules["tencentcloud.bda"] = None
''')
    pytester.makepyfile('''
def test_needs_sdk(bda_client):
    pass
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*pip install tencentcloud-sdk-python-bda*"])


def test_remote_mode_drives_a_running_server(pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with EmulatorServer(Settings(port=0)) as remote:
        monkeypatch.setenv("BDA_EMULATOR_URL", remote.url)
        pytester.makepyfile(SEGMENT_TEST + f'''
def test_remote(bda_client, bda_emulator):
    assert bda_emulator.url == "{remote.url}"
    assert segment(bda_client).PortraitImage
''')
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        assert remote.app is not None


def test_works_with_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SEGMENT_TEST + '''
import pytest

@pytest.mark.parametrize("n", range(4))
def test_isolated(bda_client, bda_emulator, n):
    assert segment(bda_client).PortraitImage
    assert len(bda_emulator.requests()) == 1
''')
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
