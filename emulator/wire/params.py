"""Reading the common parameters of a request from wherever its signature method puts them.

* v3 (TC3-HMAC-SHA256): common parameters in ``X-TC-*`` headers; business parameters in the JSON
  body (POST) or the query string, flattened with dots (GET).
* v1 (HmacSHA1/HmacSHA256): everything in the query string (GET) or the form body (POST).

Which one a request uses is decided by method, Content-Type and the Authorization header, as the
API gateway documents: POST ``application/json`` is v3, POST ``application/x-www-form-urlencoded``
is v1, GET is v3 when it carries ``Authorization`` and v1 otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote_plus

from emulator import strictjson
from emulator.errors import ApiError, Language
from emulator.wire.request import RawRequest

SignatureMethod = Literal["TC3-HMAC-SHA256", "HmacSHA1", "HmacSHA256"]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

#: v1 parameters that are not business parameters (the SDK extras included, never "unknown").
V1_COMMON = frozenset({"Action", "Version", "Region", "Timestamp", "Nonce", "SecretId",
                       "Signature", "SignatureMethod", "Token", "Language", "RequestClient"})
NONCE_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")
_SPLIT = "Url key and value should be splited by `=`."
_SPLIT_ZH = "Url 的键和值应该用`=`分隔。"


@dataclass(slots=True)
class Common:
    """The common parameters of one call, whichever way they travelled."""

    method: SignatureMethod
    action: str | None = None
    version: str | None = None
    region: str | None = None
    timestamp: str | None = None
    token: str | None = None
    language: str | None = None
    # v1 only
    secret_id: str | None = None
    signature: str | None = None
    nonce: str | None = None
    v1_pairs: list[tuple[str, str]] = field(default_factory=list)
    flat: dict[str, str] = field(default_factory=dict)  # business params, flattened (v1, GET)


def signature_method(raw: RawRequest) -> SignatureMethod:
    """Which signature the request must carry, or InvalidParameter when Content-Type and
    signature do not fit together (see the README's deviations table). Computed once."""
    return raw.view("signature_method", _signature_method)


def _signature_method(raw: RawRequest) -> SignatureMethod:
    has_tc3 = raw.headers.get("authorization", "").lstrip().startswith("TC3-")
    if raw.method == "GET":
        return "TC3-HMAC-SHA256" if "authorization" in raw.headers else _v1_method(raw)
    if raw.media_type == JSON:
        return "TC3-HMAC-SHA256"
    if raw.media_type == FORM and not has_tc3:
        return _v1_method(raw)
    shown = raw.headers.get("content-type", "") or "(none)"
    raise ApiError("InvalidParameter",
                   reason=f"Content-Type `{shown}` does not fit the signature: POST with "
                          "TC3-HMAC-SHA256 needs `application/json`, HmacSHA1/HmacSHA256 need "
                          "`application/x-www-form-urlencoded`.")


def _v1_method(raw: RawRequest) -> SignatureMethod:
    text = raw.query if raw.method == "GET" else raw.body.decode("utf-8", "replace")
    for name, value in _split_pairs(text):
        if name == "SignatureMethod" and value == "HmacSHA256":
            return "HmacSHA256"
    return "HmacSHA1"


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``a=1&b=2`` → pairs, strictly: every item needs ``=``, names are unique and non-empty."""
    pairs = _split_pairs(text)
    seen: set[str] = set()
    for name, _ in pairs:
        if not name:
            raise ApiError("InvalidParameter", reason=_SPLIT, reason_zh=_SPLIT_ZH)
        if name in seen:
            raise ApiError("InvalidParameter", reason=f"Parameter `{name}` is given twice.")
        seen.add(name)
    return pairs


def _split_pairs(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for item in text.split("&") if text else ():
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise ApiError("InvalidParameter", reason=_SPLIT, reason_zh=_SPLIT_ZH)
        pairs.append((_decode(name), _decode(value)))
    return pairs


def _decode(text: str) -> str:
    try:
        return unquote_plus(text, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise ApiError("InvalidParameter", reason="parameters must be UTF-8") from exc


def read_common(raw: RawRequest, method: SignatureMethod) -> Common:
    """Gather the common parameters; business parameters stay flat for v1 and GET."""
    if method == "TC3-HMAC-SHA256":
        h = raw.headers
        common = Common(method, action=h.get("x-tc-action"), version=h.get("x-tc-version"),
                        region=h.get("x-tc-region"), timestamp=h.get("x-tc-timestamp"),
                        token=h.get("x-tc-token"), language=h.get("x-tc-language"))
        if raw.method == "GET":
            common.flat = dict(parse_pairs(raw.query))
        return common
    text = raw.query if raw.method == "GET" else _form_text(raw.body)
    pairs = parse_pairs(text)
    values = dict(pairs)
    return Common(method, action=values.get("Action"), version=values.get("Version"),
                  region=values.get("Region"), timestamp=values.get("Timestamp"),
                  token=values.get("Token"), language=values.get("Language"),
                  secret_id=values.get("SecretId"), signature=values.get("Signature"),
                  nonce=values.get("Nonce"), v1_pairs=pairs,
                  flat={k: v for k, v in pairs if k not in V1_COMMON})


def _form_text(body: bytes) -> str:
    try:
        return body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ApiError("InvalidParameter",
                       reason="a form body must be URL-encoded ASCII") from exc


def language_of(raw: RawRequest) -> Language:
    """The reply language, best effort from the header or a ``Language=`` parameter: zh-CN or
    en-US when asked for, English otherwise (also for unparsable requests). Computed once."""
    return raw.view("language", _language)


def json_body(raw: RawRequest) -> dict[str, Any]:
    """The JSON object of a v3 POST body (``{}`` when empty), parsed once, strictly (no
    ``NaN``), UTF-8 only; ``InvalidParameter`` otherwise."""
    return raw.view("json", _json_body)


def _json_body(raw: RawRequest) -> dict[str, Any]:
    if not raw.body.strip():
        return {}
    try:
        value = strictjson.loads(raw.body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # NaN and 1e400 are not JSON either
        raise ApiError("InvalidParameter", reason="The request body is not valid UTF-8 JSON.",
                       reason_zh="请求体不是合法的 UTF-8 JSON。") from exc
    if not isinstance(value, dict):
        raise ApiError("InvalidParameter", reason="The request body must be a JSON object.",
                       reason_zh="请求体必须是 JSON 对象。")
    return value


def _language(raw: RawRequest) -> Language:
    value = raw.headers.get("x-tc-language")
    if value is None:
        form = raw.body if raw.media_type == FORM else b""
        for text in (raw.query.encode("latin-1", "replace"), form):
            if text.startswith(b"Language=zh-CN") or b"&Language=zh-CN" in text:
                return "zh-CN"
    return "zh-CN" if value == "zh-CN" else "en-US"


def require(value: str | None, name: str) -> str:
    """A present, non-empty common parameter or ``MissingParameter`` naming it."""
    if value is None or value == "":
        raise ApiError("MissingParameter", param=name)
    return value


def parse_timestamp(value: str | None) -> int:
    """The ``Timestamp`` as an integer, or the errors users see for it."""
    text = require(value, "Timestamp")
    if not _DIGITS.fullmatch(text) or len(text) > 12:
        raise ApiError("InvalidParameter", reason="Parameter `Timestamp` type error.",
                       reason_zh="参数`Timestamp`取值类型错误。")
    return int(text)


def check_nonce(value: str | None) -> None:
    """Any integer 0..2**63-1 (Node can send 0, Python up to sys.maxsize)."""
    text = require(value, "Nonce")
    if not _DIGITS.fullmatch(text) or len(text) > 19 or int(text) > NONCE_MAX:
        raise ApiError("InvalidParameter", reason="Parameter `Nonce` type error.",
                       reason_zh="参数`Nonce`取值类型错误。")
