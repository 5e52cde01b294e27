"""Hostile Url inputs: what the wire may say about a failed download, and IPv6 forms of IPv4.

A download failure must read the same on the wire whatever it ran into (a refused host, a closed
port, a 404, an HTML page, an SSH banner), so the Url parameter cannot map local ports or echo
banners; ``ApiError.explain`` (kept by the journal) still tells them apart. Routed IPv6 forms
of IPv4 addresses (NAT64, 6to4, Teredo, IPv4-compatible, IPv4-translated) are never taken for
the embedded address: only an IPv4-mapped address is what the local kernel connects to.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import requests

from emulator.errors import ApiError, Language
from emulator.inputs import fetch, urlpolicy
from emulator.inputs.fetch import FetchPolicy, UrlMap, fetch_image, make_session
from emulator.serve.server import EmulatorServer
from tests.helpers import post_raw, tc3_headers
from tests.tracing import Traced

POLICY = FetchPolicy(connect_timeout=0.5, total_timeout=2.0, max_bytes=4096)
NO_MAP = UrlMap()
DOWNLOAD = "FailedOperation.ImageDownloadError"
PLAIN: dict[Language, str] = {"en-US": "Error downloading the image.", "zh-CN": "图片下载错误。"}
BANNER = b"SSH-2.0-OpenSSH_9.6 secret-banner\r\n"
HOSTILE_BANNER = b"SSH-2.0-\x1b[31mevil\x07" + b"A" * 2000 + b"\r\n"
JPEG = b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9"
LEAKS = ("SSH", "banner", "secret", "OpenSSH", "html", "404", "refused", "Errno")


# --- servers ------------------------------------------------------------------------------


class _Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, kind, body = {
            "/img": (200, "image/jpeg", JPEG),
            "/page.html": (200, "text/html", b"<html><body>secret admin page</body></html>"),
        }.get(self.path, (404, "text/plain", b"not found: secret"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    """An HTTP server on loopback (in a thread, so the emulator's own loop can reach it too)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _banner_server(banner: bytes) -> socketserver.ThreadingTCPServer:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(banner)  # like sshd: speak first, then hang up
            self.request.settimeout(5)
            seen = b""
            with contextlib.suppress(OSError):  # drain the whole request head: closing with
                while b"\r\n\r\n" not in seen:  # unread bytes would reset, even under load
                    chunk = self.request.recv(65536)
                    if not chunk:
                        break
                    seen += chunk

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def ssh() -> Iterator[str]:
    """A non-HTTP service on loopback: it sends an SSH banner, then closes."""
    server = _banner_server(BANNER)
    yield f"http://127.0.0.1:{server.server_address[1]}/portrait.jpg"
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening, so connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with make_session(POLICY) as client:
        yield client


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    async def resolve(host: str, port: int) -> list[urlpolicy.IPAddress]:
        if host not in answers:
            raise OSError(-2, "Name or service not known (secret resolver detail)")
        return [ip_address(a) for a in answers[host]]

    monkeypatch.setattr(fetch, "_resolve", resolve)


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {})


async def _fails(url: str, session: aiohttp.ClientSession,
                 policy: FetchPolicy = POLICY) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await fetch_image(url, session=session, policy=policy, url_map=NO_MAP)
    return caught.value


# --- 1. one wire message for every download failure ---------------------------------------


@pytest.mark.asyncio
async def test_download_failures_read_the_same_on_the_wire(
    monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession, files: str, ssh: str,
    closed_port: int,
) -> None:
    fake_dns(monkeypatch, {})  # every name fails to resolve
    policy = FetchPolicy(connect_timeout=0.5, total_timeout=2.0,
                         allowed_hosts=frozenset({"unknown.test"}))
    cases = {
        "ssh-banner": (ssh, "response"),
        "closed-port": (f"http://127.0.0.1:{closed_port}/portrait.jpg", "connect"),
        "404": (f"{files}/missing.jpg", "status"),
        "non-image-200": (f"{files}/page.html", "decode"),
        "refused-host": ("http://192.0.2.1/portrait.jpg", "policy"),
        "unresolvable": ("http://unknown.test/portrait.jpg", "resolve"),
    }
    stages = {}
    for case, (url, _) in cases.items():
        err = await _fails(url, session, policy)
        assert (err.code, err.details) == (DOWNLOAD, {}), case
        for language, message in PLAIN.items():
            assert err.message(language) == message, case
        stages[case] = str(err.explain).split(":", 1)[0]
    assert stages == {case: stage for case, (_, stage) in cases.items()}


@pytest.mark.asyncio
async def test_banner_is_kept_for_the_journal_only(
    session: aiohttp.ClientSession, ssh: str
) -> None:
    err = await _fails(ssh, session)
    assert err.message("en-US") == PLAIN["en-US"]
    assert not any(leak in err.message(lang) for lang in PLAIN for leak in LEAKS)
    assert "SSH-2.0-OpenSSH_9.6 secret-banner" in str(err.explain)  # why, for the test author


@pytest.mark.asyncio
async def test_explain_is_clipped_and_escaped(session: aiohttp.ClientSession) -> None:
    server = _banner_server(HOSTILE_BANNER)
    try:
        err = await _fails(f"http://127.0.0.1:{server.server_address[1]}/", session)
    finally:
        server.shutdown()
        server.server_close()
    explain = str(err.explain)
    assert explain.startswith("response: ")
    assert explain.isprintable()  # no ESC, BEL, CR or LF from the peer
    assert len(explain) < 400
    assert err.message("en-US") == PLAIN["en-US"]


# --- through the emulator: reply bodies and the journal -----------------------------------


def _segment(server: EmulatorServer, url: str, language: str = "en-US") -> dict[str, Any]:
    body = json.dumps({"Url": url, "SegmentationOptions": {"Head": True}}).encode()
    headers = tc3_headers(server.endpoint, body)
    headers["X-TC-Language"] = language
    reply = post_raw(server.url, body, headers)
    for leak in LEAKS:
        assert leak not in reply.text, (leak, reply.text)
    answer: dict[str, Any] = reply.json()["Response"]
    return answer


def test_emulator_replies_identically_and_journals_why(
    server: EmulatorServer, files: str, ssh: str, closed_port: int
) -> None:
    cases = {
        "ssh-banner": (ssh, "response"),
        "closed-port": (f"http://127.0.0.1:{closed_port}/portrait.jpg", "connect"),
        "404": (f"{files}/missing.jpg", "status"),
        "non-image-200": (f"{files}/page.html", "decode"),
    }
    replies = {case: _segment(server, url) for case, (url, _) in cases.items()}
    assert {(r["Error"]["Code"], r["Error"]["Message"]) for r in replies.values()} == {
        (DOWNLOAD, PLAIN["en-US"])
    }
    zh = _segment(server, ssh, "zh-CN")
    assert zh["Error"] == {"Code": DOWNLOAD, "Message": PLAIN["zh-CN"]}

    journal = requests.get(f"{server.url}/_emulator/requests", timeout=10).json()["requests"]
    explains = {entry["request_id"]: entry["explain"] for entry in journal}
    stages = {case: explains[r["RequestId"]].split(":", 1)[0] for case, r in replies.items()}
    assert stages == {case: stage for case, (_, stage) in cases.items()}
    assert "secret-banner" in explains[replies["ssh-banner"]["RequestId"]]
    assert "SSH" in explains[zh["RequestId"]]


# --- 2. IPv6 forms of IPv4 addresses ------------------------------------------------------

LOOPBACK_EMBEDDED = {
    "nat64": "64:ff9b::7f00:1",
    "nat64-local": "64:ff9b:1::7f00:1",
    "6to4": "2002:7f00:1::1",
    "teredo": "2001:0:4136:e378:8000:63bf:80ff:fffe",  # client 127.0.0.1 (bits inverted)
    "compatible": "::127.0.0.1",
    "translated": "::ffff:0:127.0.0.1",
}
METADATA_EMBEDDED = {
    "nat64": "64:ff9b::a9fe:a9fe",
    "nat64-local": "64:ff9b:1::a9fe:a9fe",
    "nat64-local-48": "64:ff9b:1:a9fe:a9:fe00::",  # RFC 6052 /48 layout, around bits 64-71
    "6to4": "2002:a9fe:a9fe::1",
    "teredo-client": "2001:0:4136:e378:8000:63bf:5601:5601",
    "teredo-server": "2001:0:a9fe:a9fe:8000:63bf:80ff:fffe",
    "compatible": "::169.254.169.254",
    "translated": "::ffff:0:169.254.169.254",
}
PRIVATE_EMBEDDED = {
    "nat64": "64:ff9b::a00:1",
    "6to4": "2002:a00:1::1",
    "teredo": "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    "compatible": "::10.0.0.1",
    "translated": "::ffff:0:10.0.0.1",
}


@pytest.mark.parametrize("address", LOOPBACK_EMBEDDED.values(), ids=LOOPBACK_EMBEDDED.keys())
def test_routed_embeddings_carry_their_ipv4_address(address: str) -> None:
    assert ip_address("127.0.0.1") in urlpolicy.routed_embedding(ip_address(address))


@pytest.mark.parametrize("address", ["::1", "::", "::ffff:127.0.0.1", "2001:db8::1", "fd12::1"])
def test_other_addresses_are_not_routed_embeddings(address: str) -> None:
    assert urlpolicy.routed_embedding(ip_address(address)) == ()


@pytest.mark.asyncio
@pytest.mark.parametrize("address", LOOPBACK_EMBEDDED.values(), ids=LOOPBACK_EMBEDDED.keys())
async def test_literal_routed_embedding_of_loopback_is_not_loopback(
    address: str, traced: Traced, no_dns: None
) -> None:
    err = await _fails(f"http://[{address}]:8080/portrait.jpg", traced.session)
    assert err.code == DOWNLOAD
    assert str(err.explain).startswith("policy: ")
    assert "not in the emulator's allowed hosts" in str(err.explain)
    assert traced.started == []


@pytest.mark.asyncio
@pytest.mark.parametrize("address", LOOPBACK_EMBEDDED.values(), ids=LOOPBACK_EMBEDDED.keys())
async def test_resolved_routed_embedding_is_refused(
    address: str, monkeypatch: pytest.MonkeyPatch, traced: Traced
) -> None:
    fake_dns(monkeypatch, {"images.test": ["127.0.0.1", address]})
    policy = FetchPolicy(allowed_hosts=frozenset({"images.test"}), allow_private=True)
    err = await _fails("http://images.test/portrait.jpg", traced.session, policy)
    assert err.code == DOWNLOAD
    assert "routed IPv6 form" in str(err.explain)
    assert traced.started == []


@pytest.mark.parametrize("address", LOOPBACK_EMBEDDED.values(), ids=LOOPBACK_EMBEDDED.keys())
def test_routed_embedding_listed_itself_is_allowed(address: str) -> None:
    """The operator may list one such address on purpose (a NAT64 test bed); nothing wider."""
    addr = ip_address(address)
    listed = FetchPolicy(allowed_hosts=frozenset({f"[{address}]"}))
    assert urlpolicy.host_allowed(address, addr, listed)
    assert urlpolicy.address_refusal(addr, listed) is None
    assert not urlpolicy.host_allowed(address, addr, FetchPolicy())
    assert urlpolicy.address_refusal(addr, FetchPolicy()) is not None


@pytest.mark.asyncio
@pytest.mark.parametrize("address", METADATA_EMBEDDED.values(), ids=METADATA_EMBEDDED.keys())
async def test_routed_embedding_of_metadata_is_always_refused(
    address: str, monkeypatch: pytest.MonkeyPatch, traced: Traced
) -> None:
    fake_dns(monkeypatch, {"images.test": [address]})
    policy = FetchPolicy(allowed_hosts=frozenset({address, "images.test"}), allow_private=True)
    for url in (f"http://[{address}]/latest/meta-data/", "http://images.test/latest/"):
        err = await _fails(url, traced.session, policy)
        assert "169.254" in str(err.explain) and "always refused" in str(err.explain), url
    assert traced.started == []


@pytest.mark.parametrize("address", PRIVATE_EMBEDDED.values(), ids=PRIVATE_EMBEDDED.keys())
def test_routed_embedding_of_private_follows_allow_private(address: str) -> None:
    addr = ip_address(address)
    listed = frozenset({address})
    refusal = urlpolicy.address_refusal(addr, FetchPolicy(allowed_hosts=listed))
    assert "private" in (refusal or "")
    assert urlpolicy.address_refusal(
        addr, FetchPolicy(allowed_hosts=listed, allow_private=True)
    ) is None


def test_ipv4_mapped_is_judged_by_its_ipv4_form() -> None:
    """The kernel connects ``::ffff:a.b.c.d`` to a.b.c.d itself, so it is that address."""
    policy = FetchPolicy()
    loopback = ip_address("::ffff:127.0.0.1")
    assert urlpolicy.host_allowed("::ffff:7f00:1", loopback, policy)
    assert urlpolicy.address_refusal(loopback, policy) is None
    assert "private" in (urlpolicy.address_refusal(ip_address("::ffff:10.0.0.1"), policy) or "")
    public = ip_address("::ffff:198.51.100.7")
    assert urlpolicy.address_refusal(public, policy) is None
    assert not urlpolicy.host_allowed("::ffff:c633:6407", public, policy)


@pytest.mark.asyncio
async def test_ipv4_mapped_loopback_is_fetched(
    session: aiohttp.ClientSession, files: str
) -> None:
    probe = socket.socket(socket.AF_INET6)
    try:
        probe.connect(("::ffff:127.0.0.1", int(files.rsplit(":", 1)[1])))
    except OSError:
        pytest.skip("this host cannot connect to IPv4-mapped IPv6 addresses")
    finally:
        probe.close()
    url = files.replace("127.0.0.1", "[::ffff:127.0.0.1]") + "/img"
    assert await fetch_image(url, session=session, policy=POLICY, url_map=NO_MAP) == JPEG
