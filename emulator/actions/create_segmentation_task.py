"""CreateSegmentationTask: submit a video for portrait segmentation (asynchronous).

What a job service that downloads at once would answer at create, the emulator answers at
create: a malformed ``VideoUrl`` or ``BackgroundImageUrl`` (``InvalidParameterValue.UrlIllegal``),
a full queue or too many unfinished tasks (checked before any download), a video that cannot
be downloaded (``FailedOperation.DownloadError``), one over the size cap or the frame-size,
duration or frame-count limits (``FailedOperation.TooLargeFileError``), one that is no video
(``FailedOperation.VideoDecodeFailed``; see :mod:`emulator.imaging.video`), a background that
cannot be downloaded or decoded (the image codes). What only shows while frames are processed
ends the task ``FINISHED`` with an ``ErrorMsg``. PyAV is imported only when a task runs, never
on the image actions' path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator import offload
from emulator.actions.business import read_params
from emulator.actions.jobs import Submission
from emulator.actions.services import Directives, Outcome, Services
from emulator.imaging.images import load_image
from emulator.inputs.fetch import fetch_image, fetch_video
from emulator.inputs.urlpolicy import check_url_syntax
from emulator.state.tasks import JobPlan
from emulator.wire.envelope import fields_fragment
from emulator.wire.gateway import Call
from emulator.wire.request import RawRequest

ACTION = "CreateSegmentationTask"


async def handle(services: Services, call: Call, raw: RawRequest,
                 directives: Directives) -> Outcome:
    """Check, download and probe the input, then queue the task."""
    params = await read_params(services, ACTION, call, raw)
    video_url = params["VideoUrl"]
    background_url = params.get("BackgroundImageUrl") or None
    check_url_syntax(video_url)
    if background_url is not None:
        check_url_syntax(background_url)
    owner = call.account.secret_id
    await services.jobs.check_capacity(owner)
    video = await fetch_video(video_url, session=services.session,
                              policy=services.video_policy, url_map=services.url_map)
    info = await offload.run(services.prep, len(video) + offload.OFF_LOOP_BYTES + 1,
                             probe_info, video)
    background = None
    if background_url is not None:
        background = await fetch_image(background_url, session=services.session,
                                       policy=services.fetch_policy, url_map=services.url_map)
        await offload.run(services.prep, len(background), load_image, background)
    task = await services.jobs.submit(Submission(owner, video, info, background,
                                                 directives.job or JobPlan()))
    return Outcome(fields_fragment({"TaskID": task.task_id,
                                    "EstimatedProcessingTime": task.estimated_seconds}),
                   task=(task.task_id, task.state))


def probe_info(video: bytes) -> dict[str, Any]:
    """``VideoBasicInformation`` of the input (integers where the schema says so)."""
    from emulator.imaging.video import probe

    return dict(probe(video).basic_information())


def segmenter(max_subjects: int) -> Callable[..., tuple[bytes, str]]:
    """The job runner's work function: segment every frame, encode the result."""

    def segment(video: bytes, background: bytes | None, progress: Callable[[int, int], None],
                cancelled: Callable[[], bool]) -> tuple[bytes, str]:
        from emulator.imaging.video import segment_video

        result = segment_video(video, background, max_subjects=max_subjects,
                               progress=progress, cancelled=cancelled)
        return result.mp4, result.codec

    return segment
