"""The action registry: ``X-TC-Action`` → handler. Adding an action is one module beside this
one and one line here (its request schema is found by name in ``schemas/``)."""

from __future__ import annotations

from collections.abc import Mapping

from emulator.actions import segment_customized_portrait_pic
from emulator.actions.services import Handler

ACTIONS: Mapping[str, Handler] = {
    segment_customized_portrait_pic.ACTION: segment_customized_portrait_pic.handle,
}
