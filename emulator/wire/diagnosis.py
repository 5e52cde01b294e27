"""Why the gateway refused a signature or a timestamp, spelled out for the test author.

Each function returns the text an :class:`~emulator.errors.ApiError` carries in ``explain``:
kept in the journal entry and logged at DEBUG, never sent on the wire (the real service says
only that the signature failed). It shows what the emulator computed, so that a test author
can diff it against what their own client computed:

* the canonical request and the string to sign (TC3), or the string to sign (v1), and the
  SHA-256 of each host spelling's version, since several spellings of the host are tried;
* the headers the client listed in ``SignedHeaders`` against those the request carried;
* the credential scope received against the one expected;
* the distance of the request's timestamp from the emulator's clock, and the window allowed.

Nothing secret goes in. No key is passed here (a string to sign needs none) and no signature,
neither the client's nor the expected one. The values of signed headers and v1 parameters
that carry a credential (``X-TC-Token``, ``Token``, ``Authorization``, cookies) are replaced
by their length. Everything else comes from the client: it is shown with control characters
escaped as ``\\xNN`` and long values abbreviated (a note says so), so the SHA-256 lines are
the exact comparison.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence

from emulator.text import clean
from emulator.wire.auth import (
    SERVICE,
    UNSIGNED_PAYLOAD,
    Tc3Authorization,
    Tc3Candidate,
    acceptable_services,
    tc3_canonical_request,
    utc_date,
)

__all__ = ["clock", "seconds", "shown", "tc3", "v1"]

TTL_FLAG = "--signature-ttl"
#: Canonical-request lines longer than this are abbreviated to their first ``_KEPT`` chars.
_LONG_LINE = 512
_KEPT = 200
#: v1 parameter values longer than this are abbreviated to their first ``_KEPT_VALUE`` chars.
_LONG_VALUE = 128
_KEPT_VALUE = 64
#: Header names listed at most, and their length.
_MAX_NAMES = 40
_MAX_NAME = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def seconds(value: float) -> str:
    """Seconds to the millisecond, without trailing zeros: ``600``, ``0.25``."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def clock(name: str, timestamp: int, now: float, ttl: int) -> str:
    """Where the request's timestamp stands against the emulator's clock, and the window:
    ``X-TC-Timestamp 1700000000 is 600 s behind the emulator's clock 1700000600; allowed
    ±300 s (--signature-ttl)``."""
    delta = now - timestamp
    if delta > 0:
        where = f"is {seconds(delta)} s behind the emulator's clock"
    elif delta < 0:
        where = f"is {seconds(-delta)} s ahead of the emulator's clock"
    else:
        where = "equals the emulator's clock"
    return f"{name} {timestamp} {where} {seconds(now)}; allowed ±{ttl} s ({TTL_FLAG})"


def shown(text: str, limit: int = _MAX_NAME) -> str:
    """Client text fit for one line: control characters escaped, clipped to ``limit``."""
    text = _escape(text)
    return clean(text if len(text) <= limit else text[:limit] + "…")


def tc3(headline: str, *, auth: Tc3Authorization, candidates: Sequence[Tc3Candidate],
        method: str, query: str, headers: Mapping[str, str], body_size: int, timestamp: int,
        now: float, ttl: int) -> str:
    """A TC3-HMAC-SHA256 rejection: ``headline``, then what was compared.

    ``candidates`` are those of :func:`emulator.wire.auth.tc3_candidates`, the first one for
    the ``Host`` header as sent; ``headers`` all the request's headers, lower-cased.
    """
    host = headers.get("host", "")
    others = sorted(acceptable_services(host) - {SERVICE})
    listed = auth.signed_headers
    missing = [name for name in listed if name not in headers]
    if headers.get("x-tc-content-sha256", "").strip() == UNSIGNED_PAYLOAD:
        payload = f"sha256 of the literal `{UNSIGNED_PAYLOAD}` (X-TC-Content-SHA256 header)"
    else:
        payload = f"sha256 of the {body_size}-byte body"
    also = "".join(f" or `{shown(s)}`" for s in others)
    lines = [
        headline,
        f"- credential scope: received {shown(auth.date)}/{shown(auth.service)}/tc3_request; "
        f"expected {utc_date(timestamp)}/{SERVICE}/tc3_request (the UTC date of X-TC-Timestamp"
        + (f"; service `{SERVICE}`{also}, the first label of the Host)" if others else ")"),
        f"- SignedHeaders: the client listed {_names(listed, ';')}; the request carried "
        f"{_names(sorted(headers), ', ')}",
    ]
    if missing:
        lines.append(f"- listed in SignedHeaders but not sent (signed as empty values): "
                     f"{_names(missing, ', ')}")
    lines += [
        f"- clock: {clock('X-TC-Timestamp', timestamp, now, ttl)}",
        f"- payload hash: {payload}",
    ]
    if method == "GET":
        lines.append(f"- query string ({len(query)} chars): signed exactly as received, not "
                     "re-encoded or sorted")
    lines.append("- host spellings tried, with the sha256 of their canonical request (the last "
                 "line of the string to sign): " + ", ".join(
                     f"`{shown(c.host, 200)}` {_sha256(c.canonical_request)}"
                     for c in candidates))
    if candidates:
        first = candidates[0]
        canonical, altered = _canonical_shown(method, query, first)
        sts = "\n".join(_line(line)[0] for line in first.string_to_sign.split("\n"))
        lines += [f"string to sign (Host `{shown(first.host, 200)}`):", sts,
                  f"canonical request (Host `{shown(first.host, 200)}`):", canonical]
        if altered:
            lines.append("(shown with control characters escaped as \\xNN, credential "
                         "values replaced by their length and long lines abbreviated: the "
                         "sha256 lines are of the exact text)")
    return "\n".join(lines)


def v1(headline: str, *, signature_method: str, method: str,
       candidates: Sequence[tuple[str, str]], params: Iterable[tuple[str, str]],
       timestamp: int, now: float, ttl: int) -> str:
    """A HmacSHA1/HmacSHA256 rejection: ``headline``, then what was compared.

    ``candidates`` are those of :func:`emulator.wire.auth.v1_candidates` (host spelling,
    string to sign), the first one for the ``Host`` header as sent.
    """
    pairs = sorted((k, v) for k, v in params if k != "Signature")
    if signature_method == "HmacSHA256":
        hmac_line = "- HMAC: HmacSHA256 (SignatureMethod=HmacSHA256), base64 of the digest"
    else:
        hmac_line = ("- HMAC: HmacSHA1 (SignatureMethod absent or not exactly `HmacSHA256`), "
                     "base64 of the digest")
    lines = [
        headline,
        hmac_line,
        f"- clock: {clock('Timestamp', timestamp, now, ttl)}",
        f"- {len(pairs)} parameters signed: every one sent but Signature, sorted by name, "
        "values URL-decoded",
        "- host spellings tried, with the sha256 of their string to sign: " + ", ".join(
            f"`{shown(host, 200)}` {_sha256(sts)}" for host, sts in candidates),
    ]
    if candidates:
        host = candidates[0][0]
        altered = False
        items = []
        for name, value in pairs:
            name_shown, name_altered = _value(name, _LONG_VALUE, _KEPT_VALUE)
            value_shown, value_altered = (
                (f"<{len(value)} chars, not shown>", True) if _hidden(name)
                else _value(value, _LONG_VALUE, _KEPT_VALUE))
            altered |= name_altered or value_altered
            items.append(f"{name_shown}={value_shown}")
        host_shown, host_altered = _value(host, _LONG_LINE, _KEPT)
        lines += [f"string to sign (Host `{shown(host, 200)}`):",
                  f"{method}{host_shown}/?" + "&".join(items)]
        if altered or host_altered:
            lines.append("(shown with control characters escaped as \\xNN, credential "
                         "values replaced by their length and long values abbreviated: the "
                         "sha256 lines are of the exact text)")
    return "\n".join(lines)


def _canonical_shown(method: str, query: str, candidate: Tc3Candidate) -> tuple[str, bool]:
    """The candidate's canonical request as shown, and whether it differs from the exact one."""
    pairs = [(name, f"<{len(value.strip())} chars, not shown>" if _hidden(name)
              else _escape(value.strip())) for name, value in candidate.headers]
    text = tc3_canonical_request(_escape(method), _escape(query), pairs, candidate.payload_hash)
    altered = text != candidate.canonical_request
    lines = []
    for line in text.split("\n"):
        kept, cut = _line(line)
        lines.append(kept)
        altered |= cut
    return "\n".join(lines), altered


def _line(text: str) -> tuple[str, bool]:
    """A line as shown (escaped, abbreviated past ``_LONG_LINE``) and whether it changed."""
    return _value(text, _LONG_LINE, _KEPT)


def _value(text: str, limit: int, kept: int) -> tuple[str, bool]:
    """``text`` escaped, cut to its first ``kept`` chars past ``limit``; whether it changed."""
    escaped = _escape(text)
    if len(escaped) > limit:
        escaped = f"{escaped[:kept]}…[{len(escaped) - kept} more chars]"
    return clean(escaped), escaped != text


def _escape(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _hidden(name: str) -> bool:
    """Whether a header or parameter of this name carries a credential."""
    lowered = name.lower()
    return any(word in lowered for word in ("token", "authorization", "cookie", "secretkey"))


def _names(names: Sequence[str], sep: str) -> str:
    listed = sep.join(shown(name) for name in names[:_MAX_NAMES])
    more = len(names) - _MAX_NAMES
    return (listed or "(none)") + (f"{sep}… ({more} more)" if more > 0 else "")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
