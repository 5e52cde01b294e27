"""TC3-HMAC-SHA256 (v3) and HmacSHA1/HmacSHA256 (v1) signing and verification, pure functions.

Verification rebuilds exactly what the client signed and compares with ``hmac.compare_digest``.
The ways the official clients really sign (reference section 3.3) are all accepted:

* the canonical ``host`` may be the raw ``Host`` header, the header without its ``:port``
  (Node SDK), or either without a ``scheme://`` prefix (tccli sends the endpoint as given);
* the service and date come from the credential scope: ``bda`` or the first label of the host the
  client addressed (Node signs ``127`` for ``127.0.0.1:9527``); the date must be the UTC date of
  ``X-TC-Timestamp``;
* ``X-TC-Content-SHA256: UNSIGNED-PAYLOAD`` makes the payload hash that of the literal string.

What a client may have signed (:func:`tc3_candidates`, :func:`v1_candidates`) is computed
without the key, so a rejection can show it (:mod:`emulator.wire.diagnosis`) with nothing
secret in it. The clock is never read here: callers pass ``now``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from emulator.errors import ApiError

TC3_ALGORITHM = "TC3-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SERVICE = "bda"

_AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 +Credential=(?P<cred>[^,\s]+), *SignedHeaders=(?P<signed>[^,\s]+), *"
    r"Signature=(?P<sig>[0-9a-fA-F]{64})$"
)
_SCOPE_RE = re.compile(
    r"^(?P<sid>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)/tc3_request$")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256, as every hash in the v3 algorithm."""
    return hashlib.sha256(data).hexdigest()


def _utf8(text: str) -> bytes:
    """The bytes the client signed: aiohttp decodes header bytes that are not UTF-8 with
    ``surrogateescape``, and encoding back the same way restores them exactly."""
    return text.encode("utf-8", "surrogateescape")


def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.digest(key, _utf8(msg), "sha256")  # one call into OpenSSL


def tc3_signing_key(secret_key: str, date: str, service: str) -> bytes:
    """SecretSigning = HMAC chain over "TC3"+key, date, service, "tc3_request"."""
    secret_date = _hmac256(("TC3" + secret_key).encode("utf-8"), date)
    return _hmac256(_hmac256(secret_date, service), "tc3_request")


def tc3_canonical_request(method: str, query: str, headers: Sequence[tuple[str, str]],
                          payload_hash: str) -> str:
    """The canonical request; ``headers`` are (name, value) pairs in SignedHeaders order."""
    canonical_headers = "".join(f"{k.lower()}:{v.strip().lower()}\n" for k, v in headers)
    signed = ";".join(k.lower() for k, _ in headers)
    return f"{method}\n/\n{query}\n{canonical_headers}\n{signed}\n{payload_hash}"


def tc3_string_to_sign(timestamp: str, date: str, service: str, canonical_request: str) -> str:
    """The string to sign of the v3 algorithm."""
    scope = f"{date}/{service}/tc3_request"
    return f"{TC3_ALGORITHM}\n{timestamp}\n{scope}\n{sha256_hex(_utf8(canonical_request))}"


def tc3_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    """Lower-case hex signature of ``string_to_sign``."""
    key = tc3_signing_key(secret_key, date, service)
    return hmac.digest(key, _utf8(string_to_sign), "sha256").hex()


@dataclass(frozen=True, slots=True)
class Tc3Authorization:
    """The parsed ``Authorization`` header of a v3 request."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_tc3_authorization(value: str) -> Tc3Authorization:
    """Parse the header or raise ``AuthFailure.InvalidAuthorization``."""
    match = _AUTH_RE.match(value.strip())
    if match is None:
        raise ApiError("AuthFailure.InvalidAuthorization",
                       reason="expected `TC3-HMAC-SHA256 Credential=..., SignedHeaders=..., "
                              "Signature=...`")
    scope = _SCOPE_RE.match(match["cred"])
    if scope is None:
        raise ApiError("AuthFailure.InvalidAuthorization",
                       reason="Credential must be `SecretId/yyyy-mm-dd/service/tc3_request`")
    signed = tuple(match["signed"].lower().split(";"))
    if "content-type" not in signed or "host" not in signed or "" in signed:
        raise ApiError("AuthFailure.InvalidAuthorization",
                       reason="SignedHeaders must include `content-type` and `host`")
    return Tc3Authorization(scope["sid"], scope["date"], scope["service"], signed,
                            match["sig"].lower())


def utc_date(timestamp: int) -> str:
    """The UTC calendar date (yyyy-mm-dd) of a UNIX timestamp (``gmtime``: no time-zone
    lookup, which ``strftime`` makes on every call)."""
    day = time.gmtime(timestamp)
    return f"{day.tm_year:04d}-{day.tm_mon:02d}-{day.tm_mday:02d}"


def host_variants(host: str) -> list[str]:
    """The spellings of the Host header an official client may have signed."""
    variants = [host]
    bare = host.split("://", 1)[1] if "://" in host else host
    for candidate in (bare, _strip_port(host), _strip_port(bare)):
        if candidate not in variants:
            variants.append(candidate)
    return variants


def _strip_port(host: str) -> str:
    if host.startswith("[") and "]" in host:  # [::1]:9527
        return host[: host.index("]") + 1]
    head, sep, port = host.rpartition(":")
    if sep and port.isdigit() and not head.endswith(":") and "/" not in port:
        return head
    return host


def acceptable_services(host: str) -> set[str]:
    """``bda`` plus the first DNS label of the addressed host (how the Node SDK names it)."""
    bare = host.split("://", 1)[1] if "://" in host else host
    return {SERVICE, bare.split(".")[0], _strip_port(bare).split(".")[0]}


def tc3_payload_hash(headers: Mapping[str, str], body: bytes,
                     body_sha256: str | None = None) -> str:
    """The hashed payload: of ``body`` (``body_sha256`` when the caller hashed it already), or
    of the literal string when the client sent ``X-TC-Content-SHA256: UNSIGNED-PAYLOAD``."""
    if headers.get("x-tc-content-sha256", "").strip() == UNSIGNED_PAYLOAD:
        return sha256_hex(UNSIGNED_PAYLOAD.encode())
    return body_sha256 if body_sha256 is not None else sha256_hex(body)


@dataclass(frozen=True, slots=True)
class Tc3Candidate:
    """What the client may have signed, for one spelling of the host (no key involved)."""

    host: str
    headers: tuple[tuple[str, str], ...]  # the signed (name, value) pairs, in SignedHeaders order
    payload_hash: str
    canonical_request: str
    string_to_sign: str


def tc3_candidates(*, auth: Tc3Authorization, method: str, query: str,
                   headers: Mapping[str, str], body: bytes,
                   timestamp: str, body_sha256: str | None = None) -> list[Tc3Candidate]:
    """The canonical request and string to sign for every spelling of
    :func:`host_variants`; a signed header the request lacks is signed with an empty value.
    ``body_sha256``: the body's hash, when the caller has it already (hashed once)."""
    payload_hash = tc3_payload_hash(headers, body, body_sha256)
    candidates = []
    for host in host_variants(headers.get("host", "")):
        pairs = tuple((name, host if name == "host" else headers.get(name, ""))
                      for name in auth.signed_headers)
        canonical = tc3_canonical_request(method, query, pairs, payload_hash)
        sts = tc3_string_to_sign(timestamp, auth.date, auth.service, canonical)
        candidates.append(Tc3Candidate(host, pairs, payload_hash, canonical, sts))
    return candidates


def tc3_matches(candidates: Iterable[Tc3Candidate], *, auth: Tc3Authorization,
                secret_key: str) -> bool:
    """Whether one candidate's string to sign, signed with ``secret_key``, gives the
    client's signature (every candidate is computed: the time does not tell which)."""
    key = tc3_signing_key(secret_key, auth.date, auth.service)
    ok = False
    for candidate in candidates:
        expected = hmac.digest(key, _utf8(candidate.string_to_sign), "sha256").hex()
        ok |= hmac.compare_digest(expected, auth.signature)
    return ok


def verify_tc3(*, auth: Tc3Authorization, secret_key: str, method: str, query: str,
               headers: Mapping[str, str], body: bytes, timestamp: str) -> bool:
    """Whether the request carries a valid v3 signature made with ``secret_key``.

    ``headers`` maps lower-cased names to values as received; the ``host`` entry is tried in
    every spelling of :func:`host_variants`.
    """
    return tc3_matches(tc3_candidates(auth=auth, method=method, query=query, headers=headers,
                                      body=body, timestamp=timestamp),
                       auth=auth, secret_key=secret_key)


def v1_string_to_sign(method: str, host: str, params: Iterable[tuple[str, str]]) -> str:
    """METHOD + host + "/?" + sorted raw name=value pairs (Signature excluded)."""
    pairs = sorted((k, v) for k, v in params if k != "Signature")
    return f"{method}{host}/?" + "&".join(f"{k}={v}" for k, v in pairs)


def v1_signature(secret_key: str, string_to_sign: str, method: str = "HmacSHA1") -> str:
    """Base64 HMAC; HmacSHA256 only when named exactly, HmacSHA1 otherwise (as documented)."""
    digest = hashlib.sha256 if method == "HmacSHA256" else hashlib.sha1
    mac = hmac.new(_utf8(secret_key), _utf8(string_to_sign), digest)
    return base64.b64encode(mac.digest()).decode("ascii")


def v1_candidates(method: str, host: str,
                  params: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(host spelling, string to sign) for every spelling of :func:`host_variants`."""
    pairs = list(params)
    return [(candidate, v1_string_to_sign(method, candidate, pairs))
            for candidate in host_variants(host)]


def v1_matches(candidates: Iterable[tuple[str, str]], *, secret_key: str, signature: str,
               signature_method: str) -> bool:
    """Whether one candidate string to sign, signed with ``secret_key``, gives ``signature``."""
    ok = False
    for _, sts in candidates:
        expected = v1_signature(secret_key, sts, signature_method)
        ok |= hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
    return ok


def verify_v1(*, secret_key: str, method: str, host: str, params: Sequence[tuple[str, str]],
              signature: str, signature_method: str) -> bool:
    """Whether ``signature`` is the v1 signature of ``params`` (host tried with and without
    a scheme prefix; the official SDKs sign it with the port)."""
    return v1_matches(v1_candidates(method, host, params), secret_key=secret_key,
                      signature=signature, signature_method=signature_method)
