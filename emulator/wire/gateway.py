"""The checks the API gateway makes before an action runs, in the order the emulator makes them.

Order (the real service's order is not documented; this one is listed in the README):

1. signature method from method + Content-Type (mismatch → InvalidParameter);
2. v3: ``Authorization`` parsed (AuthFailure.InvalidAuthorization); v1: ``SecretId``,
   ``Signature``, ``Nonce`` present and well-formed;
3. ``Action``, ``Version``, ``Timestamp`` present (MissingParameter);
4. timestamp within the allowed skew of the emulator's clock (AuthFailure.SignatureExpire);
   v3 credential-scope date = UTC date of the timestamp and a service the client could have
   meant (AuthFailure.SignatureFailure);
5. SecretId known and not disabled (AuthFailure.SecretIdNotFound); signature
   (AuthFailure.SignatureFailure); token of temporary keys (AuthFailure.TokenFailure);
6. action known (InvalidAction), version (NoSuchVersion);
7. Region present (MissingParameter) and served (UnsupportedRegion);
8. account state (ResourceUnavailable.InArrears / .NotExist, AuthFailure.UnauthorizedOperation).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from emulator.errors import ApiError
from emulator.wire import auth, diagnosis
from emulator.wire.credentials import Account, Credentials
from emulator.wire.params import (
    Common,
    SignatureMethod,
    check_nonce,
    parse_timestamp,
    read_common,
    require,
    signature_method,
)
from emulator.wire.request import BODY_SHA256, RawRequest, body_sha256

SERVICE = "bda"
VERSION = "2020-03-24"


@dataclass(frozen=True, slots=True)
class Call:
    """An admitted request: authenticated, routed, with its business parameters still raw."""

    action: str
    region: str
    method: SignatureMethod
    account: Account
    common: Common


def admit(raw: RawRequest, *, credentials: Credentials, regions: Mapping[str, Collection[str]],
          now: float, ttl: int) -> Call:
    """Run the gateway checks; raise the first :class:`ApiError` a real gateway would.

    ``regions`` maps each emulated action to the regions it is offered in. Every rejection
    carries an ``explain`` for the journal (:mod:`emulator.wire.diagnosis`); the wire message
    stays the documented one.
    """
    method = signature_method(raw)
    common = read_common(raw, method)
    tc3 = None
    if method == "TC3-HMAC-SHA256":
        tc3 = auth.parse_tc3_authorization(raw.headers.get("authorization", ""))
        secret_id = tc3.secret_id
    else:
        secret_id = _require(common.secret_id, "SecretId", method)
        _require(common.signature, "Signature", method)
        check_nonce(common.nonce)
    action = _require(common.action, "Action", method)
    version = _require(common.version, "Version", method)
    timestamp = parse_timestamp(_require(common.timestamp, "Timestamp", method))
    if abs(now - timestamp) > ttl:
        raise ApiError("AuthFailure.SignatureExpire",
                       explain=diagnosis.clock(_TIMESTAMP[method], timestamp, now, ttl))
    signed = _Signed(raw, common, tc3, timestamp, now, ttl)
    if tc3 is not None:
        expected = auth.utc_date(timestamp)
        if tc3.date != expected:
            raise ApiError("AuthFailure.SignatureFailure",
                           reason=f"The credential date `{tc3.date}` is not the UTC date of "
                                  "X-TC-Timestamp.",
                           explain=signed.explain(
                               f"TC3-HMAC-SHA256: the credential scope's date `{tc3.date}` is "
                               f"not {expected}, the UTC date of X-TC-Timestamp {timestamp} "
                               "(a date in local time is the usual cause)."))
        if tc3.service not in auth.acceptable_services(raw.host):
            raise ApiError("AuthFailure.SignatureFailure",
                           reason=f"The credential scope names service `{tc3.service}`, "
                                  f"expected `{SERVICE}`.",
                           explain=signed.explain(
                               f"TC3-HMAC-SHA256: the credential scope names service "
                               f"`{diagnosis.shown(tc3.service)}`; the emulator accepts "
                               f"`{SERVICE}` (or the first label of the Host)."))
    account = _find(credentials, secret_id)
    if not signed.by(account):
        raise ApiError("AuthFailure.SignatureFailure", explain=signed.explain(
            f"{method}: the signature is not the HMAC, with the key of SecretId "
            f"`{diagnosis.shown(secret_id)}`, of the string to sign below, for any host "
            "spelling tried. Diff these with what your client signed:"))
    account.check_token(common.token, now)
    if action not in regions:
        raise ApiError("InvalidAction", action=action, service=SERVICE, version=version,
                       explain=f"the emulated actions are {', '.join(sorted(regions))}")
    if version != VERSION:
        raise ApiError("NoSuchVersion", version=version, service=SERVICE,
                       explain=f"the emulator serves version {VERSION} only")
    region = _require(common.region, "Region", method)
    if region not in regions[action]:
        raise ApiError("UnsupportedRegion",
                       explain=f"{action} is served in {', '.join(sorted(regions[action]))}; "
                               f"the request named `{diagnosis.shown(region)}`")
    account.check_state()
    return Call(action, region, method, account, common)


#: Where each signature method carries the common parameters.
_WHERE = {"TC3-HMAC-SHA256": "an X-TC-{name} header",
          "HmacSHA1": "a `{name}` parameter (query string for GET, form body for POST)",
          "HmacSHA256": "a `{name}` parameter (query string for GET, form body for POST)"}
#: The name each signature method gives the timestamp.
_TIMESTAMP = {"TC3-HMAC-SHA256": "X-TC-Timestamp", "HmacSHA1": "Timestamp",
              "HmacSHA256": "Timestamp"}


def _require(value: str | None, name: str, method: SignatureMethod) -> str:
    """:func:`require`, explaining where ``method`` looks for the parameter."""
    try:
        return require(value, name)
    except ApiError as error:
        error.explain = (f"{method} requests carry {name} in "
                         f"{_WHERE[method].format(name=name)}; it is absent or empty")
        raise


def _find(credentials: Credentials, secret_id: str) -> Account:
    """:meth:`Credentials.find`, explaining a SecretId it refuses."""
    try:
        return credentials.find(secret_id)
    except ApiError as error:
        shown = diagnosis.shown(secret_id)
        listed = credentials.accounts.get(secret_id)
        error.explain = (
            f"SecretId `{shown}` has state `disabled` in the credentials file"
            if listed is not None and listed.state == "disabled" else
            f"no active account has SecretId `{shown}` (SecretIds are case-sensitive; "
            f"{len(credentials.accounts)} accounts in the credentials file)")
        raise


class _Signed:
    """What the client signed, computed once (without any key): verified against an account's
    key, or shown when refused."""

    def __init__(self, raw: RawRequest, common: Common, tc3: auth.Tc3Authorization | None,
                 timestamp: int, now: float, ttl: int) -> None:
        self.raw, self.common, self.tc3 = raw, common, tc3
        self.timestamp, self.now, self.ttl = timestamp, now, ttl
        self.query = raw.query if raw.method == "GET" else ""
        if tc3 is not None:
            self.tc3_candidates = auth.tc3_candidates(
                auth=tc3, method=raw.method, query=self.query, headers=raw.headers,
                body=raw.body, timestamp=common.timestamp or "",
                body_sha256=body_sha256(raw) if raw.has_view(BODY_SHA256) else None)
        else:
            self.v1_candidates = auth.v1_candidates(raw.method, raw.host, common.v1_pairs)

    def by(self, account: Account) -> bool:
        """Whether the request's signature was made with ``account``'s key."""
        if self.tc3 is not None:
            return auth.tc3_matches(self.tc3_candidates, auth=self.tc3,
                                    secret_key=account.secret_key)
        return auth.v1_matches(self.v1_candidates, secret_key=account.secret_key,
                               signature=self.common.signature or "",
                               signature_method=self.common.method)

    def explain(self, headline: str) -> str:
        """``headline`` and what the emulator computed, for the journal."""
        if self.tc3 is not None:
            return diagnosis.tc3(headline, auth=self.tc3, candidates=self.tc3_candidates,
                                 method=self.raw.method, query=self.query,
                                 headers=self.raw.headers, body_size=len(self.raw.body),
                                 timestamp=self.timestamp, now=self.now, ttl=self.ttl)
        return diagnosis.v1(headline, signature_method=self.common.method,
                            method=self.raw.method, candidates=self.v1_candidates,
                            params=self.common.v1_pairs, timestamp=self.timestamp,
                            now=self.now, ttl=self.ttl)
