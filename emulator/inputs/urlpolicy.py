"""Which image Urls the emulator may fetch: URL syntax and the address policy (no SSRF).

Pure rules, no I/O: :mod:`emulator.inputs.fetch` resolves names and connects only to addresses these
rules accepted. Loopback and the hosts the operator lists are allowed; link-local, cloud
metadata, multicast and unspecified addresses are refused even when listed; private ranges only
when the policy allows them.

IPv6 forms that carry an IPv4 address: an IPv4-mapped ``::ffff:a.b.c.d`` is that IPv4 address
to the local kernel, so it is judged by its IPv4 form. The others (NAT64 ``64:ff9b::/96`` and
``64:ff9b:1::/48``, 6to4 ``2002::/16``, Teredo ``2001::/32``, IPv4-compatible ``::a.b.c.d``,
IPv4-translated ``::ffff:0:a.b.c.d``) are routed to a translator or relay, so their IPv4 form
is never loopback here: they are refused unless the operator lists that IPv6 address itself,
and even then every IPv4 address they may carry must pass the always-refused and private rules.
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


_NAT64 = ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix, used only with /96


_NAT64_LOCAL = ip_network("64:ff9b:1::/48")  # RFC 8215 local-use, any RFC 6052 prefix length


_SIX_TO_FOUR = ip_network("2002::/16")


_COMPATIBLE = ip_network("::/96")  # deprecated IPv4-compatible (minus :: and ::1)


_TRANSLATED = ip_network("::ffff:0:0:0/96")  # SIIT IPv4-translated (RFC 2765)


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
    """Refuse what is not a plain absolute http(s) URL, before anything else looks at it.

    The wire says only the documented "Invalid URL format."; the syntax problem (about the
    client's own URL, never anything fetched) goes to ``explain`` for the journal.
    """
    problem = syntax_problem(url)
    if problem is not None:
        raise ApiError(_URL_ILLEGAL, explain=f"syntax: {problem}")


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
    """See through the IPv4-mapped form only: the local kernel sends it to the IPv4 address."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def routed_embedding(address: IPAddress) -> tuple[IPv4Address, ...]:
    """The IPv4 addresses a routed IPv6 form may carry (NAT64, 6to4, Teredo, …), else ().

    These reach a translator or relay, not the embedded address on this host, so none of them
    may pass for loopback. For the local-use NAT64 prefix the embedding position depends on a
    prefix length we cannot know, so every RFC 6052 position is returned.
    """
    if not isinstance(address, IPv6Address) or address.ipv4_mapped is not None:
        return ()
    if address in _NAT64 or address in _TRANSLATED:
        return (IPv4Address(int(address) & 0xFFFFFFFF),)
    if address in _NAT64_LOCAL:  # zero padding reads as 0.x.y.z, which no translator serves
        found = tuple(_rfc6052(address, length) for length in (48, 56, 64, 96))
        return tuple(a for a in found if a not in _THIS_NETWORK) or found[-1:]
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo
    if address in _COMPATIBLE and int(address) > 1:
        return (IPv4Address(int(address)),)
    return ()


def _rfc6052(address: IPv6Address, length: int) -> IPv4Address:
    """The IPv4 address embedded after a ``length``-bit prefix, skipping bits 64-71 (RFC 6052)."""
    bits = int(address)
    without_u = (bits >> 64 << 56) | (bits & (1 << 56) - 1)  # 120 bits
    start = length if length <= 64 else length - 8
    return IPv4Address(without_u >> (120 - start - 32) & 0xFFFFFFFF)


def always_refused(address: IPAddress) -> str | None:
    """Why no policy may ever reach ``address`` (metadata services, link-local, …), or None.

    Judged on the address and on every IPv4 address it carries, mapped or routed.
    """
    forms: tuple[IPAddress, ...] = (address, _unwrap(address), *routed_embedding(address))
    for form in dict.fromkeys(forms):
        what = _never(form)
        if what is not None:
            shown = "is" if form == address else f"carries {form}, which is"
            return f"{shown} {what}, always refused"
    return None


def _never(addr: IPAddress) -> str | None:
    if addr in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_unspecified or (isinstance(addr, IPv4Address) and addr in _THIS_NETWORK):
        return "unspecified"
    if isinstance(addr, IPv4Address) and addr in _RESERVED_V4:
        return "reserved or broadcast"
    return None


def address_refusal(address: IPAddress, policy: FetchPolicy) -> str | None:
    """Why ``address`` must not be contacted, or None; applied to every resolved address."""
    reason = always_refused(address)
    if reason is not None:
        return reason
    carried = routed_embedding(address)
    if carried and not _listed(address, policy):
        return (f"carries {carried[0]} in a routed IPv6 form (NAT64, 6to4, Teredo or "
                "IPv4-compatible), refused unless that IPv6 address itself is allowed")
    if not carried and _unwrap(address).is_loopback:
        return None
    if not policy.allow_private and any(
        form in net for form in (_unwrap(address), *carried) for net in _PRIVATE
    ):
        return "is a private address, refused unless the emulator allows private ranges"
    return None


def host_allowed(host: str, literal: IPAddress | None, policy: FetchPolicy) -> bool:
    """Loopback (a routed IPv6 form of 127.0.0.1 is not), ``localhost`` and listed hosts."""
    if literal is not None:
        return _unwrap(literal).is_loopback or _listed(literal, policy)
    return host == "localhost" or any(_normal_name(e) == host for e in policy.allowed_hosts)


def _listed(address: IPAddress, policy: FetchPolicy) -> bool:
    return any(ip_literal(entry.strip()) == address for entry in policy.allowed_hosts)


def _normal_name(entry: str) -> str | None:
    """An allowed-hosts entry in the form URLs carry: lower case, IDNA-encoded, no final dot."""
    try:
        return (URL.build(scheme="http", host=entry.strip().rstrip(".")).raw_host or "").lower()
    except ValueError:
        return None
