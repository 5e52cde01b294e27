"""SegmentCustomizedPortraitPic: synthetic multi-class portrait segmentation."""

from __future__ import annotations

from emulator.actions.pictures import read_request
from emulator.actions.results import reply_for
from emulator.actions.services import Directives, Outcome, Services
from emulator.imaging.regions import OPTIONS
from emulator.wire.gateway import Call
from emulator.wire.request import RawRequest
from emulator.wire.validation import check_segmentation_options

ACTION = "SegmentCustomizedPortraitPic"


async def handle(services: Services, call: Call, raw: RawRequest,
                 directives: Directives) -> Outcome:
    """Synthetic multi-class portrait segmentation of the Url (preferred) or Image input."""
    params, pic = await read_request(services, ACTION, call, raw, check_segmentation_options)
    options = [name for name in OPTIONS if params["SegmentationOptions"].get(name) is True]
    reply = await reply_for(pic, options, cache=services.cache, executor=services.executor,
                            max_subjects=services.max_subjects, timeout=services.image_timeout)
    return Outcome(reply.fragment, pic)
