"""The action registry: ``X-TC-Action`` → what serves it. Adding an action is one module beside
this one and one entry here (its request schema is found by name in ``schemas/``).

Each entry carries the handler, the regions the action's API page lists (the gateway answers
``UnsupportedRegion`` elsewhere) and the error codes the page documents (coverage per action).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from emulator.actions import (
    create_segmentation_task,
    describe_segmentation_task,
    segment_customized_portrait_pic,
    segment_portrait_pic,
    terminate_segmentation_task,
)
from emulator.actions.services import Handler
from emulator.errors import ACTION_CODES, PORTRAIT_CODES, TASK_CODES

#: bda's regions (document 1208/47022); the image actions serve all three.
IMAGE_REGIONS = frozenset({"ap-beijing", "ap-guangzhou", "ap-shanghai"})
#: The video task actions: "ap-guangzhou" only, 20 requests per second each (their API pages).
TASK_REGIONS = frozenset({"ap-guangzhou"})
TASK_RATE = 20


@dataclass(frozen=True, slots=True)
class Action:
    """One emulated action."""

    handler: Handler
    regions: frozenset[str]
    codes: tuple[str, ...]
    rate: int | None = None  # requests per second per account (None: undocumented, unlimited)


ACTIONS: Mapping[str, Action] = {
    segment_customized_portrait_pic.ACTION: Action(segment_customized_portrait_pic.handle,
                                                   IMAGE_REGIONS, ACTION_CODES),
    segment_portrait_pic.ACTION: Action(segment_portrait_pic.handle, IMAGE_REGIONS,
                                        PORTRAIT_CODES),
    create_segmentation_task.ACTION: Action(create_segmentation_task.handle, TASK_REGIONS,
                                            TASK_CODES, TASK_RATE),
    describe_segmentation_task.ACTION: Action(describe_segmentation_task.handle, TASK_REGIONS,
                                              TASK_CODES, TASK_RATE),
    terminate_segmentation_task.ACTION: Action(terminate_segmentation_task.handle,
                                               TASK_REGIONS, TASK_CODES, TASK_RATE),
}

#: Action → its regions, what the gateway checks.
REGIONS: Mapping[str, frozenset[str]] = {name: action.regions for name, action in ACTIONS.items()}
