"""TerminateSegmentationTask: stop a queued or running task.

A queued task ends at once; a running one stops within one frame (its partial output is
discarded); both end ``FINISHED`` with ``ErrorMsg`` "task terminated". A finished task is
``FailedOperation.TerminateTaskFailed``; one whose work is done while it waits to finish is
``FailedOperation.JobConflict``; an unknown one, or another account's, ``TaskNotExist``.
"""

from __future__ import annotations

from emulator.actions.business import read_params
from emulator.actions.services import Directives, Outcome, Services
from emulator.wire.gateway import Call
from emulator.wire.request import RawRequest

ACTION = "TerminateSegmentationTask"


async def handle(services: Services, call: Call, raw: RawRequest,
                 directives: Directives) -> Outcome:
    params = await read_params(services, ACTION, call, raw)
    task = await services.jobs.terminate(call.account.secret_id, params["TaskID"])
    return Outcome(b"", task=(task.task_id, task.state))
