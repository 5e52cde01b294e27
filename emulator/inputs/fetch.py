"""Fetching the image behind a request's ``Url``, safely, for an emulator that is offline.

The real service downloads any public URL. The emulator must not become a tool for reaching
into the machine or network it runs on (SSRF), and it runs offline, so:

* known URLs (``fixtures/urls.json``, e.g. the official example's COS URL) are served from
  bundled files without any network;
* otherwise only loopback hosts and hosts the operator lists (``BDA_EMULATOR_URL_ALLOWED_HOSTS``)
  are fetched;
* names are resolved here and **every** resolved address is vetted after resolution, then the
  connection goes to a vetted address (the URL is rewritten to the IP, with the original
  ``Host`` header and TLS server name), so a DNS answer that changes between check and connect
  (rebinding) cannot slip through;
* link-local, cloud-metadata, multicast and unspecified addresses are refused even when listed;
  private ranges only when the policy allows them;
* redirects are followed by hand and each target is checked like the first URL.

Every failure is an :class:`~emulator.errors.ApiError`: ``InvalidParameterValue.UrlIllegal``
for the client's malformed URL, ``LimitExceeded.TooLargeFileError`` for a body over the cap and
``FailedOperation.ImageDownloadError`` for everything else (refusals, DNS and network errors,
HTTP errors, a body that is not an image file at all). On the wire each carries only the
code's plain documented message: a refused host, a closed port, a 404, an SSH banner and an
HTML page all read "Error downloading the image.", so the Url parameter cannot serve as a port
scanner that echoes banners. Why, with its stage (``syntax``, ``policy``, ``resolve``,
``connect``, ``response``, ``status``, ``redirect``, ``size``, ``decode``, ``timeout``) and a
clipped, escaped description, goes to ``ApiError.explain``, which the journal keeps.
Deviation: the real service's size limit applies to the downloaded file too, but which code it
returns for an oversized download and its redirect/timeout rules are undocumented.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from ipaddress import ip_address
from typing import NoReturn

import aiohttp
from yarl import URL

from emulator.errors import ApiError
from emulator.imaging.images import sniff_format
from emulator.inputs.urlmap import UrlMap
from emulator.inputs.urlpolicy import (
    ALLOWED_HOSTS_SETTING,
    METADATA_NAMES,
    FetchPolicy,
    IPAddress,
    address_refusal,
    always_refused,
    bad_char,
    check_url_syntax,
    host_allowed,
    ip_literal,
    syntax_problem,
)

__all__ = [
    "FetchPolicy",
    "UrlMap",
    "check_url_syntax",
    "fetch_image",
    "fetch_video",
    "make_session",
]


_DOWNLOAD_ERROR = "FailedOperation.ImageDownloadError"
_TOO_LARGE = "LimitExceeded.TooLargeFileError"

_CHUNK = 64 * 1024
_MAX_DETAIL = 200  # characters of a network-supplied description kept in ``explain``
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})



async def _resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to now (the step tests replace to fake DNS answers)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


@dataclass(frozen=True)
class _Target:
    """A URL whose host passed every rule, with the vetted addresses to connect to."""

    url: URL
    addresses: tuple[IPAddress, ...]

    def pinned(self, address: IPAddress) -> URL:
        return self.url.with_host(str(address)).with_fragment(None)

    @property
    def host_header(self) -> str:
        return self.url.host_port_subcomponent or ""

    @property
    def server_hostname(self) -> str | None:
        host = self.url.raw_host or ""
        return None if ip_literal(host) is not None else host.rstrip(".")


async def _vet(url: URL, policy: FetchPolicy) -> _Target:
    """Apply the host rules, resolve, and check every address the name resolves to."""
    raw_host = url.raw_host or ""
    host = raw_host.lower().rstrip(".")
    literal = ip_literal(raw_host)
    always = "is a cloud metadata name, always refused" if host in METADATA_NAMES else None
    if literal is not None:
        always = always_refused(literal)
    if always is not None:
        _refuse("policy", f"host `{host}` {always}")
    if not host_allowed(host, literal, policy):
        _refuse(
            "policy",
            f"host `{host}` is not in the emulator's allowed hosts (it is offline: it fetches "
            f"loopback URLs, the URL map and the hosts listed in {ALLOWED_HOSTS_SETTING})",
        )
    addresses = [literal] if literal is not None else await _resolve_name(url, policy)
    for address in addresses:
        reason = address_refusal(address, policy)
        if reason is not None:
            shown = "" if literal is not None else f" resolves to {address}, which"
            _refuse("policy", f"host `{host}`{shown} {reason}")
    return _Target(url, tuple(addresses))


async def _resolve_name(url: URL, policy: FetchPolicy) -> list[IPAddress]:
    host = (url.raw_host or "").rstrip(".")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        async with asyncio.timeout(policy.connect_timeout):
            addresses = await _resolve(host, port)
    except TimeoutError:
        _refuse("resolve", f"resolving host `{host}` timed out")
    except (OSError, ValueError) as exc:
        _refuse("resolve", f"cannot resolve host `{host}` ({_describe(exc)})")
    if not addresses:
        _refuse("resolve", f"host `{host}` resolves to no address")
    return addresses


def _refuse(stage: str, why: str) -> NoReturn:
    """The plain download error on the wire; the stage and the reason only in ``explain``."""
    raise ApiError(_DOWNLOAD_ERROR, explain=f"{stage}: {_printable(why)}")


def _describe(exc: BaseException) -> str:
    """An exception's type and text, clipped: its text may quote what a server sent."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "…"


def _printable(text: str) -> str:
    """Escape what could break a journal viewer or a log line (newlines, controls, bidi)."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


# --- HTTP ---------------------------------------------------------------------------------


def make_session(policy: FetchPolicy) -> aiohttp.ClientSession:
    """The one client session of a running server; call it inside the event loop.

    No cookies (downloads for different callers must not share state), no proxy from the
    environment (the pinned address must be the one contacted), no transparent decompression
    (the byte cap must count what is stored in memory).
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(use_dns_cache=False),
        timeout=aiohttp.ClientTimeout(
            total=policy.total_timeout, sock_connect=policy.connect_timeout
        ),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=False,
        headers={"User-Agent": "bda-emulator"},
    )


async def fetch_image(
    url: str, *, session: aiohttp.ClientSession, policy: FetchPolicy, url_map: UrlMap
) -> bytes:
    """The bytes behind ``url``, or an :class:`ApiError` saying why not; never anything else."""
    return await _fetch(url, session, policy, url_map, expect_image=True)


#: How the image codes read for a video input (the bda codes of the video actions).
_VIDEO_CODES = {_DOWNLOAD_ERROR: "FailedOperation.DownloadError",
                _TOO_LARGE: "FailedOperation.TooLargeFileError"}


async def fetch_video(
    url: str, *, session: aiohttp.ClientSession, policy: FetchPolicy, url_map: UrlMap
) -> bytes:
    """The bytes of a video Url, under the same rules as images (the caller's ``policy``
    carries the video size cap); download failures in the video actions' codes."""
    try:
        return await _fetch(url, session, policy, url_map, expect_image=False)
    except ApiError as error:
        code = _VIDEO_CODES.get(error.code)
        if code is None:
            raise
        raise ApiError(code, explain=error.explain) from None


async def _fetch(url: str, session: aiohttp.ClientSession, policy: FetchPolicy,
                 url_map: UrlMap, expect_image: bool) -> bytes:
    check_url_syntax(url)
    try:
        async with asyncio.timeout(policy.total_timeout):
            return await _follow(URL(url), session, policy, url_map, expect_image)
    except TimeoutError:
        _refuse("timeout", f"no complete answer within {policy.total_timeout:g} s")


async def _follow(
    url: URL, session: aiohttp.ClientSession, policy: FetchPolicy, url_map: UrlMap,
    expect_image: bool = True,
) -> bytes:
    for _ in range(policy.max_redirects + 1):
        mapped = url_map.lookup(str(url))
        if mapped is not None:
            return _checked_body(mapped, policy)
        target = await _vet(url, policy)
        status, location, body = await _get(session, target, policy)
        if status in _REDIRECT_STATUSES:
            url = _redirect_target(url, location, status)
            continue
        if not 200 <= status < 300:
            _refuse("status", f"{_show(url)} answered HTTP {status}")
        body = _checked_body(body, policy)
        if expect_image:
            _check_image(url, body)
        return body
    _refuse("redirect", f"more than {policy.max_redirects} redirects")


def _redirect_target(url: URL, location: str | None, status: int) -> URL:
    """Resolve a Location against the current URL and hold it to the first URL's syntax."""
    if not location:
        _refuse("redirect", f"{_show(url)} answered HTTP {status} without a Location")
    problem = syntax_problem(location) if any(bad_char(ch) for ch in location) else None
    if problem is None:
        try:
            target = url.join(URL(location))
        except ValueError as exc:
            problem = f"the URL cannot be parsed ({_describe(exc)})"
        else:
            problem = syntax_problem(str(target))
    if problem is not None:
        _refuse("redirect", f"{_show(url)} redirects to an illegal URL: {problem}")
    return target


async def _get(
    session: aiohttp.ClientSession, target: _Target, policy: FetchPolicy
) -> tuple[int, str | None, bytes]:
    """GET the target at each vetted address in turn until one connects."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=policy.connect_timeout)
    headers = {"Host": target.host_header, "Accept-Encoding": "identity"}
    failure = "no address to connect to"
    for address in target.addresses:
        try:
            async with session.get(
                target.pinned(address),
                headers=headers,
                allow_redirects=False,
                timeout=timeout,
                server_hostname=target.server_hostname,
            ) as response:
                if response.status in _REDIRECT_STATUSES:
                    return response.status, response.headers.get("Location"), b""
                if not 200 <= response.status < 300:
                    return response.status, None, b""
                return response.status, None, await _read_capped(response, policy)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            failure = f"cannot connect to {_show(target.url)} at {address} ({_describe(exc)})"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # e.g. a non-HTTP service: the exception quotes its banner, so explain only
            _refuse("response", f"{_show(target.url)} gave no valid HTTP answer ({_describe(exc)})")
    _refuse("connect", failure)


async def _read_capped(response: aiohttp.ClientResponse, policy: FetchPolicy) -> bytes:
    """Read the body, refusing by Content-Length up front or as soon as the cap is passed."""
    declared = response.content_length
    if declared is not None and declared > policy.max_bytes:
        response.close()
        _too_large(f"Content-Length {declared}", policy)
    body = bytearray()
    while True:
        chunk = await response.content.read(min(_CHUNK, policy.max_bytes + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > policy.max_bytes:
            response.close()
            _too_large(f"stopped reading at {len(body)} bytes", policy)


def _checked_body(body: bytes, policy: FetchPolicy) -> bytes:
    if len(body) > policy.max_bytes:
        _too_large(f"{len(body)} bytes", policy)
    if not body:
        _refuse("size", "the image URL answered an empty body")
    return body


def _check_image(url: URL, body: bytes) -> None:
    """Refuse a downloaded body that is no image file at all, as a download error.

    An HTML page or a JSON answer must read like a closed port or a 404 on the wire, or the
    Url parameter tells which local ports serve HTTP. Bodies in a known image format, even an
    unsupported one, go on to the image checks and their documented codes.
    """
    try:
        sniff_format(body)
    except ApiError as exc:
        if exc.code != "FailedOperation.ImageDecodeFailed":
            return
        _refuse("decode", f"{_show(url)} answered {len(body)} bytes that are not an image "
                          f"(they start with {body[:16]!r})")


def _too_large(what: str, policy: FetchPolicy) -> NoReturn:
    raise ApiError(
        _TOO_LARGE,
        explain=f"size: the image is over the {policy.max_bytes}-byte download limit ({what})",
    )


def _show(url: URL) -> str:
    text = str(url.with_fragment(None))
    return f"`{text[:200]}…`" if len(text) > 200 else f"`{text}`"
