"""Which image Urls the emulator may fetch: URL syntax and the address policy (no SSRF).

Pure rules, no I/O: :mod:`emulator.fetch` resolves names and connects only to addresses these
rules accepted. Loopback and the hosts the operator lists are allowed; link-local, cloud
metadata, multicast and unspecified addresses are refused even when listed; private ranges only
when the policy allows them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

from yarl import URL

from emulator.errors import ApiError

IPAddress = IPv4Address | IPv6Address


_URL_ILLEGAL = "InvalidParameterValue.UrlIllegal"


ALLOWED_HOSTS_SETTING = "BDA_EMULATOR_URL_ALLOWED_HOSTS"


_MAX_URL_LENGTH = 2048


_HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


METADATA_NAMES = frozenset({"metadata.google.internal"})


_METADATA_ADDRESSES = frozenset(
    ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


_THIS_NETWORK = ip_network("0.0.0.0/8")


_RESERVED_V4 = ip_network("240.0.0.0/4")  # includes the limited broadcast 255.255.255.255


_NAT64 = ip_network("64:ff9b::/96")


_PRIVATE: tuple[IPv4Network | IPv6Network, ...] = tuple(
    ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7",
              "fec0::/10")  # RFC 1918, CGNAT (RFC 6598), ULA, deprecated site-local
)


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and the allow-list for image downloads; built once from the settings."""

    connect_timeout: float = 3.0
    total_timeout: float = 10.0
    max_bytes: int = 3_932_160  # 3.75 MiB raw = 5 MiB once base64-encoded, the docs' image limit
    allowed_hosts: frozenset[str] = frozenset()  # host names or IP literals besides loopback
    allow_private: bool = False  # RFC 1918 / CGNAT / ULA addresses
    max_redirects: int = 3

    def __post_init__(self) -> None:
        if min(self.connect_timeout, self.total_timeout) <= 0 or self.max_bytes <= 0:
            raise ValueError("fetch timeouts and max_bytes must be positive")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")


def check_url_syntax(url: str) -> None:
    """Refuse what is not a plain absolute http(s) URL, before anything else looks at it."""
    problem = syntax_problem(url)
    if problem is not None:
        raise ApiError(_URL_ILLEGAL, reason=problem)


def syntax_problem(url: str) -> str | None:
    if not url:
        return "the URL is empty"
    if len(url) > _MAX_URL_LENGTH:
        return f"the URL is longer than {_MAX_URL_LENGTH} characters"
    if any(bad_char(ch) for ch in url):
        return "the URL contains whitespace, control characters or backslashes"
    try:
        parsed = URL(url)
        port = parsed.explicit_port
        netloc = urlsplit(url).netloc
    except ValueError as exc:
        return f"the URL cannot be parsed ({exc})"
    if parsed.scheme not in ("http", "https"):
        return "only http and https URLs are supported"
    if not parsed.raw_host or not netloc:
        return "the URL has no host"
    if "@" in netloc:
        return "credentials in the URL are not supported"
    if port == 0:
        return "the URL's port is out of range"
    if not _host_is_valid(parsed.raw_host):
        return "the URL's host is not a valid host name or IP address"
    return None


def bad_char(ch: str) -> bool:
    return ch.isspace() or ch == "\\" or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def _host_is_valid(raw_host: str) -> bool:
    if ip_literal(raw_host) is not None:
        return True
    name = raw_host.rstrip(".")
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(p) for p in name.split("."))


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ip_address(host.strip("[]"))
    except ValueError:
        return None


def _unwrap(address: IPAddress) -> IPAddress:
    """See through IPv4-mapped and NAT64 IPv6 forms, which reach the embedded IPv4 address."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def always_refused(address: IPAddress) -> str | None:
    """Why no policy may ever reach ``address`` (metadata services, link-local, …), or None."""
    addr = _unwrap(address)
    if addr in _METADATA_ADDRESSES or address in _METADATA_ADDRESSES:
        return "is a cloud metadata address, always refused"
    if addr.is_link_local:
        return "is link-local, always refused"
    if addr.is_multicast:
        return "is multicast, always refused"
    if addr.is_unspecified or (isinstance(addr, IPv4Address) and addr in _THIS_NETWORK):
        return "is unspecified, always refused"
    if isinstance(addr, IPv4Address) and addr in _RESERVED_V4:
        return "is reserved or broadcast, always refused"
    return None


def address_refusal(address: IPAddress, policy: FetchPolicy) -> str | None:
    """Why ``address`` must not be contacted, or None; applied to every resolved address."""
    reason = always_refused(address)
    if reason is not None or _unwrap(address).is_loopback:
        return reason
    if not policy.allow_private and any(_unwrap(address) in net for net in _PRIVATE):
        return "is a private address, refused unless the emulator allows private ranges"
    return None


def host_allowed(host: str, literal: IPAddress | None, policy: FetchPolicy) -> bool:
    if literal is not None and _unwrap(literal).is_loopback:
        return True
    if literal is None and host == "localhost":
        return True
    for entry in policy.allowed_hosts:
        if literal is None:
            if _normal_name(entry) == host:
                return True
        elif ip_literal(entry.strip()) == literal:
            return True
    return False


def _normal_name(entry: str) -> str | None:
    """An allowed-hosts entry in the form URLs carry: lower case, IDNA-encoded, no final dot."""
    try:
        return (URL.build(scheme="http", host=entry.strip().rstrip(".")).raw_host or "").lower()
    except ValueError:
        return None
