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
from emulator.wire import auth
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
from emulator.wire.request import RawRequest

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

    ``regions`` maps each emulated action to the regions it is offered in.
    """
    method = signature_method(raw)
    common = read_common(raw, method)
    tc3 = None
    if method == "TC3-HMAC-SHA256":
        tc3 = auth.parse_tc3_authorization(raw.headers.get("authorization", ""))
        secret_id = tc3.secret_id
    else:
        secret_id = require(common.secret_id, "SecretId")
        require(common.signature, "Signature")
        check_nonce(common.nonce)
    action = require(common.action, "Action")
    version = require(common.version, "Version")
    timestamp = parse_timestamp(common.timestamp)
    if abs(now - timestamp) > ttl:
        raise ApiError("AuthFailure.SignatureExpire")
    if tc3 is not None:
        if tc3.date != auth.utc_date(timestamp):
            raise ApiError("AuthFailure.SignatureFailure",
                           reason=f"The credential date `{tc3.date}` is not the UTC date of "
                                  "X-TC-Timestamp.")
        if tc3.service not in auth.acceptable_services(raw.host):
            raise ApiError("AuthFailure.SignatureFailure",
                           reason=f"The credential scope names service `{tc3.service}`, "
                                  f"expected `{SERVICE}`.")
    account = credentials.find(secret_id)
    if not _signature_ok(raw, common, tc3, account):
        raise ApiError("AuthFailure.SignatureFailure")
    account.check_token(common.token, now)
    if action not in regions:
        raise ApiError("InvalidAction", action=action, service=SERVICE, version=version)
    if version != VERSION:
        raise ApiError("NoSuchVersion", version=version, service=SERVICE)
    region = require(common.region, "Region")
    if region not in regions[action]:
        raise ApiError("UnsupportedRegion")
    account.check_state()
    return Call(action, region, method, account, common)


def _signature_ok(raw: RawRequest, common: Common, tc3: auth.Tc3Authorization | None,
                  account: Account) -> bool:
    if tc3 is not None:
        return auth.verify_tc3(auth=tc3, secret_key=account.secret_key, method=raw.method,
                               query=raw.query if raw.method == "GET" else "",
                               headers=raw.headers, body=raw.body,
                               timestamp=common.timestamp or "")
    return auth.verify_v1(secret_key=account.secret_key, method=raw.method, host=raw.host,
                          params=common.v1_pairs, signature=common.signature or "",
                          signature_method=common.method)
