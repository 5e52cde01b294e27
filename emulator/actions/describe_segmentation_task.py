"""DescribeSegmentationTask: a task's state, its video's probe, its result Url and MD5.

Only the account that created a task sees it (``FailedOperation.TaskNotExist`` otherwise, as
for an unknown ``TaskID``). A finished task's ``ResultVideoUrl`` is minted at each call, valid
30 minutes of the emulator's clock (as the image action's result Urls: the docs give no other
period for this action), unless a scenario made it expire early; ``ResultVideoMD5`` is the
upper-case hex MD5 of exactly the bytes served (unless a scenario made it lie). Fields with
nothing to say yet are ``""``; ``TaskID`` and every number keep their JSON types.
"""

from __future__ import annotations

from emulator.actions.business import read_params
from emulator.actions.services import Directives, Outcome, Services, result_base
from emulator.state.files import URL_TTL
from emulator.wire.envelope import fields_fragment
from emulator.wire.gateway import Call
from emulator.wire.request import RawRequest

ACTION = "DescribeSegmentationTask"


async def handle(services: Services, call: Call, raw: RawRequest,
                 directives: Directives) -> Outcome:
    params = await read_params(services, ACTION, call, raw)
    task = await services.jobs.describe(call.account.secret_id, params["TaskID"])
    url = md5 = ""
    if task.finished and task.result_key is not None:
        ttl = task.plan.url_ttl if task.plan.url_ttl is not None else URL_TTL
        url = services.results.url(result_base(services, raw), task.result_key, "result.mp4",
                                   services.clock.now(), ttl)
        md5 = task.result_md5 or ""
    return Outcome(fields_fragment({
        "TaskStatus": task.state, "ResultVideoUrl": url, "ResultVideoMD5": md5,
        "VideoBasicInformation": task.video, "ErrorMsg": task.error}),
        task=(task.task_id, task.state))
