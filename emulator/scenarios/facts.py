"""What can be known about a request before the gateway checks it, best effort, never failing.

Scenarios match on these facts *before* signature and parameter checks, so a scenario can fail
a request that would otherwise fail authentication; the journal records them. Nothing here
raises: a part that cannot be read is simply unknown (``None``). The secret key, the signature
and the base64 payload never leave this module — only the image's sha256, size and dimensions.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from emulator.errors import ApiError
from emulator.imaging import images
from emulator.imaging.regions import OPTIONS
from emulator.text import clip
from emulator.wire.params import FORM, json_body, signature_method
from emulator.wire.request import RawRequest

#: Bounded, and searched in the first ``MAX_AUTHORIZATION_CHARS`` only: unbounded, this
#: search is quadratic in a crafted 60 KB header (seconds of loop time per request).
_CREDENTIAL = re.compile(r"Credential=([^/,\s]{1,128})/")
MAX_AUTHORIZATION_CHARS = 1024
_OPTIONS_PREFIX = "SegmentationOptions."

#: What the journal keeps of a client-chosen string (SecretId, Action, Region).
MAX_FACT_CHARS = 256
#: A documented Url is at most this long; scenario regexes never see more of it.
MAX_URL_CHARS = 2048
_OPTION_NAMES = frozenset(OPTIONS)


@dataclass(frozen=True, slots=True)
class Facts:
    """A request as scenarios and the journal see it."""

    action: str | None = None
    secret_id: str | None = None
    region: str | None = None
    signature_method: str | None = None
    host: str | None = None  # the host name the client addressed (Host, without port or scheme)
    options: Mapping[str, bool] = field(default_factory=dict)
    url: str | None = None
    image_sha256: str | None = None
    image_bytes: int | None = None
    image_width: int | None = None
    image_height: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # holds the token

    @property
    def selected(self) -> tuple[str, ...]:
        """The segmentation options set to true."""
        return tuple(name for name, on in self.options.items() if on)


def gather(raw: RawRequest, with_image: bool = True) -> Facts:
    """Read what the request says about itself, without validating any of it.

    Decoding and hashing the image (``with_image``) costs milliseconds per megabyte: only
    done when a scenario matches on ``image_sha256``; otherwise the action reports it.
    """
    try:
        method: str | None = signature_method(raw)
    except ApiError:
        method = None
    flat = _pairs(raw.query) if raw.method == "GET" else {}
    if raw.method == "POST" and raw.media_type == FORM:
        flat = _pairs(raw.body.decode("latin-1"))
    params = _json_object(raw) if raw.method == "POST" and not flat else None
    h = raw.headers
    credential = _CREDENTIAL.search(h.get("authorization", "")[:MAX_AUTHORIZATION_CHARS])
    options: Mapping[str, object]
    if params is not None:
        given = params.get("SegmentationOptions")
        options = given if isinstance(given, dict) else {}
        url, image = params.get("Url"), params.get("Image")
    else:
        options = {k[len(_OPTIONS_PREFIX):]: v.lower() == "true"
                   for k, v in flat.items() if k.startswith(_OPTIONS_PREFIX)}
        url, image = flat.get("Url"), flat.get("Image")
    return Facts(
        action=_clip(h.get("x-tc-action") or flat.get("Action")),
        secret_id=_clip(credential.group(1) if credential else flat.get("SecretId")),
        region=_clip(h.get("x-tc-region") or flat.get("Region")),
        host=_host(h.get("host")),
        signature_method=method,
        options={k: v for k, v in options.items() if k in _OPTION_NAMES and isinstance(v, bool)},
        url=clip(url, MAX_URL_CHARS) if isinstance(url, str) and url else None,
        headers=h,
        **(_image_facts(image) if with_image else {}))


def _host(value: str | None) -> str | None:
    """``bda.tencentcloudapi.com`` of ``http://bda.tencentcloudapi.com:443`` (lower-cased)."""
    if not value:
        return None
    host = value.split("://", 1)[-1].strip().lower()
    if host.startswith("["):  # [::1]:9527
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        host = host.partition(":")[0]
    return _clip(host)


def _clip(text: str | None) -> str | None:
    """Facts end up in the journal: a hostile 60 KB header must not stay there whole."""
    return None if text is None else clip(text, MAX_FACT_CHARS)


def _pairs(text: str) -> dict[str, str]:
    try:
        return dict(parse_qsl(text, keep_blank_values=True))
    except ValueError:
        return {}


def _json_object(raw: RawRequest) -> Mapping[str, Any] | None:
    try:  # parsed once: the action reads the same view
        return json_body(raw)
    except ApiError:
        return None


def _image_facts(image: object) -> dict[str, Any]:
    if not isinstance(image, str) or not image:
        return {}
    try:
        data = images.decode_base64(image)
    except ApiError:
        return {}
    found: dict[str, Any] = {"image_sha256": hashlib.sha256(data).hexdigest(),
                             "image_bytes": len(data)}
    with contextlib.suppress(ApiError):
        found["image_width"], found["image_height"] = images.header_size(
            data, images.sniff_format(data))
    return found
