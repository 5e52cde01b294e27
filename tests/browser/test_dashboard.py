"""The dashboard at /_emulator/ in headless Chromium, against a real emulator on loopback, with
the official SDK as the client under test."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from tencentcloud.bda.v20200324 import models
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from emulator.resources import fixture_path
from emulator.serve.server import EmulatorServer
from tests.browser.conftest import REQUIRED, unavailable
from tests.helpers import AdminApi, bda, segment_request

if unavailable() and not REQUIRED:  # under BDA_REQUIRE_BROWSER=1 the fixtures fail instead
    pytest.skip(unavailable(), allow_module_level=True)  # one line in the summary

from playwright.sync_api import Page, expect  # after the skip: it may be missing

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent.parent

PICTURE = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"
VIDEO = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.mp4"
Make = Callable[..., EmulatorServer]


def segment(endpoint: str, **options: bool) -> Any:
    return bda(endpoint).SegmentCustomizedPortraitPic(segment_request(
        {"Url": PICTURE, "SegmentationOptions": options or {"Head": True, "Hair": True}}))


def code_of(endpoint: str) -> str:
    try:
        segment(endpoint)
        return "OK"
    except TencentCloudSDKException as err:
        return str(err.code)


def open_board(page: Page, server: EmulatorServer) -> None:
    page.goto(f"{server.url}/_emulator/")
    expect(page.locator("#board")).to_be_visible()


def until(page: Page, function: str, arg: Any = None, seconds: float = 10) -> Any:
    """Poll ``function(arg)`` in the page until it is truthy (``wait_for_function`` evaluates
    strings, which the page's Content-Security-Policy refuses)."""
    deadline = time.monotonic() + seconds
    while not (value := page.evaluate(function, arg)):
        assert time.monotonic() < deadline, f"not true within {seconds} s: {function}"
        time.sleep(0.05)
    return value


def image_bytes(page: Page, selector: str) -> bytes:
    """The bytes behind an <img>'s source, as the page holds them (a blob: Url)."""
    until(page, "(s) => document.querySelector(s)?.complete && "
                "document.querySelector(s).naturalWidth > 0", selector)
    text = page.evaluate("""async (selector) => {
        const buffer = await (await fetch(document.querySelector(selector).src)).arrayBuffer();
        let binary = "";
        for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
        return btoa(binary);
    }""", selector)
    return base64.b64decode(text)


def test_an_sdk_request_appears_in_the_table_within_a_second(page: Page, make_server: Make
                                                             ) -> None:
    server = make_server()
    open_board(page, server)
    expect(page.locator("#req-empty")).to_be_visible()
    reply = segment(server.endpoint)
    answered = time.monotonic()
    row = page.locator(f'tr[data-rid="{reply.RequestId}"]')
    row.wait_for(timeout=1000)
    assert time.monotonic() - answered < 1.0
    expect(row).to_contain_text("SegmentCustomizedPortraitPic")
    expect(row).to_contain_text("TC3-HMAC-SHA256")
    expect(row).to_contain_text("ap-guangzhou")
    assert "k-success" in (row.get_attribute("class") or "")
    # a later error lands on top, coloured as a client error; the code filter shows it alone
    assert code_of_with_wrong_key(server.endpoint) == "AuthFailure.SignatureFailure"
    first = page.locator("#req-body tr").first
    expect(first).to_contain_text("AuthFailure.SignatureFailure")
    assert "k-client" in (first.get_attribute("class") or "")
    page.select_option("#f-code", "AuthFailure.SignatureFailure")
    expect(page.locator("#req-body tr:not([hidden])")).to_have_count(1)
    expect(page.locator("#counts")).to_have_text("1 of 2 requests")
    page.select_option("#f-code", "")
    page.click("#pause")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    paused = segment(server.endpoint)
    time.sleep(1.2)
    expect(page.locator(f'tr[data-rid="{paused.RequestId}"]')).to_have_count(0)
    page.click("#pause")
    page.locator(f'tr[data-rid="{paused.RequestId}"]').wait_for(timeout=1000)


def code_of_with_wrong_key(endpoint: str) -> str:
    req = models.SegmentPortraitPicRequest()
    req.Url = PICTURE
    try:
        bda(endpoint, secret_key="not-the-key").SegmentPortraitPic(req)
        return "OK"
    except TencentCloudSDKException as err:
        return str(err.code)


def test_a_request_shows_its_three_pictures_and_the_cut_out_is_the_replys(
        page: Page, make_server: Make) -> None:
    server = make_server()
    open_board(page, server)
    reply = segment(server.endpoint, Head=True, Hair=True)
    page.locator(f'tr[data-rid="{reply.RequestId}"] button.rid').click()
    for picture in ("#pic-input", "#pic-cutout", "#pic-mask"):
        expect(page.locator(picture)).to_be_visible()
    assert image_bytes(page, "#pic-cutout") == base64.b64decode(reply.PortraitImage)
    assert image_bytes(page, "#pic-mask") == base64.b64decode(reply.MaskImage)
    thumbnail = image_bytes(page, "#pic-input")
    assert thumbnail[:3] == b"\xff\xd8\xff" and len(thumbnail) < 100_000
    assert "checker" in (page.locator("#pic-cutout").get_attribute("class") or "")
    # the ImageRects over the input, in the input's pixel coordinates
    rects = page.locator("#detail .overlay rect")
    expect(rects).to_have_count(len(reply.ImageRects))
    for index, rect in enumerate(reply.ImageRects):
        drawn = rects.nth(index)
        assert [drawn.get_attribute(a) for a in ("x", "y", "width", "height")] == \
            [str(rect.X), str(rect.Y), str(rect.Width), str(rect.Height)]
    assert page.locator("#detail .overlay svg").get_attribute("viewBox") == "0 0 640 457"
    fields = json.loads(page.locator("#reply-fields").inner_text())
    assert fields["PortraitImage"].startswith("<base64: ") and \
        fields["MaskImage"].startswith("<base64: ")
    assert fields["ImageRects"] == json.loads(reply.to_json_string())["ImageRects"]
    assert reply.PortraitImage[:100] not in page.content()


def test_a_rejection_shows_its_explanation_and_the_keyboard_reaches_it(
        page: Page, make_server: Make) -> None:
    server = make_server()
    open_board(page, server)
    assert code_of_with_wrong_key(server.endpoint) == "AuthFailure.SignatureFailure"
    button = page.locator("#req-body button.rid").first
    button.wait_for(timeout=1000)
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#detail-h")).to_be_focused()
    expect(page.locator("#detail pre.explain")).to_contain_text("string to sign")
    assert "not-the-key" not in page.content()


def test_loading_flaky_10_from_the_page_makes_the_next_sdk_calls_follow_it(
        page: Page, make_server: Make) -> None:
    server = make_server()
    # the drill as --scenario loads it: the same seeded draws, so the same calls fail
    reference = make_server(scenarios=(fixture_path("scenarios/drills/flaky-10.json"),))
    expected = [code_of(reference.endpoint) for _ in range(30)]
    assert "InternalError" in expected and "OK" in expected
    open_board(page, server)
    assert [code_of(server.endpoint) for _ in range(3)] == ["OK"] * 3  # no drill yet
    page.get_by_role("button", name="Load drills/flaky-10").click()
    expect(page.locator("#notice")).to_have_text("Scenario drills/flaky-10 loaded.")
    expect(page.locator("#scen-list")).to_contain_text("10% InternalError")
    assert [code_of(server.endpoint) for _ in range(30)] == expected
    failed = page.locator("#req-body tr.k-service")
    expect(failed).to_have_count(expected.count("InternalError"), timeout=2000)
    expect(failed.first).to_contain_text("10% InternalError")  # the rule, in the table
    hits = page.locator("#scen-list .rules tbody tr td").nth(2)
    expect(hits).to_have_text(str(expected.count("InternalError")), timeout=3000)
    page.get_by_role("button", name="Remove scenario drills/flaky-10").click()
    expect(page.locator("#scen-list")).to_contain_text("No scenario loaded")
    assert [code_of(server.endpoint) for _ in range(10)] == ["OK"] * 10


def test_the_coverage_picture_changes_after_an_error_and_exports(page: Page,
                                                                 make_server: Make) -> None:
    server = make_server()
    open_board(page, server)
    cell = page.locator("#cov-body .cov-cell", has_text="AuthFailure.SignatureFailure")
    expect(cell).to_have_class("cov-cell never")
    before = page.locator("#coverage").screenshot()
    assert code_of_with_wrong_key(server.endpoint) == "AuthFailure.SignatureFailure"
    expect(cell).to_have_class("cov-cell seen client", timeout=3000)
    expect(cell).to_contain_text("1")
    assert page.locator("#coverage").screenshot() != before
    with page.expect_download() as download:
        page.click("#export-json")
    exported = json.loads(download.value.path().read_text())
    assert exported["returned"] == {"AuthFailure.SignatureFailure": 1}
    with page.expect_download() as download:
        page.click("#export-html")
    assert download.value.suggested_filename == "bda-coverage.html"
    html = download.value.path().read_text()
    assert "<script" not in html and "<style>" in html
    assert 'cov-cell seen client"><span class="cov-code">AuthFailure.<wbr>SignatureFailure' \
        in html


def test_with_an_admin_token_the_page_shows_nothing_from_the_journal_without_it(
        browser: Any, page: Page, make_server: Make) -> None:
    server = make_server(admin_token="s3cret-token")
    reply = segment(server.endpoint)
    page.goto(f"{server.url}/_emulator/")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#board")).to_be_hidden()
    time.sleep(1.0)  # time for any poll to have brought something
    assert reply.RequestId not in page.content()
    assert page.locator("#req-body tr").count() == 0
    page.fill("#token", "wrong")
    page.click("#login-form button")
    expect(page.locator("#login-error")).to_have_text("That token was refused.")
    assert reply.RequestId not in page.content()
    page.fill("#token", "s3cret-token")
    page.keyboard.press("Enter")
    page.locator(f'tr[data-rid="{reply.RequestId}"]').wait_for(timeout=2000)
    page.locator(f'tr[data-rid="{reply.RequestId}"] button.rid').click()
    expect(page.locator("#pic-cutout")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('bda-emulator-token')") == "s3cret-token"
    # the token is this tab's only: another tab (context) asks again
    other = browser.new_context().new_page()
    other.goto(f"{server.url}/_emulator/")
    expect(other.locator("#login")).to_be_visible()
    assert reply.RequestId not in other.content()
    other.context.close()


def test_a_video_task_shows_its_timeline_and_plays_its_result(page: Page,
                                                             make_server: Make) -> None:
    server = make_server()
    open_board(page, server)
    client = bda(server.endpoint)
    create = models.CreateSegmentationTaskRequest()
    create.VideoUrl = VIDEO
    task_id = client.CreateSegmentationTask(create).TaskID
    admin = AdminApi(server)
    server.clock.shift(60)  # the task's emulated time passes at once (SDK signatures allow it)
    try:
        deadline = time.monotonic() + 30
        while not any(t["task_id"] == task_id and t["state"] == "FINISHED"
                      for t in admin("GET", "tasks").json()["tasks"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        describe = models.DescribeSegmentationTaskRequest()
        describe.TaskID = task_id
        described = client.DescribeSegmentationTask(describe)
    finally:
        server.clock.shift(-60)
    assert described.TaskStatus == "FINISHED"
    row = page.locator(f'tr[data-rid="{described.RequestId}"]')
    row.locator("button.rid").click()
    timeline = page.locator("#detail .timeline li")
    expect(timeline).to_have_count(3)
    expect(timeline.nth(0)).to_contain_text("QUEUING")
    expect(timeline.nth(2)).to_contain_text("FINISHED")
    video = page.locator("#task-video")
    expect(video).to_be_visible()
    source = video.get_attribute("src") or ""
    assert source.startswith("/_results/")
    served = requests.get(server.url + source, timeout=10)
    assert served.status_code == 200 and served.headers["Content-Type"] == "video/mp4"
    until(page, "() => document.querySelector('#task-video').readyState >= 1")
    fields = json.loads(page.locator("#reply-fields").inner_text())
    assert fields["TaskStatus"] == "FINISHED" and fields["ResultVideoMD5"]


#: Text whose colour contrasts less than 4.5:1 (WCAG AA) with the background it is drawn on.
_LOW_CONTRAST = """() => {
    const rgba = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
    const linear = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    const lum = ([r, g, b]) => 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    const background = (node) => {
        for (; node; node = node.parentElement) {
            const c = rgba(getComputedStyle(node).backgroundColor);
            if (c.length === 3 || c[3] > 0) return c;
        }
        return [255, 255, 255];
    };
    const low = [];
    for (const node of document.querySelectorAll("body *")) {
        if (!node.getClientRects().length || node.closest(".vh, meter, [hidden]")) continue;
        if (![...node.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim())) continue;
        const [a, b] = [lum(rgba(getComputedStyle(node).color)), lum(background(node))];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        if (ratio < 4.5) low.push(`${node.tagName}.${node.className}: ${node.textContent.trim()
            .slice(0, 30)} (${ratio.toFixed(2)})`);
    }
    return low;
}"""


def test_every_text_is_readable_and_the_controls_have_names(page: Page, make_server: Make
                                                            ) -> None:
    server = make_server()
    admin = AdminApi(server)
    segment(server.endpoint)  # success
    code_of_with_wrong_key(server.endpoint)  # client error
    admin("PUT", "scenarios", {"name": "two", "rules": [
        {"name": "boom", "times": 1, "effect": {"error": {"code": "InternalError"}}},
        {"name": "cut", "times": 1, "effect": "reset"}]})
    assert code_of(server.endpoint) == "InternalError"  # service error
    assert code_of(server.endpoint) == "ClientNetworkError"  # transport fault
    open_board(page, server)
    expect(page.locator("#req-body tr")).to_have_count(4)
    for kind in ("success", "client", "service", "transport"):
        expect(page.locator(f"#req-body tr.k-{kind}")).to_have_count(1)
    page.locator("#req-body tr.k-success button.rid").click()
    expect(page.locator("#pic-mask")).to_be_visible()
    expect(page.locator("#cov-body .cov-cell.seen")).to_have_count(2)
    assert page.evaluate(_LOW_CONTRAST) == []
    # every control has an accessible name; every picture a text alternative
    unnamed = page.evaluate("""() => [...document.querySelectorAll(
        "button, select, input, img, video")].filter((n) => n.getClientRects().length &&
        !(n.getAttribute("aria-label") || n.getAttribute("alt") || n.labels?.length ||
          n.textContent.trim())).map((n) => n.outerHTML.slice(0, 80))""")
    assert unnamed == []
    # the keyboard alone: Tab from the filters reaches Pause, then the table's RequestIds
    page.focus("#f-account")
    page.keyboard.press("Tab")
    expect(page.locator("#pause")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")


@pytest.mark.slow
def test_quick_dashboard_benchmark_reports_each_variant(chromium: Path, tmp_path: Path) -> None:
    """``python -m benchmarks.dashboard --quick`` completes and reports each variant (no
    timing asserted): what the dashboard costs is measured, not guessed."""
    out = tmp_path / "dashboard.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.dashboard", "--quick", "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = out.read_text(encoding="utf-8")
    for row in ("| no hook |", "| closed |", "| open |", "One `Gallery.keep`"):
        assert row in report, row
    assert float(report.split("| open |")[1].split("|")[5]) > 1  # the open tab polled
