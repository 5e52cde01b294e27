"""The video task trio through the official SDKs: the lifecycle on the emulator's clock, the
result and its MD5, every natural error, termination in each state, the drills."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import jsonschema
import pytest
import requests
from PIL import Image, ImageOps, ImageStat
from tencentcloud.bda.v20200324 import models
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.resources import fixture_path, schema_path
from emulator.serve.server import EmulatorServer
from emulator.testing import SECRET_KEY
from tests.helpers import AdminApi, bda
from tests.node_sdk import node_call

VIDEO = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.mp4"
BACKGROUND = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/background.jpg"
SCHEMAS = {name: jsonschema.Draft202012Validator(json.loads(
    schema_path(f"{name}.response.schema.json").read_text()))
    for name in ("CreateSegmentationTask", "DescribeSegmentationTask",
                 "TerminateSegmentationTask")}


def call(endpoint: str, action: str, params: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """One call of ``action`` through the Python SDK; the reply checked against its schema."""
    request = getattr(models, f"{action}Request")()
    request.from_json_string(json.dumps(params))
    data: dict[str, Any] = json.loads(getattr(bda(endpoint, **kw), action)(request)
                                      .to_json_string())
    SCHEMAS[action].validate(data)
    return data


def create(endpoint: str, **params: Any) -> dict[str, Any]:
    return call(endpoint, "CreateSegmentationTask", {"VideoUrl": VIDEO, **params})


def describe(endpoint: str, task_id: str, **kw: Any) -> dict[str, Any]:
    return call(endpoint, "DescribeSegmentationTask", {"TaskID": task_id}, **kw)


def wait_finished(endpoint: str, task_id: str, seconds: float = 30) -> dict[str, Any]:
    """Poll every 0.1 s, at most ``seconds``, like a client with a deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = describe(endpoint, task_id)
        if data["TaskStatus"] == "FINISHED":
            return data
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} not FINISHED within {seconds} s")


def jump(emu: EmulatorServer, task_id: str, seconds: float) -> None:
    """Move the emulator's clock ``seconds`` ahead until the task finishes, then back: the
    SDK signs with the wall clock, and the signature check allows 300 s of skew."""
    emu.clock.shift(seconds)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            tasks = AdminApi(emu)("GET", "tasks").json()["tasks"]
            if any(t["task_id"] == task_id and t["state"] == "FINISHED" for t in tasks):
                return
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} did not finish after a {seconds} s jump")
    finally:
        emu.clock.shift(-seconds)


def error_code(action: Callable[[], Any]) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        action()
    return str(info.value.get_code())


@pytest.fixture
def emu(make_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    return make_server(task_pace=1.0)


def _frames(data: bytes) -> list[Image.Image]:
    with av.open(io.BytesIO(data)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


# -- the lifecycle --------------------------------------------------------------------------

def test_lifecycle_with_the_clock_jumped_to_the_end(emu: EmulatorServer) -> None:
    created = create(emu.endpoint)
    task_id = created["TaskID"]
    assert isinstance(task_id, str) and len(task_id) == 20 and task_id.isdigit()
    assert created["EstimatedProcessingTime"] == pytest.approx(5.0, abs=0.5)  # 5 s at pace 1
    first = describe(emu.endpoint, task_id)
    assert first["TaskStatus"] in ("QUEUING", "PROCESSING")
    assert first["ResultVideoUrl"] == "" and first["ErrorMsg"] == ""
    info = first["VideoBasicInformation"]
    assert info["FrameWidth"] == 320 and info["FrameHeight"] == 240
    assert isinstance(info["FramesPerSecond"], int) and isinstance(info["TotalFrames"], int)
    emu.clock.shift(60)  # past the emulated finishing time: only the real work remains
    done = wait_finished(emu.endpoint, task_id, seconds=20)
    assert done["ErrorMsg"] == "" and done["ResultVideoUrl"].startswith(f"http://{emu.endpoint}")
    body = requests.get(done["ResultVideoUrl"], timeout=10).content
    assert hashlib.md5(body).hexdigest().upper() == done["ResultVideoMD5"]
    frames = _frames(body)
    assert len(frames) == info["TotalFrames"] and frames[0].size == (320, 240)
    states = [(e["action"], e["task_state"]) for e in AdminApi(emu).journal()
              if e["task_id"] == task_id]
    assert states[0] == ("CreateSegmentationTask", "QUEUING") and states[-1][1] == "FINISHED"


def test_a_five_second_clip_finishes_within_ten_seconds_of_wall_time(
        make_server: Callable[..., EmulatorServer]) -> None:
    emu = make_server()  # the default pace
    task_id = create(emu.endpoint)["TaskID"]
    started = time.monotonic()
    deadline = started + 10
    while True:
        data = describe(emu.endpoint, task_id)
        if data["TaskStatus"] == "FINISHED" or time.monotonic() > deadline:
            break
        time.sleep(0.5)  # the client polls every 0.5 s
    assert data["TaskStatus"] == "FINISHED" and data["ErrorMsg"] == ""
    tasks = AdminApi(emu)("GET", "tasks").json()["tasks"]
    assert [h["state"] for h in tasks[0]["history"]] == ["QUEUING", "PROCESSING", "FINISHED"]


def test_background_replaces_what_is_not_the_person(emu: EmulatorServer) -> None:
    plain = create(emu.endpoint)["TaskID"]
    composite = create(emu.endpoint, BackgroundImageUrl=BACKGROUND)["TaskID"]
    emu.clock.shift(60)
    masks = _frames(requests.get(wait_finished(emu.endpoint, plain)["ResultVideoUrl"],
                                 timeout=10).content)
    pictures = _frames(requests.get(wait_finished(emu.endpoint, composite)["ResultVideoUrl"],
                                    timeout=10).content)
    mask, picture = masks[0].convert("L"), pictures[0]
    person = mask.point(lambda v: 255 if v > 128 else 0)
    share = person.histogram()[255] / (mask.width * mask.height)
    assert 0.02 < share < 0.9  # a person, and background around it
    outside = ImageStat.Stat(picture, mask=ImageOps.invert(person))
    assert max(outside.stddev) > 5  # the background picture, not a flat colour or black


def test_terminate_in_each_state(make_server: Callable[..., EmulatorServer]) -> None:
    emu = make_server(task_workers=1, task_pace=30.0)
    running = create(emu.endpoint)["TaskID"]
    queued = create(emu.endpoint)["TaskID"]
    call(emu.endpoint, "TerminateSegmentationTask", {"TaskID": queued})
    ended = describe(emu.endpoint, queued)
    assert ended["TaskStatus"] == "FINISHED" and ended["ErrorMsg"] == "task terminated"
    assert ended["ResultVideoUrl"] == ""
    for _ in range(400):  # until its frames are done: then it only awaits its time
        task = next(t for t in AdminApi(emu)("GET", "tasks").json()["tasks"]
                    if t["task_id"] == running)
        if task["frames_done"] == task["video"]["TotalFrames"]:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    code = error_code(lambda: call(emu.endpoint, "TerminateSegmentationTask",
                                   {"TaskID": running}))
    # the frames of a 5 s clip are done long before 150 s of pace: it is being finalised
    assert code == "FailedOperation.JobConflict"
    jump(emu, running, 3600)
    assert error_code(lambda: call(emu.endpoint, "TerminateSegmentationTask",
                                   {"TaskID": running})) == "FailedOperation.TerminateTaskFailed"


def test_terminating_a_task_that_is_still_computing_stops_it(
        make_server: Callable[..., EmulatorServer]) -> None:
    emu = make_server(task_workers=1)
    admin = AdminApi(emu)
    stuck = {"name": "slow", "rules": [{"match": {"action": "CreateSegmentationTask"},
                                        "effect": {"job": {"fail_at": 1.0}}}]}
    assert admin("PUT", "scenarios", stuck).status_code == 201
    task_id = create(emu.endpoint)["TaskID"]
    call(emu.endpoint, "TerminateSegmentationTask", {"TaskID": task_id})
    data = wait_finished(emu.endpoint, task_id)
    assert data["ErrorMsg"] in ("task terminated", "video error")  # whichever came first
    assert data["ResultVideoUrl"] == ""


def test_admin_moves_a_task_like_moto(make_server: Callable[..., EmulatorServer]) -> None:
    emu = make_server(task_pace=600.0)
    admin = AdminApi(emu)
    task_id = create(emu.endpoint)["TaskID"]
    moved = admin("POST", f"tasks/{task_id}", {"state": "FINISHED"})
    assert moved.status_code == 200
    assert wait_finished(emu.endpoint, task_id)["ErrorMsg"] == ""
    other = create(emu.endpoint)["TaskID"]
    failed = admin("POST", f"tasks/{other}", {"state": "FINISHED", "error_msg": "by hand"})
    assert failed.json()["state"] == "FINISHED" and failed.json()["error"] == "by hand"
    assert admin("POST", "tasks/1", {"state": "FINISHED"}).status_code == 404
    assert admin("POST", f"tasks/{other}", {"state": "DONE"}).status_code == 400


# -- natural errors ---------------------------------------------------------------------------

def test_unknown_and_other_accounts_tasks_do_not_exist(
        make_server: Callable[..., EmulatorServer], tmp_path: Path) -> None:
    other_id = "AKIDOTHERACCOUNT00000000000000000000"
    bundled = json.loads(fixture_path("credentials.json").read_text())
    bundled["accounts"].append({"secret_id": other_id, "secret_key": SECRET_KEY})
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps(bundled))
    emu = make_server(credentials=creds)
    task_id = create(emu.endpoint)["TaskID"]
    assert error_code(lambda: describe(emu.endpoint, "12433580546999111111")) == \
        "FailedOperation.TaskNotExist"
    assert error_code(lambda: describe(emu.endpoint, task_id, secret_id=other_id)) == \
        "FailedOperation.TaskNotExist"
    assert error_code(lambda: call(emu.endpoint, "TerminateSegmentationTask",
                                   {"TaskID": task_id}, secret_id=other_id)) == \
        "FailedOperation.TaskNotExist"


@pytest.mark.parametrize(("params", "code"), [
    ({"VideoUrl": "htttps://x/input.mp4"}, "InvalidParameterValue.UrlIllegal"),
    ({"VideoUrl": VIDEO, "BackgroundImageUrl": "not a url"}, "InvalidParameterValue.UrlIllegal"),
    ({"VideoUrl": "http://192.0.2.1/input.mp4"}, "FailedOperation.DownloadError"),
    ({"VideoUrl": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"},
     "FailedOperation.VideoDecodeFailed"),
    ({}, "MissingParameter"),
])
def test_natural_create_errors(emu: EmulatorServer, params: dict[str, Any], code: str) -> None:
    assert error_code(lambda: call(emu.endpoint, "CreateSegmentationTask", params)) == code


def test_a_video_over_the_size_cap(make_server: Callable[..., EmulatorServer]) -> None:
    emu = make_server(video_max_bytes=1024)
    assert error_code(lambda: create(emu.endpoint)) == "FailedOperation.TooLargeFileError"


def test_only_ap_guangzhou(emu: EmulatorServer) -> None:
    assert error_code(lambda: call(emu.endpoint, "CreateSegmentationTask", {"VideoUrl": VIDEO},
                                   region="ap-beijing")) == "UnsupportedRegion"


def test_queue_and_account_limits(make_server: Callable[..., EmulatorServer]) -> None:
    emu = make_server(task_workers=1, task_queue=1, task_limit=2, task_pace=600.0)
    create(emu.endpoint)  # taken by the worker
    for _ in range(100):
        if AdminApi(emu)("GET", "tasks").json()["tasks"][0]["state"] == "PROCESSING":
            break
        time.sleep(0.02)
    create(emu.endpoint)  # queued: the queue is full now
    assert error_code(lambda: create(emu.endpoint)) == "FailedOperation.JobQueueFull"
    emu2 = make_server(task_workers=1, task_queue=8, task_limit=1, task_pace=600.0)
    create(emu2.endpoint)
    assert error_code(lambda: create(emu2.endpoint)) == "FailedOperation.TaskLimitExceeded"


def test_twenty_requests_per_second_per_action(emu: EmulatorServer) -> None:
    task_id = create(emu.endpoint)["TaskID"]
    codes = []  # 25 calls in well under a second (the window is on the emulator's clock)
    for _ in range(25):
        try:
            describe(emu.endpoint, task_id)
            codes.append("OK")
        except TencentCloudSDKException as err:
            codes.append(str(err.get_code()))
    assert "RequestLimitExceeded" in codes and codes.count("OK") <= 20


# -- drills -----------------------------------------------------------------------------------

def _drill(emu: EmulatorServer, name: str) -> None:
    document = json.loads(fixture_path(f"scenarios/drills/{name}.json").read_text())
    assert AdminApi(emu)("PUT", "scenarios", document).status_code == 201


def test_drill_stuck_job(emu: EmulatorServer) -> None:
    _drill(emu, "stuck-job")
    task_id = create(emu.endpoint)["TaskID"]
    emu.clock.shift(60)
    time.sleep(1.5)
    assert describe(emu.endpoint, task_id)["TaskStatus"] == "PROCESSING"
    jump(emu, task_id, 3600)
    assert wait_finished(emu.endpoint, task_id)["ErrorMsg"] == ""


def test_drill_job_fails_halfway(emu: EmulatorServer) -> None:
    _drill(emu, "job-fails-halfway")
    task_id = create(emu.endpoint)["TaskID"]
    emu.clock.shift(60)
    data = wait_finished(emu.endpoint, task_id)
    assert data["ErrorMsg"].startswith("video error") and data["ResultVideoUrl"] == ""
    assert data["ResultVideoMD5"] == ""


def test_drill_queue_full_then_recover(emu: EmulatorServer) -> None:
    _drill(emu, "queue-full-then-recover")
    codes = [error_code(lambda: create(emu.endpoint)) for _ in range(2)]
    assert codes == ["FailedOperation.JobQueueFull"] * 2
    assert create(emu.endpoint)["TaskID"]


def test_drill_corrupt_result(emu: EmulatorServer) -> None:
    _drill(emu, "corrupt-result")
    task_id = create(emu.endpoint)["TaskID"]
    emu.clock.shift(60)
    data = wait_finished(emu.endpoint, task_id)
    body = requests.get(data["ResultVideoUrl"], timeout=10).content
    assert hashlib.md5(body).hexdigest().upper() != data["ResultVideoMD5"]


def test_result_url_expiring_early(emu: EmulatorServer) -> None:
    rule = {"name": "short", "rules": [{"match": {"action": "CreateSegmentationTask"},
                                        "effect": {"job": {"url_ttl": 5}}}]}
    assert AdminApi(emu)("PUT", "scenarios", rule).status_code == 201
    task_id = create(emu.endpoint)["TaskID"]
    emu.clock.shift(60)
    url = wait_finished(emu.endpoint, task_id)["ResultVideoUrl"]
    assert requests.get(url, timeout=10).status_code == 200
    emu.clock.shift(6)
    expired = requests.get(url, timeout=10)
    assert expired.status_code == 403 and "Request has expired" in expired.text


# -- the Node SDK -----------------------------------------------------------------------------

def test_node_sdk_lifecycle(emu: EmulatorServer) -> None:
    created = node_call(emu.endpoint, "CreateSegmentationTask", {"VideoUrl": VIDEO})
    assert created["ok"], created
    task_id = created["response"]["TaskID"]
    assert isinstance(task_id, str) and len(task_id) == 20  # a string: doubles would round it
    emu.clock.shift(60)
    wait_finished(emu.endpoint, task_id)
    done = node_call(emu.endpoint, "DescribeSegmentationTask", {"TaskID": task_id})
    assert done["ok"] and done["response"]["TaskStatus"] == "FINISHED"
    body = requests.get(done["response"]["ResultVideoUrl"], timeout=10).content
    assert hashlib.md5(body).hexdigest().upper() == done["response"]["ResultVideoMD5"]
    again = node_call(emu.endpoint, "TerminateSegmentationTask", {"TaskID": task_id})
    assert not again["ok"] and again["code"] == "FailedOperation.TerminateTaskFailed"
