"""What ``benchmarks.soak`` sends and how it judges every reply: the seeded mix of request
kinds (successes, natural errors), the fault scenario it loads, the bodies and signed headers of
each kind, and the classification of a reply (success, expected natural error, injected fault or
UNEXPECTED)."""

from __future__ import annotations

import base64
import io
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from emulator.testing import tc3_headers

from .inputs import CONTENT_TYPE, after_soi, commented_body, make_photo, request_body

WRONG_KEY = "not-the-emulator-secret-key-00000"
INJECTED_MESSAGE = "soak: injected InternalError"
GATEWAY_TITLE = b"503 Service Temporarily Unavailable"
FRESH_SIZES = ((120, 160), (160, 200), (200, 260), (240, 320), (180, 240))
FRESH_PICTURES = 50

#: kind -> (weight in %, the code its reply must carry; None = a success)
KINDS: dict[str, tuple[int, str | None]] = {
    "ok-cached": (40, None),
    "ok-fresh": (35, None),
    "bad-signature": (5, "AuthFailure.SignatureFailure"),
    "unknown-action": (5, "InvalidAction"),
    "gif": (5, "FailedOperation.ImageNotSupported"),
    "uniform": (5, "InvalidParameterValue.NoFaceInPhoto"),
    "no-region": (5, "MissingParameter"),
}
DESCRIBE = {
    "ok-cached": "one repeated 300x400 picture (cache hit)",
    "ok-fresh": f"{FRESH_PICTURES} rotating pictures 120x160…240x320, a per-request JPEG "
                "comment: always a cache miss",
    "bad-signature": "signed with a wrong SecretKey",
    "unknown-action": "`X-TC-Action: DetectBody`",
    "gif": "a 64x64 GIF",
    "uniform": "a uniform grey 200x200 JPEG",
    "no-region": "no `X-TC-Region` header",
}

SUCCESS, NATURAL, INJECTED, UNEXPECTED = ("success", "expected natural error",
                                          "injected fault", "UNEXPECTED")
CLASSES = (SUCCESS, NATURAL, INJECTED, UNEXPECTED)
RESET, GATEWAY, INTERNAL = "transport.reset", "transport.gateway_503", "InternalError"

SCENARIO: dict[str, Any] = {
    "name": "soak/faults",
    "description": "Seeded faults of the soak test: about 5 % each of connection resets, "
                   "nginx 503 pages and InternalError, on any request.",
    "rules": [
        {"name": "reset", "probability": 0.05, "seed": 1, "effect": "reset"},
        {"name": "gateway 503", "probability": 0.05 / 0.95, "seed": 2,
         "effect": {"gateway": {"status": 503}}},
        {"name": "InternalError", "probability": 0.05 / 0.90, "seed": 3,
         "effect": {"error": {"code": INTERNAL, "message": INJECTED_MESSAGE}}},
    ],
}
RULE_LABELS = {"reset": RESET, "gateway 503": GATEWAY, "InternalError": INTERNAL}


# --- inputs (built in the load process) ---------------------------------------------------------

def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


@dataclass
class Inputs:
    """Request bodies (or what they are built from) for every kind."""

    cached: bytes
    fresh_rest: list[bytes]  # base64 of each rotating picture after its SOI marker
    gif: bytes
    uniform: bytes
    serial: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    @classmethod
    def build(cls) -> Inputs:
        fresh = [make_photo(FRESH_SIZES[i % len(FRESH_SIZES)], 1000 + i)
                 for i in range(FRESH_PICTURES)]
        gif = _encode(Image.new("P", (64, 64), 3), "GIF")
        uniform = _encode(Image.new("RGB", (200, 200), (128, 128, 128)), "JPEG")
        return cls(cached=request_body(base64.b64encode(make_photo((300, 400), 7))),
                   fresh_rest=[after_soi(jpeg) for jpeg in fresh],
                   gif=request_body(base64.b64encode(gif)),
                   uniform=request_body(base64.b64encode(uniform)))

    def body(self, kind: str, index: int) -> bytes:
        if kind == "ok-fresh":  # a numbered JPEG comment after SOI: same pixels, new sha256
            return commented_body(self.fresh_rest[index % FRESH_PICTURES], next(self.serial))
        if kind == "gif":
            return self.gif
        if kind == "uniform":
            return self.uniform
        return self.cached


#: kind -> how its signed headers differ from a correct request's
_HEADER_CHANGES: dict[str, dict[str, Any]] = {
    "bad-signature": {"secret_key": WRONG_KEY},
    "unknown-action": {"action": "DetectBody"},
    "no-region": {"region": None},
}


def headers_for(kind: str, host: str, digest: str, timestamp: int) -> dict[str, str]:
    """The signed headers of one request of ``kind`` (some deliberately wrong)."""
    return tc3_headers(host, b"", payload_hash=digest, timestamp=timestamp,
                       **_HEADER_CHANGES.get(kind, {}))


# --- classification -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Reply:
    """One request as the client saw it."""

    kind: str
    outcome: str  # "OK", an error code, transport.reset / transport.gateway_503, or a problem
    klass: str
    latency_ms: float
    request_id: str | None = None
    detail: str = ""


def classify(kind: str, status: int, content_type: str, body: bytes) -> tuple[str, str,
                                                                               str | None, str]:
    """(outcome, class, RequestId, detail) of an HTTP reply to a request of ``kind``."""
    if status == 503 and content_type.startswith("text/html") and GATEWAY_TITLE in body:
        return GATEWAY, INJECTED, None, ""
    if status != 200:
        return f"HTTP {status}", UNEXPECTED, None, repr(body[:200])
    if content_type != CONTENT_TYPE:
        return f"Content-Type {content_type}", UNEXPECTED, None, repr(body[:200])
    try:
        response = json.loads(body)["Response"]
        assert isinstance(response, dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        return "not a Tencent reply", UNEXPECTED, None, repr(body[:200])
    request_id = response.get("RequestId")
    if not isinstance(request_id, str) or not request_id:
        return "no RequestId", UNEXPECTED, None, repr(body[:200])
    error = response.get("Error")
    expected = KINDS[kind][1]
    if isinstance(error, dict):
        code, message = str(error.get("Code")), str(error.get("Message"))
        if code == INTERNAL and message == INJECTED_MESSAGE:
            return code, INJECTED, request_id, ""
        if code == expected:
            return code, NATURAL, request_id, ""
        return code, UNEXPECTED, request_id, (f"{kind} expected {expected or 'success'}: "
                                              f"{message[:200]}")
    if expected is None and all(isinstance(response.get(name), str) and response[name]
                                for name in ("PortraitImage", "MaskImage")) \
            and isinstance(response.get("ImageRects"), list) and response["ImageRects"]:
        return "OK", SUCCESS, request_id, ""
    return "OK", UNEXPECTED, request_id, f"{kind} expected {expected or 'a full success'}"
