"""Image URL fetching: syntax, the allow-list, addresses vetted after DNS, redirects, limits.

Only loopback is ever contacted: refusals of other hosts are checked with a session that records
every request it starts, and must record none.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from ipaddress import ip_address
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from emulator.errors import ApiError
from emulator.inputs import fetch, urlpolicy
from emulator.inputs.fetch import FetchPolicy, UrlMap, check_url_syntax, fetch_image, make_session
from emulator.resources import fixture_path
from tests.tracing import Traced

IMAGE = b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9"
CAP = 4096
POLICY = FetchPolicy(connect_timeout=0.5, total_timeout=2.0, max_bytes=CAP)
MAP_URL = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"
MAP_BYTES = b"bundled image bytes"
NO_MAP = UrlMap()
DOWNLOAD = "FailedOperation.ImageDownloadError"
TOO_LARGE = "LimitExceeded.TooLargeFileError"
ILLEGAL = "InvalidParameterValue.UrlIllegal"

HOSTS_SEEN = web.AppKey("hosts_seen", list[str])
REDIRECTS = {
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "doc": "http://192.0.2.1/image.jpg",
    "ftp": "ftp://127.0.0.1/image.jpg",
    "map": MAP_URL,
}


# --- the local image server ---------------------------------------------------------------


async def _image(request: web.Request) -> web.Response:
    request.app[HOSTS_SEEN].append(request.host)
    return web.Response(body=IMAGE, content_type="image/jpeg")


async def _hop(request: web.Request) -> web.Response:
    """``/hop/N`` redirects N times (relative and absolute Locations alternate), then answers."""
    n = int(request.match_info["n"])
    if n == 0:
        return await _image(request)
    location = str(n - 1) if n % 2 else f"http://{request.host}/hop/{n - 1}"
    raise web.HTTPFound(location)


async def _to(request: web.Request) -> web.Response:
    where = request.match_info["where"]
    if where == "nowhere":
        return web.Response(status=302)
    if where == "space":
        return web.Response(status=302, headers={"Location": "/img x.jpg"})
    raise web.HTTPFound(REDIRECTS[where])


async def _status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), text="no image here")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)  # the test server cancels this handler when the client gives up
    return web.Response(body=IMAGE)


async def _declared(request: web.Request) -> web.StreamResponse:
    """Announce a gigabyte, send a few bytes, then stall: only the header can refuse it fast."""
    response = web.StreamResponse()
    response.content_length = 10**9
    await response.prepare(request)
    await response.write(b"0123456789")
    await asyncio.sleep(5)
    return response


async def _stream(request: web.Request) -> web.StreamResponse:
    """A chunked body without end: the client must stop once it passes the cap."""
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        for _ in range(10**6):
            await response.write(b"x" * 1000)
            await asyncio.sleep(0)
    except ConnectionError:
        pass
    return response


async def _exact(request: web.Request) -> web.Response:
    return web.Response(body=IMAGE[:3] + b"y" * (CAP - 3))


async def _empty(request: web.Request) -> web.Response:
    return web.Response(body=b"")


@pytest_asyncio.fixture
async def image_server(aiohttp_server: AiohttpServer) -> TestServer:
    app = web.Application()
    app[HOSTS_SEEN] = []
    app.router.add_get("/img", _image)
    app.router.add_get("/hop/{n}", _hop)
    app.router.add_get("/to/{where}", _to)
    app.router.add_get("/status/{code}", _status)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/declared", _declared)
    app.router.add_get("/stream", _stream)
    app.router.add_get("/exact", _exact)
    app.router.add_get("/empty", _empty)
    return await aiohttp_server(app, host="127.0.0.1")


@pytest.fixture
def base(image_server: TestServer) -> str:
    return f"http://127.0.0.1:{image_server.port}"


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with make_session(POLICY) as client:
        yield client


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[urlpolicy.IPAddress]:
        raise AssertionError(f"{host} must be refused before any DNS lookup")

    monkeypatch.setattr(fetch, "_resolve", resolve)


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Replace the resolution step; returns the names asked for."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[urlpolicy.IPAddress]:
        asked.append(host)
        return [ip_address(a) for a in answers[host]]

    monkeypatch.setattr(fetch, "_resolve", resolve)
    return asked


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening, so connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def _fails(
    url: str,
    session: aiohttp.ClientSession,
    policy: FetchPolicy = POLICY,
    url_map: UrlMap = NO_MAP,
) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await fetch_image(url, session=session, policy=policy, url_map=url_map)
    return caught.value


# --- success, URL map ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_downloads_from_loopback(base: str, session: aiohttp.ClientSession) -> None:
    data = await fetch_image(f"{base}/img", session=session, policy=POLICY, url_map=NO_MAP)
    assert data == IMAGE


@pytest.mark.asyncio
async def test_body_of_exactly_the_cap_is_accepted(
    base: str, session: aiohttp.ClientSession
) -> None:
    data = await fetch_image(f"{base}/exact", session=session, policy=POLICY, url_map=NO_MAP)
    assert len(data) == CAP


@pytest.mark.asyncio
async def test_url_map_hit_uses_no_network(traced: Traced, no_dns: None) -> None:
    url_map = UrlMap({MAP_URL: MAP_BYTES})
    for url in (MAP_URL, MAP_URL + "#frag", MAP_URL.replace("liudehua", "LIUDEHUA")):
        data = await fetch_image(url, session=traced.session, policy=POLICY, url_map=url_map)
        assert data == MAP_BYTES
    assert traced.started == []


@pytest.mark.asyncio
async def test_url_map_entries_obey_the_size_cap(traced: Traced) -> None:
    url_map = UrlMap({MAP_URL: b"z" * (CAP + 1)})
    assert (await _fails(MAP_URL, traced.session, url_map=url_map)).code == TOO_LARGE


def test_url_map_load_resolves_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(MAP_BYTES)
    (tmp_path / "urls.json").write_text(json.dumps({MAP_URL: "images/a.jpg"}))
    url_map = UrlMap.load(tmp_path / "urls.json")
    assert len(url_map) == 1
    assert url_map.lookup(MAP_URL) == MAP_BYTES
    assert url_map.lookup("https://example.com/other.jpg") is None


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({MAP_URL: "images/missing.jpg"}),
        json.dumps([MAP_URL]),
        json.dumps({MAP_URL: 3}),
        json.dumps({"ftp://example.com/a.jpg": "a.jpg"}),
        "{not json",
    ],
)
def test_url_map_load_rejects_bad_maps(tmp_path: Path, content: str) -> None:
    (tmp_path / "a.jpg").write_bytes(MAP_BYTES)
    (tmp_path / "urls.json").write_text(content)
    with pytest.raises(ValueError):
        UrlMap.load(tmp_path / "urls.json")


def test_shipped_url_map() -> None:
    shipped = json.loads(fixture_path("urls.json").read_text(encoding="utf-8"))
    assert shipped == {MAP_URL: "images/portrait.jpg",  # the docs' image example
                       MAP_URL.replace("input.jpeg", "input.mp4"): "video/sample.mp4",
                       MAP_URL.replace("input.jpeg", "background.jpg"): "video/background.jpg"}
    image = fixture_path("images/portrait.jpg")
    if not image.is_file():
        pytest.skip("fixtures/images/portrait.jpg is not there yet")
    assert UrlMap.bundled().lookup(MAP_URL) == image.read_bytes()


@pytest.mark.parametrize(
    "changes",
    [{"max_redirects": -1}, {"total_timeout": 0}, {"connect_timeout": -1.0}, {"max_bytes": 0}],
)
def test_policy_rejects_nonsense(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FetchPolicy(**changes)  # type: ignore[arg-type]


# --- syntax -------------------------------------------------------------------------------

ILLEGAL_URLS = [
    "",
    "ftp://127.0.0.1/a.jpg",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "127.0.0.1/a.jpg",
    "//127.0.0.1/a.jpg",
    "http:///a.jpg",
    "http://127.0.0.1/a b.jpg",
    " http://127.0.0.1/a.jpg",
    "http://127.0.0.1/a.jpg\n",
    "http://127.0.0.1/a\tb.jpg",
    "http://127.0.0.1/a\x00.jpg",
    "http://127.0.0.1/a\u200b.jpg",
    "http://127.0.0.1\\@example.com/a.jpg",
    "http://127.0.0.1/" + "a" * 2048,
    "http://user:secret@127.0.0.1/a.jpg",
    "http://user@127.0.0.1/a.jpg",
    "http://@127.0.0.1/a.jpg",
    "http://127.0.0.1:99999/a.jpg",
    "http://127.0.0.1:0/a.jpg",
    "http://127.0.0.1:port/a.jpg",
    "http://exa%00mple.com/a.jpg",
    "http://-bad-.example.com/a.jpg",
    "http://[1.2.3.4]/a.jpg",
]


@pytest.mark.parametrize("url", ILLEGAL_URLS)
def test_illegal_urls(url: str) -> None:
    with pytest.raises(ApiError) as caught:
        check_url_syntax(url)
    assert caught.value.code == ILLEGAL
    assert caught.value.message("en-US") == "Invalid URL format."
    assert caught.value.details == {}
    assert str(caught.value.explain).startswith("syntax: ")


@pytest.mark.asyncio
@pytest.mark.parametrize("url", ILLEGAL_URLS[:8])
async def test_fetch_checks_syntax_first(url: str, traced: Traced) -> None:
    url_map = UrlMap({MAP_URL: MAP_BYTES})
    assert (await _fails(url, traced.session, url_map=url_map)).code == ILLEGAL
    assert traced.started == []


@pytest.mark.parametrize(
    "url",
    [
        MAP_URL,
        "http://127.0.0.1:8080/a.jpg?size=1#top",
        "http://[::1]/a.jpg",
        "HTTP://LOCALHOST./a.jpg",
        "https://xn--bcher-kva.example/a.jpg",
        "http://images_1.internal/a%20b.jpg",
    ],
)
def test_legal_urls(url: str) -> None:
    check_url_syntax(url)


# --- hosts and addresses ------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.1/a.jpg",
        "https://images.example.com/a.jpg",
        "http://10.0.0.1/a.jpg",
        "http://2130706433/a.jpg",
        "http://localhost.example.com/a.jpg",
    ],
)
async def test_hosts_not_allowed_are_refused_before_connecting(
    url: str, traced: Traced, no_dns: None
) -> None:
    err = await _fails(url, traced.session)
    assert err.code == DOWNLOAD
    assert "not in the emulator's allowed hosts" in str(err.explain)
    assert "BDA_EMULATOR_URL_ALLOWED_HOSTS" in str(err.explain)
    assert err.message("en-US") == "Error downloading the image."
    assert traced.started == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "169.254.10.10",
        "[fe80::1]",
        "100.100.100.200",
        "[fd00:ec2::254]",
        "metadata.google.internal",
        "0.0.0.0",
        "[::]",
        "224.0.0.1",
        "[ff02::1]",
        "[::ffff:169.254.169.254]",
        "255.255.255.255",
    ],
)
async def test_always_refused_even_when_allowed(host: str, traced: Traced, no_dns: None) -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({host.strip("[]")}), allow_private=True)
    err = await _fails(f"http://{host}/latest/meta-data/", traced.session, policy)
    assert err.code == DOWNLOAD
    assert "always refused" in str(err.explain)
    assert traced.started == []


@pytest.mark.asyncio
async def test_private_literal_refused_unless_private_allowed(
    traced: Traced, no_dns: None
) -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({"10.0.0.1"}))
    err = await _fails("http://10.0.0.1/a.jpg", traced.session, policy)
    assert "private" in str(err.explain)
    assert traced.started == []


@pytest.mark.parametrize("address", ["10.1.2.3", "172.16.0.1", "192.168.1.1", "fd12::1"])
def test_private_addresses_follow_allow_private(address: str) -> None:
    addr = ip_address(address)
    assert "private" in (urlpolicy.address_refusal(addr, FetchPolicy()) or "")
    assert urlpolicy.address_refusal(addr, FetchPolicy(allow_private=True)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "198.51.100.7"])
def test_loopback_and_public_addresses_pass(address: str) -> None:
    assert urlpolicy.address_refusal(ip_address(address), FetchPolicy()) is None


@pytest.mark.asyncio
async def test_dns_answer_is_checked_after_resolution(
    monkeypatch: pytest.MonkeyPatch, traced: Traced
) -> None:
    asked = fake_dns(monkeypatch, {"images.test": ["169.254.169.254"]})
    policy = FetchPolicy(allowed_hosts=frozenset({"images.test"}), allow_private=True)
    err = await _fails("http://images.test/a.jpg", traced.session, policy)
    assert err.code == DOWNLOAD
    assert "resolves to 169.254.169.254" in str(err.explain)
    assert asked == ["images.test"]
    assert traced.started == []


@pytest.mark.asyncio
async def test_every_resolved_address_is_checked(
    monkeypatch: pytest.MonkeyPatch, traced: Traced
) -> None:
    fake_dns(monkeypatch, {"images.test": ["127.0.0.1", "10.9.8.7"]})
    policy = FetchPolicy(allowed_hosts=frozenset({"images.test"}))
    err = await _fails("http://images.test/a.jpg", traced.session, policy)
    assert "10.9.8.7" in str(err.explain)
    assert traced.started == []


@pytest.mark.asyncio
async def test_connection_goes_to_the_vetted_address(
    monkeypatch: pytest.MonkeyPatch, image_server: TestServer, session: aiohttp.ClientSession
) -> None:
    """The name is resolved once, here; the socket goes to that address with the name as Host."""
    fake_dns(monkeypatch, {"images.test": ["::1", "127.0.0.1"]})  # nothing listens on ::1
    policy = FetchPolicy(allowed_hosts=frozenset({"IMAGES.test."}), connect_timeout=0.5)
    url = f"http://images.test:{image_server.port}/img"
    assert await fetch_image(url, session=session, policy=policy, url_map=NO_MAP) == IMAGE
    assert image_server.app is not None
    assert image_server.app[HOSTS_SEEN] == [f"images.test:{image_server.port}"]


@pytest.mark.asyncio
async def test_allowed_host_entries_are_normalised(
    monkeypatch: pytest.MonkeyPatch, image_server: TestServer, session: aiohttp.ClientSession
) -> None:
    fake_dns(monkeypatch, {"xn--bcher-kva.test": ["127.0.0.1"]})
    policy = FetchPolicy(allowed_hosts=frozenset({" Bücher.TEST. "}))
    url = f"http://bücher.test:{image_server.port}/img"
    assert await fetch_image(url, session=session, policy=policy, url_map=NO_MAP) == IMAGE
    assert image_server.app is not None
    assert image_server.app[HOSTS_SEEN] == [f"xn--bcher-kva.test:{image_server.port}"]


@pytest.mark.asyncio
async def test_localhost_is_resolved_and_allowed(
    image_server: TestServer, session: aiohttp.ClientSession
) -> None:
    url = f"http://localhost:{image_server.port}/img"
    assert await fetch_image(url, session=session, policy=POLICY, url_map=NO_MAP) == IMAGE


# --- redirects ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_three_redirects_are_followed(base: str, session: aiohttp.ClientSession) -> None:
    data = await fetch_image(f"{base}/hop/3", session=session, policy=POLICY, url_map=NO_MAP)
    assert data == IMAGE


@pytest.mark.asyncio
async def test_four_redirects_are_refused(base: str, session: aiohttp.ClientSession) -> None:
    err = await _fails(f"{base}/hop/4", session)
    assert err.code == DOWNLOAD
    assert "more than 3 redirects" in str(err.explain)


@pytest.mark.asyncio
async def test_redirects_can_be_disabled(base: str, session: aiohttp.ClientSession) -> None:
    policy = FetchPolicy(max_redirects=0)
    assert "more than 0 redirects" in str((await _fails(f"{base}/hop/1", session, policy)).explain)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("metadata", "always refused"),
        ("doc", "not in the emulator's allowed hosts"),
        ("ftp", "illegal URL"),
        ("space", "whitespace"),
        ("nowhere", "without a Location"),
    ],
)
async def test_redirect_targets_are_checked(
    base: str, traced: Traced, no_dns: None, where: str, reason: str
) -> None:
    err = await _fails(f"{base}/to/{where}", traced.session)
    assert err.code == DOWNLOAD
    assert reason in str(err.explain)
    assert traced.started == [f"{base}/to/{where}"]


@pytest.mark.asyncio
async def test_redirect_to_a_mapped_url_is_served_from_the_map(
    base: str, session: aiohttp.ClientSession
) -> None:
    url_map = UrlMap({MAP_URL: MAP_BYTES})
    data = await fetch_image(f"{base}/to/map", session=session, policy=POLICY, url_map=url_map)
    assert data == MAP_BYTES


# --- failures -----------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [404, 500, 304])
async def test_non_2xx_is_a_download_error(
    base: str, session: aiohttp.ClientSession, code: int
) -> None:
    err = await _fails(f"{base}/status/{code}", session)
    assert err.code == DOWNLOAD
    assert str(err.explain).startswith("status: ") and f"HTTP {code}" in str(err.explain)
    assert err.message("en-US") == "Error downloading the image."


@pytest.mark.asyncio
async def test_connection_refused(closed_port: int, session: aiohttp.ClientSession) -> None:
    err = await _fails(f"http://127.0.0.1:{closed_port}/img", session)
    assert err.code == DOWNLOAD
    assert "cannot connect" in str(err.explain)


@pytest.mark.asyncio
async def test_total_timeout(base: str, session: aiohttp.ClientSession) -> None:
    policy = FetchPolicy(connect_timeout=0.3, total_timeout=0.3)
    start = time.monotonic()
    err = await _fails(f"{base}/slow", session, policy)
    assert time.monotonic() - start < 1.5
    assert err.code == DOWNLOAD
    assert "within 0.3 s" in str(err.explain)


@pytest.mark.asyncio
async def test_empty_body(base: str, session: aiohttp.ClientSession) -> None:
    err = await _fails(f"{base}/empty", session)
    assert err.code == DOWNLOAD
    assert "empty" in str(err.explain)


@pytest.mark.asyncio
async def test_too_large_by_content_length(base: str, session: aiohttp.ClientSession) -> None:
    start = time.monotonic()
    err = await _fails(f"{base}/declared", session)
    assert time.monotonic() - start < 1.0
    assert err.code == TOO_LARGE
    assert "Content-Length 1000000000" in str(err.explain)
    assert err.message("en-US") == "File too large."


@pytest.mark.asyncio
async def test_too_large_while_streaming(base: str, session: aiohttp.ClientSession) -> None:
    start = time.monotonic()
    err = await _fails(f"{base}/stream", session)
    assert time.monotonic() - start < 1.5
    assert err.code == TOO_LARGE
    assert f"{CAP}-byte download limit (stopped reading at {CAP + 1} bytes)" in str(err.explain)
    assert err.message("en-US") == "File too large."
