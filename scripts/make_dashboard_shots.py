"""Screenshots of the dashboard for the README: docs/dashboard-*.png.

Starts an emulator on loopback, plays a short drill against it with the official Python SDK
and the bundled sample pictures and video (successes, a rejected signature, ``drills/flaky-10``
loaded from the page, a connection reset, a video task), then photographs the page in Debian's
headless Chromium (``apt-get install chromium``) driven by Playwright at a laptop's 1366×900:

* ``docs/dashboard-requests.png`` — the live table and one request's pictures;
* ``docs/dashboard-scenarios.png`` — the scenarios panel and the clock;
* ``docs/dashboard-coverage.png`` — the coverage picture.

Run ``python scripts/make_dashboard_shots.py`` (``make docs`` does). Without Chromium it says
how to install it and writes nothing (a failure under ``BDA_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path

import requests
from tencentcloud.bda.v20200324 import bda_client, models
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from emulator.resources import fixture_path
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from emulator.testing import CHROMIUM, CHROMIUM_ARGS, REGION, SECRET_ID, SECRET_KEY

DOCS = Path(__file__).resolve().parent.parent / "docs"
SAMPLE = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"
VIDEO = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.mp4"
VIEWPORT = {"width": 1366, "height": 900}


def client(endpoint: str, key: str = SECRET_KEY) -> bda_client.BdaClient:
    http = HttpProfile(endpoint=endpoint, protocol="http", reqTimeout=30)
    profile = ClientProfile(httpProfile=http, language="en-US")
    return bda_client.BdaClient(credential.Credential(SECRET_ID, key), REGION, profile)


def attempt(call: object, request: object) -> str:
    try:
        reply = call(request)  # type: ignore[operator]
        return str(reply.RequestId)
    except TencentCloudSDKException as err:
        return str(err.code)


def segment(endpoint: str, params: dict[str, object], key: str = SECRET_KEY) -> str:
    request = models.SegmentCustomizedPortraitPicRequest()
    request.from_json_string(json.dumps(params))
    return attempt(client(endpoint, key).SegmentCustomizedPortraitPic, request)


def drill(server: EmulatorServer) -> str:
    """Traffic worth looking at; returns the RequestId of the request to show."""
    endpoint, admin = server.endpoint, f"{server.url}/_emulator"
    two = base64.b64encode(fixture_path("images/two-people.jpg").read_bytes()).decode()
    segment(endpoint, {"Image": two, "SegmentationOptions": {"Body": True, "Head": True}})
    portrait = models.SegmentPortraitPicRequest()
    portrait.Url = SAMPLE
    attempt(client(endpoint).SegmentPortraitPic, portrait)
    segment(endpoint, {"Url": SAMPLE, "SegmentationOptions": {"Head": True}}, key="wrong-key")
    requests.put(f"{admin}/scenarios", timeout=10, data=json.dumps(
        {"name": "demo/one-reset", "rules": [{"name": "reset once", "times": 1,
                                              "effect": "reset"}]}))
    segment(endpoint, {"Url": SAMPLE, "SegmentationOptions": {"Head": True}})
    requests.delete(f"{admin}/scenarios/demo/one-reset", timeout=10)
    create = models.CreateSegmentationTaskRequest()
    create.VideoUrl = VIDEO
    task = client(endpoint).CreateSegmentationTask(create).TaskID
    requests.post(f"{admin}/tasks/{task}", json={"state": "FINISHED"}, timeout=10)
    describe = models.DescribeSegmentationTaskRequest()
    describe.TaskID = task
    for _ in range(100):
        if client(endpoint).DescribeSegmentationTask(describe).TaskStatus == "FINISHED":
            break
        time.sleep(0.1)
    requests.post(f"{admin}/dashboard/scenarios", json={"bundled": "drills/flaky-10"},
                  timeout=10)
    shown = ""
    for _ in range(24):
        answer = segment(endpoint, {"Url": SAMPLE,
                                    "SegmentationOptions": {"Head": True, "Hair": True,
                                                            "Body": True}})
        shown = answer if len(answer) == 36 else shown
    return shown


def main() -> int:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return _unavailable("the playwright package is missing: pip install -e '.[test]'")
    if not CHROMIUM.exists():
        return _unavailable(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    DOCS.mkdir(exist_ok=True)
    with EmulatorServer(Settings(port=0, workers=1)) as server:
        shown = drill(server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=list(CHROMIUM_ARGS))
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{server.url}/_emulator/")
            page.locator(f'tr[data-rid="{shown}"] button.rid').click()
            for picture in ("#pic-input", "#pic-cutout", "#pic-mask"):
                while not page.evaluate("(s) => document.querySelector(s)?.naturalWidth > 0",
                                        picture):  # no wait_for_function: the page's CSP
                    time.sleep(0.05)                # refuses the strings it evaluates
            page.wait_for_selector("#cov-body .cov-cell")
            page.evaluate("() => document.activeElement.blur()")  # no focus ring in the shots
            page.mouse.move(0, 0)
            shots = {"requests": None, "scenarios": "#scenarios", "coverage": "#coverage"}
            for name, selector in shots.items():
                out = DOCS / f"dashboard-{name}.png"
                if selector is None:
                    page.screenshot(path=str(out))
                else:
                    page.locator(selector).screenshot(path=str(out))
                print(out)
            browser.close()
    return 0


def _unavailable(why: str) -> int:
    print(f"make_dashboard_shots: skipped, {why}", file=sys.stderr)
    return 1 if os.environ.get("BDA_REQUIRE_BROWSER") == "1" else 0


if __name__ == "__main__":
    raise SystemExit(main())
