"""The dashboard's server side without a browser: the gallery's bounds, the page and its routes
(public shell, guarded data), polling by RequestId, loading bundled scenarios, the coverage
picture as HTML. The page itself is tested in Chromium: tests/browser/."""

from __future__ import annotations

import asyncio
import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from emulator.actions.results import picture
from emulator.actions.services import Outcome
from emulator.resources import fixture_path
from emulator.serve import coverage_html
from emulator.serve.dashboard import CSP, STATIC
from emulator.serve.gallery import Gallery, elide, read_reply
from emulator.serve.journal import Coverage, outcome_class
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from emulator.testing import SECRET_KEY
from tests.helpers import bda, segment_request

PICTURE = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"


def _fragment(size: int, tag: str = "x") -> bytes:
    return f'"PortraitImage":"{tag * size}","ImageRects":[]'.encode()


# -- the gallery ------------------------------------------------------------------------------

def test_gallery_keeps_references_and_drops_the_oldest_past_its_count() -> None:
    gallery = Gallery(max_entries=3, max_bytes=10**9)
    pic = picture(fixture_path("images/portrait.jpg").read_bytes())
    fragment = _fragment(10)
    for number in range(5):
        gallery.keep(f"r{number}", Outcome(fragment, pic))
    assert [f"r{n}" in gallery for n in range(5)] == [False, False, True, True, True]
    # one input and one reply object shared by every request: counted once
    assert gallery.held == len(pic.data) + len(fragment)


def test_gallery_is_bounded_by_bytes_and_refuses_what_alone_passes_half() -> None:
    gallery = Gallery(max_entries=100, max_bytes=1000)
    for number in range(10):
        gallery.keep(f"r{number}", Outcome(_fragment(200, str(number)), None, task=("1", "X")))
    assert gallery.held <= 1000 and len(gallery) == 4 and "r9" in gallery
    gallery.keep("big", Outcome(_fragment(600), None, task=("1", "X")))
    assert "big" not in gallery and len(gallery) == 4
    gallery.keep("no-picture", Outcome(b'"X":1'))  # neither a picture nor a task: nothing
    assert "no-picture" not in gallery
    gallery.clear()
    assert len(gallery) == 0 and gallery.held == 0


def test_gallery_draws_a_view_once_then_holds_only_the_view() -> None:
    from emulator.actions.results import compute_reply

    data = fixture_path("images/portrait.jpg").read_bytes()
    reply = compute_reply(data, ("Head",), 5)
    gallery = Gallery()
    gallery.keep("r", Outcome(reply.fragment, picture(data)))

    async def draw() -> Any:
        with ThreadPoolExecutor(1) as pool:
            return await asyncio.gather(*(gallery.view("r", pool, lambda key: None)
                                          for _ in range(3)))

    views = asyncio.run(draw())
    assert views[0] is views[1] is views[2]
    view = views[0]
    fields = json.loads(b"{" + reply.fragment + b"}")
    assert view.pictures["cutout"].data == base64.b64decode(fields["PortraitImage"])
    assert view.pictures["cutout"].verbatim and view.pictures["mask"].verbatim
    assert (view.pictures["input"].width, view.pictures["input"].height) == (480, 343)
    assert view.size == (640, 457) and view.rects == fields["ImageRects"]
    assert view.fields["PortraitImage"] == f"<base64: {len(fields['PortraitImage']):,} characters>"
    assert gallery.held == view.weight  # the references were let go


def test_url_mode_pictures_come_from_the_result_files_while_kept() -> None:
    fragment = (b'"ResultImage":"","ResultMask":"","ResultImageUrl":"http://h/_results/'
                + b"a" * 32 + b'/result.png?q-signature=1","ResultMaskUrl":"http://h/_results/'
                + b"b" * 32 + b'/mask.jpg?x=1","HasForeground":true')
    fields, found, urls = read_reply(fragment)
    assert fields["HasForeground"] is True
    assert found == {} and urls == {"cutout": "a" * 32, "mask": "b" * 32}
    gallery = Gallery()
    gallery.keep("r", Outcome(fragment, None, task=("0", "OK")))
    png = fixture_path("images/portrait.png").read_bytes()

    async def stored(key: str) -> bytes | None:
        return {"a" * 32: png}.get(key)

    async def draw() -> Any:
        with ThreadPoolExecutor(1) as pool:
            return await gallery.view("r", pool, stored)

    view = asyncio.run(draw())
    assert view.pictures["cutout"].data == png
    assert view.missing == {"mask": "the result file is no longer kept"}


def test_elide_hides_base64_and_clips_long_text() -> None:
    shown = elide({"a": ["QUJD" * 40, "short", "a b " * 150, 7]})
    assert shown["a"][:2] == ["<base64: 160 characters>", "short"] and shown["a"][3] == 7
    clipped = shown["a"][2]
    assert len(clipped) <= 513 and clipped.endswith("…") and clipped.startswith("a b a b")


def test_outcome_classes() -> None:
    assert [outcome_class(code) for code in ("OK", "AuthFailure.SignatureFailure",
                                             "InternalError", "transport.reset",
                                             "RequestLimitExceeded")] == \
        ["success", "client", "service", "transport", "service"]


# -- the coverage picture ---------------------------------------------------------------------

def test_coverage_html_shows_every_code_seen_or_never_and_transport_kinds() -> None:
    coverage = Coverage(0.0)
    for code in ("OK", "InternalError", "AuthFailure.SignatureFailure", "transport.reset",
                 "transport.reset", "<b>odd</b>"):
        coverage.count(code)
    report = coverage.report()
    html = coverage_html.fragment(report)
    assert html.count('class="cov-cell') == report["documented"]
    assert '<li class="cov-cell seen service"><span class="cov-code">InternalError' in html
    assert '<li class="cov-cell seen client"><span class="cov-code">AuthFailure.<wbr>' \
           'SignatureFailure' in html
    assert 'transport.reset</span> <meter min="0" max="2" value="2"' in html
    assert "&lt;b&gt;odd&lt;/b&gt;" in html and "<b>odd" not in html
    page = coverage_html.document(report, "body { color: red; }")
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "body { color: red; }" in page


# -- the page and its routes ------------------------------------------------------------------

@pytest.fixture(scope="module")
def guarded_server() -> Any:
    with EmulatorServer(Settings(port=0, workers=1, admin_token="tok")) as srv:
        yield srv


def test_page_and_static_files_are_public_and_hold_no_journal(guarded_server: Any) -> None:
    reply = bda(guarded_server.endpoint).SegmentCustomizedPortraitPic(
        segment_request({"Url": PICTURE, "SegmentationOptions": {"Head": True}}))
    page = requests.get(f"{guarded_server.url}/_emulator/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Content-Security-Policy"] == CSP
    assert reply.RequestId not in page.text and "http" not in page.text.replace(
        "http-equiv", "")  # nothing loaded from elsewhere
    for name in STATIC:
        served = requests.get(f"{guarded_server.url}/_emulator/static/{name}", timeout=10)
        assert served.status_code == 200 and "https://" not in served.text
    assert requests.get(f"{guarded_server.url}/_emulator/static/app.py",
                        timeout=10).status_code == 404
    # without the slash it is a path of the emulated API, answered with its envelope
    assert "Response" in requests.get(f"{guarded_server.url}/_emulator", timeout=10).json()


@pytest.mark.parametrize("method, path", [
    ("GET", "dashboard/requests"), ("GET", f"dashboard/requests/{'0' * 36}"),
    ("GET", f"dashboard/requests/{'0' * 36}/cutout"), ("GET", "dashboard/tasks/1/result"),
    ("GET", "dashboard/coverage.html"), ("POST", "dashboard/scenarios")])
def test_every_data_route_wants_the_token(guarded_server: Any, method: str, path: str) -> None:
    url = f"{guarded_server.url}/_emulator/{path}"
    refused = requests.request(method, url, timeout=10)
    assert refused.status_code == 401
    assert refused.json() == {"error": "missing or wrong X-Emulator-Token header"}
    allowed = requests.request(method, url, headers={"X-Emulator-Token": "tok"}, timeout=10)
    assert allowed.status_code != 401


def _dash(server: EmulatorServer, path: str, **kw: Any) -> requests.Response:
    return requests.get(f"{server.url}/_emulator/dashboard/{path}", timeout=10, **kw)


def test_polling_by_request_id_survives_clock_jumps_and_clears(server: EmulatorServer) -> None:
    requests.post(f"{server.url}/_emulator/reset", timeout=10)
    client = bda(server.endpoint)
    ids = [client.SegmentCustomizedPortraitPic(segment_request(
        {"Url": PICTURE, "SegmentationOptions": {"Head": True}})).RequestId for _ in range(3)]
    first = _dash(server, "requests").json()
    assert [r["request_id"] for r in first["requests"]] == ids and first["restart"]
    assert all(r["class"] == "success" and r["pictures"] for r in first["requests"])
    assert _dash(server, f"requests?after={ids[-1]}").json() == {
        "requests": [], "restart": False, "size": first["size"], "recorded": 3}
    server.clock.shift(-200)  # the journal's times go back (within the signature window)
    later = client.SegmentCustomizedPortraitPic(segment_request(
        {"Url": PICTURE, "SegmentationOptions": {"Head": True}})).RequestId
    server.clock.reset()
    newer = _dash(server, f"requests?after={ids[-1]}").json()
    assert [r["request_id"] for r in newer["requests"]] == [later] and not newer["restart"]
    assert [r["request_id"] for r in _dash(server, f"requests?after={ids[0]}&limit=1")
            .json()["requests"]] == [later]
    requests.delete(f"{server.url}/_emulator/requests", timeout=10)
    gone = _dash(server, f"requests?after={later}").json()
    assert gone["requests"] == [] and gone["restart"]
    assert _dash(server, f"requests/{later}").status_code == 404  # the gallery went too
    assert _dash(server, "requests?limit=x").status_code == 400


def test_a_request_view_serves_its_pictures_and_never_a_secret(server: EmulatorServer) -> None:
    reply = bda(server.endpoint).SegmentCustomizedPortraitPic(segment_request(
        {"Url": PICTURE, "SegmentationOptions": {"Head": True, "Hair": True}}))
    view = _dash(server, f"requests/{reply.RequestId}").json()
    assert set(view["pictures"]) == {"input", "cutout", "mask"}
    assert view["width"] == 640 and len(view["rects"]) == 2
    assert SECRET_KEY not in json.dumps(view)
    cutout = _dash(server, f"requests/{reply.RequestId}/cutout")
    assert cutout.content == base64.b64decode(reply.PortraitImage)
    assert cutout.headers["Content-Type"] == "image/png"
    assert cutout.headers["Cache-Control"] == "no-store"
    assert _dash(server, f"requests/{'f' * 36}").status_code == 404


def test_loading_a_bundled_scenario_by_name(server: EmulatorServer) -> None:
    url = f"{server.url}/_emulator/dashboard/scenarios"
    try:
        created = requests.post(url, json={"bundled": "errors/InternalError"}, timeout=10)
        assert created.status_code == 201 and created.json()["name"] == "errors/InternalError"
        assert requests.post(url, json={"bundled": "errors/InternalError"},
                             timeout=10).status_code == 200
        for body, status in (({"bundled": "errors/Nope"}, 404), ({"bundled": "../x"}, 404),
                             ({"name": "x"}, 400), ([], 400)):
            assert requests.post(url, json=body, timeout=10).status_code == status, body
        assert requests.post(url, data=b"{" * 5000, timeout=10).status_code == 413
    finally:
        requests.delete(f"{server.url}/_emulator/scenarios", timeout=10)


def test_a_task_result_url_is_served_only_for_a_kept_result(server: EmulatorServer) -> None:
    assert _dash(server, "tasks/123/result").status_code == 404
