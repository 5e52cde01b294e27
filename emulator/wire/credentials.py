"""Accounts the emulator knows, loaded from a credentials file, and the state checks they imply.

Account-level errors come from natural inputs: sign with a key whose account is ``in_arrears``
and every call answers ``ResourceUnavailable.InArrears``. Temporary credentials carry a token
and an expiry; a request with them must present the token (``X-TC-Token``/``Token``).
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

from emulator import strictjson
from emulator.configerror import ConfigError
from emulator.errors import ApiError
from emulator.resources import schema_path

DEFAULT_SECRET_ID = "AKIDEMULATOR000000000000000000000000"
DEFAULT_SECRET_KEY = "emulatorsecretkey000000000000000"

#: state → the code every signed request of such an account gets (``active`` passes).
STATE_ERRORS: Mapping[str, str] = {
    "disabled": "AuthFailure.SecretIdNotFound",
    "in_arrears": "ResourceUnavailable.InArrears",
    "not_activated": "ResourceUnavailable.NotExist",
    "unauthorized": "AuthFailure.UnauthorizedOperation",
}
#: Every account state a credentials file or ``POST /_emulator/accounts`` may give.
STATES: tuple[str, ...] = ("active", *STATE_ERRORS)


@dataclass(frozen=True, slots=True)
class Account:
    """One key pair and what the emulator does with requests signed by it."""

    secret_id: str
    secret_key: str
    state: str = "active"
    token: str | None = None
    expires_at: int | None = None
    name: str = ""

    def check_token(self, token: str | None, now: float) -> None:
        """Temporary keys need their token, unexpired; long-term keys must not send one.

        The ``explain`` says which, never what either token is (only its length)."""
        sid = f"SecretId `{self.secret_id}`"
        if self.token is None:
            if token:
                raise ApiError("AuthFailure.TokenFailure",
                               reason="a token was sent with long-term credentials",
                               reason_zh="长期密钥的请求不能携带 token。",
                               explain=f"unexpected token: {sid} is a long-term key (its "
                                       f"account has no token), yet the request sent one "
                                       f"({len(token)} chars in X-TC-Token or Token); send "
                                       "a token only with temporary keys")
            return
        if not token:
            raise ApiError("AuthFailure.TokenFailure",
                           reason="temporary credentials need `X-TC-Token`",
                           reason_zh="临时密钥的请求必须携带 `X-TC-Token`。",
                           explain=f"missing token: {sid} is a temporary key; its requests "
                                   "need its token in X-TC-Token (TC3) or Token (v1), and "
                                   "none was sent")
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            raise ApiError("AuthFailure.TokenFailure", reason="the token does not match",
                           reason_zh="token 与临时密钥不匹配。",
                           explain=f"wrong token: the one sent ({len(token)} chars) is not "
                                   f"the token of temporary {sid} ({len(self.token)} chars)")
        if self.expires_at is not None and now >= self.expires_at:
            raise ApiError("AuthFailure.TokenFailure", reason="the token has expired",
                           reason_zh="token 已过期。",
                           explain=f"expired token: temporary {sid} expired at "
                                   f"{self.expires_at} (UNIX seconds, its `expires_at`); the "
                                   f"emulator's clock is {now:.3f}, "
                                   f"{now - self.expires_at:.3f} s later")

    def check_state(self) -> None:
        """Raise the error of a non-active account (after its signature was verified)."""
        code = STATE_ERRORS.get(self.state)
        if code is not None and code != "AuthFailure.SecretIdNotFound":
            raise ApiError(code, explain=f"the account of SecretId `{self.secret_id}`"
                                         f"{f' ({self.name})' if self.name else ''} has state "
                                         f"`{self.state}`: every request signed with it "
                                         f"answers {code}")


#: Accounts created at run time, at most (each holds little, but a client controls the count).
MAX_RUNTIME_ACCOUNTS = 10_000


class CredentialsError(ConfigError):
    """A credentials file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """The accounts, by SecretId: those of the credentials file, and those created at run time
    (``POST /_emulator/accounts``: one per test, as a namespace), bounded in number."""

    accounts: Mapping[str, Account]
    runtime: dict[str, Account] = field(default_factory=dict)

    def find(self, secret_id: str) -> Account:
        """The usable account, or ``AuthFailure.SecretIdNotFound`` (unknown or disabled)."""
        account = self.runtime.get(secret_id) or self.accounts.get(secret_id)
        if account is None or account.state == "disabled":
            raise ApiError("AuthFailure.SecretIdNotFound")
        return account

    @classmethod
    def load(cls, path: Path) -> Credentials:
        """Read and validate a credentials file against ``schemas/credentials.schema.json``."""
        try:
            document = strictjson.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise CredentialsError(f"{path}: {exc}") from exc
        schema = json.loads(schema_path("credentials.schema.json").read_text(encoding="utf-8"))
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(document),
                        key=lambda e: list(e.absolute_path))
        if errors:
            where = strictjson.pointer(list(errors[0].absolute_path))
            raise CredentialsError(f"{path}: at {where}: {errors[0].message}")
        return cls.from_document(document, str(path))

    @classmethod
    def from_document(cls, document: Mapping[str, Any], source: str = "credentials") -> Credentials:
        """Build from a document the schema accepted; ``CredentialsError`` (naming ``source``
        and the JSON pointer) for what the schema cannot say: a SecretId listed twice, an
        ``expires_at`` that is no ISO 8601 date-time with a time zone."""
        accounts: dict[str, Account] = {}
        first: dict[str, int] = {}
        for index, entry in enumerate(document["accounts"]):
            secret_id = entry["secret_id"]
            if secret_id in first:
                raise CredentialsError(
                    f"{source}: at /accounts/{index}/secret_id: SecretId {secret_id!r} is "
                    f"already listed at /accounts/{first[secret_id]}/secret_id")
            first[secret_id] = index
            expires = entry.get("expires_at")
            accounts[secret_id] = Account(
                secret_id=secret_id, secret_key=entry["secret_key"],
                state=entry.get("state", "active"), token=entry.get("token"),
                expires_at=None if expires is None else _epoch(
                    expires, f"{source}: at /accounts/{index}/expires_at"),
                name=entry.get("name", ""))
        return cls(accounts)


    def create(self, *, state: str = "active", token: str | None = None,
               expires_at: int | None = None, name: str = "") -> Account:
        """A new account with fresh random keys (``ValueError`` past ``MAX_RUNTIME_ACCOUNTS``
        or for an unknown state)."""
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}")
        if len(self.runtime) >= MAX_RUNTIME_ACCOUNTS:
            raise ValueError(f"{MAX_RUNTIME_ACCOUNTS} accounts exist; delete some first")
        account = Account(secret_id="AKID" + secrets.token_hex(16).upper(),
                          secret_key=secrets.token_urlsafe(24), state=state, token=token,
                          expires_at=expires_at, name=name)
        self.runtime[account.secret_id] = account
        return account

    def delete(self, secret_id: str) -> bool:
        """Forget an account created at run time (those of the file stay)."""
        return self.runtime.pop(secret_id, None) is not None

    def is_namespace(self, secret_id: str | None) -> bool:
        """Whether ``secret_id`` names an account created at run time: those are namespaces
        (their requests see their own scenarios, clock and coverage); the file's accounts
        share the global namespace, as before accounts could be created."""
        return secret_id is not None and secret_id in self.runtime

def _epoch(value: str | int, where: str) -> int:
    """UNIX seconds, or an ISO 8601 date-time with its time zone (``Z`` or ``+08:00``): a
    value without one would mean the local time of whichever machine runs the emulator."""
    if isinstance(value, int):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CredentialsError(f"{where}: {value!r} is not an ISO 8601 date-time such as "
                               "'2030-01-01T00:00:00Z' (or give UNIX seconds)") from None
    if moment.tzinfo is None:
        raise CredentialsError(f"{where}: {value!r} has no time zone; add one, such as "
                               "'Z' for UTC or '+08:00'")
    return int(moment.timestamp())
