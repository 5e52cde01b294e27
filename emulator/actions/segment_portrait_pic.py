"""SegmentPortraitPic: person or not — one mask and a transparent cut-out.

Inputs as ``SegmentCustomizedPortraitPic`` (the shared :func:`read_request`); ``RspImgType``
``base64`` (default) or ``url``, ``Scene`` ``GEN`` (default) or ``GS``, read exactly as the
docs spell them (``"Url"`` is refused, as a user reported the real service does): anything
else is ``InvalidParameter.InvalidParameter``. Neither ``Image`` nor ``Url`` (or an empty one)
is ``InvalidParameterValue.ImageEmpty``, a code this action documents.

Outputs: ``ResultImage`` an RGBA PNG and ``ResultMask`` a greyscale JPEG of the input's size
(the customised action's encodings), ``HasForeground`` whether a person was found — a picture
with nobody in it succeeds with ``false``, a fully transparent cut-out and a black mask. In
``url`` mode the two images are stored and ``ResultImageUrl``/``ResultMaskUrl`` point at the
emulator (:mod:`emulator.state.files`), valid 30 minutes on its clock; ``ResultImage`` and
``ResultMask`` are then ``""``, as the docs' example shows for the Url fields in base64 mode.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from emulator.actions.pictures import read_request
from emulator.actions.results import Reply, cached_reply
from emulator.actions.services import Directives, Outcome, Services, result_base
from emulator.errors import ApiError
from emulator.imaging.rendering import segment_person
from emulator.wire.envelope import fields_fragment
from emulator.wire.gateway import Call
from emulator.wire.request import RawRequest

ACTION = "SegmentPortraitPic"
MODES = ("base64", "url")
SCENES = ("GEN", "GS")
IMAGE, MASK = "result.png", "mask.jpg"
_TYPES = {IMAGE: "image/png", MASK: "image/jpeg"}


async def handle(services: Services, call: Call, raw: RawRequest,
                 directives: Directives) -> Outcome:
    """Person-or-not segmentation of the Url (preferred) or Image input."""
    params, pic = await read_request(services, ACTION, call, raw, _check,
                                     empty="InvalidParameterValue.ImageEmpty")
    mode = _choice(params.get("RspImgType"), "RspImgType", MODES)
    scene = _choice(params.get("Scene"), "Scene", SCENES)
    reply = await cached_reply((pic.sha256, (ACTION, scene)), cache=services.cache,
                               executor=services.executor, timeout=services.image_timeout,
                               compute=compute_reply,
                               args=(pic.data, scene == "GS", services.max_subjects))
    if mode == "base64":
        return Outcome(reply.fragment, pic)
    now = services.clock.now()
    base = result_base(services, raw)
    files = services.results
    urls = {name: files.url(base, await files.put(data, _TYPES[name]), name, now,
                            services.url_ttl)
            for name, data in reply.files}
    return Outcome(fields_fragment({
        "ResultImage": "", "ResultMask": "", "ResultImageUrl": urls[IMAGE],
        "ResultMaskUrl": urls[MASK], "HasForeground": dict(reply.flags)["HasForeground"]}), pic)


def compute_reply(image: bytes, green: bool, max_subjects: int) -> Reply:
    """Segment and serialise the base64 reply; keep the files for Url mode (worker thread)."""
    cut = segment_person(image, green, max_subjects)
    return Reply(fields_fragment({
        "ResultImage": base64.b64encode(cut.image_png).decode("ascii"),
        "ResultMask": base64.b64encode(cut.mask_jpeg).decode("ascii"),
        "ResultImageUrl": "", "ResultMaskUrl": "", "HasForeground": cut.has_person}),
        files=((IMAGE, cut.image_png), (MASK, cut.mask_jpeg)),
        flags=(("HasForeground", cut.has_person),))


def _check(params: Mapping[str, Any]) -> None:
    """``RspImgType`` and ``Scene`` before the picture is read."""
    _choice(params.get("RspImgType"), "RspImgType", MODES)
    _choice(params.get("Scene"), "Scene", SCENES)


def _choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    """An enumerated string parameter: absent or empty means the first (the default)."""
    if value is None or value == "":
        return allowed[0]
    if value not in allowed:
        shown = str(value)[:40]
        raise ApiError("InvalidParameter.InvalidParameter",
                       explain=f"{name} `{shown}` is not one of {', '.join(allowed)} "
                               "(case matters)")
    return str(value)
