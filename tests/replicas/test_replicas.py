"""Two replicas — two ``bda-emulator serve`` on two ports, one Redis, one prefix — behind nginx
(round-robin) behave like one emulator: result Urls and task videos are served by either,
tasks created on one are described, fetched and terminated through the other, one journal and
one coverage, and the admin API's accounts, scenarios, clock and reset act on both whichever
replica they went through. ``r1`` and ``r2`` are the replicas' own ports, ``lb`` the
balancer's; every wait is bounded (by a count of polls) and no assertion is about time.

(The contract modules that run on this topology — tests/contract/conftest.py — check the rest
of the contract through the balancer.)"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.realservers import Deployment, Emulator, Nginx, RedisServer
from tests.replicas.calls import (
    CUSTOMIZED,
    PORTRAIT,
    VIDEO,
    Reply,
    admin,
    journal,
    rule_hits,
    sdk,
)
from tests.replicas.conftest import new_prefix

CUSTOM, PORTRAIT_PIC = "SegmentCustomizedPortraitPic", "SegmentPortraitPic"
CREATE, DESCRIBE, TERMINATE = ("CreateSegmentationTask", "DescribeSegmentationTask",
                               "TerminateSegmentationTask")


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = Deployment("replicas", redis_server, tmp_path_factory.mktemp("pair"),
                            new_prefix("pair"), {"workers": 1, "task_pace": 1.0}).start()
    yield deployment
    deployment.stop()


@pytest.fixture
def replicas(pair: Deployment) -> tuple[Emulator, Emulator, Nginx]:
    """The pair at its start state (reset through the second replica before each test)."""
    first, second = pair.emulators
    admin(second.url, "POST", "reset")
    assert pair.balancer is not None
    return first, second, pair.balancer


def _get(url: str) -> bytes:
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200, (url, resp.status_code, resp.text[:200])
    return resp.content


def _rebase(url: str, base: str) -> str:
    """The same result Url on another host:port."""
    path = url.split("/", 3)[3]
    return f"{base}/{path}"


def _ok(reply: Reply) -> Reply:
    assert reply.code == "OK", reply
    return reply


def test_both_replicas_serve_one_journal_and_one_coverage(
        replicas: tuple[Emulator, Emulator, Nginx]) -> None:
    r1, r2, lb = replicas
    before = lb.upstreams_used("POST")
    ids = [_ok(sdk(lb.endpoint, PORTRAIT_PIC, {"Image": PORTRAIT})).request_id for _ in range(6)]
    ids += [sdk(r1.endpoint, CUSTOM, CUSTOMIZED).request_id for _ in range(2)]
    ids += [sdk(r2.endpoint, PORTRAIT_PIC, {"Image": "bm90IGFuIGltYWdl"}).request_id]
    used = lb.upstreams_used("POST") - before
    assert set(used) == {r1.endpoint, r2.endpoint}, used  # the balancer used both
    seen_by_r1 = [e["request_id"] for e in journal(r1.url)]
    assert seen_by_r1 == [e["request_id"] for e in journal(r2.url)]
    assert sorted(seen_by_r1) == sorted(str(i) for i in ids)
    coverage = admin(r1.url, "GET", "coverage")
    assert coverage == admin(r2.url, "GET", "coverage")
    assert (coverage["requests"], coverage["ok"]) == (9, 8)
    assert coverage["returned"] == {"FailedOperation.ImageDecodeFailed": 1}


def test_outputs_and_result_urls_are_the_same_through_either_replica(
        replicas: tuple[Emulator, Emulator, Nginx]) -> None:
    r1, r2, lb = replicas
    assert sdk(r1.endpoint, CUSTOM, CUSTOMIZED).data["PortraitImage"] == \
        sdk(r2.endpoint, CUSTOM, CUSTOMIZED).data["PortraitImage"]
    inline = _ok(sdk(lb.endpoint, PORTRAIT_PIC, {"Image": PORTRAIT})).data
    expected = {"ResultImageUrl": base64.b64decode(inline["ResultImage"]),
                "ResultMaskUrl": base64.b64decode(inline["ResultMask"])}
    before = lb.upstreams_used("GET", "/_results/")
    for _ in range(2):  # round-robin: one made by each replica
        data = _ok(sdk(lb.endpoint, PORTRAIT_PIC, {"Image": PORTRAIT, "RspImgType": "url"})).data
        for field, body in expected.items():
            url = data[field]
            assert url.startswith(f"{lb.url}/_results/"), url
            for fetched in (url, url, _rebase(url, r1.url), _rebase(url, r2.url)):
                assert _get(fetched) == body, fetched
    used = lb.upstreams_used("GET", "/_results/") - before
    assert set(used) == {r1.endpoint, r2.endpoint}, used


def _wait_finished(endpoint: str, task_id: str, polls: int = 300) -> dict[str, object]:
    for _ in range(polls):  # 0.1 s apart, like a client with a deadline
        data = _ok(sdk(endpoint, DESCRIBE, {"TaskID": task_id})).data
        if data["TaskStatus"] == "FINISHED":
            return data
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} not FINISHED after {polls} polls")


def test_a_task_created_on_one_replica_is_served_by_the_other(
        replicas: tuple[Emulator, Emulator, Nginx]) -> None:
    r1, r2, lb = replicas
    task_id = _ok(sdk(r1.endpoint, CREATE, {"VideoUrl": VIDEO})).data["TaskID"]
    assert _ok(sdk(r2.endpoint, DESCRIBE, {"TaskID": task_id})).data["TaskStatus"] in \
        ("QUEUING", "PROCESSING", "FINISHED")
    admin(r1.url, "POST", "clock", {"offset": 60})  # past the emulated processing time
    try:
        done = _wait_finished(r2.endpoint, task_id)
    finally:
        admin(r2.url, "POST", "clock", {"reset": True})
    url = str(done["ResultVideoUrl"])
    assert done["ErrorMsg"] == "" and url.startswith(f"{r2.url}/_results/"), done
    bodies = {fetched: _get(fetched) for fetched in
              (url, _rebase(url, r1.url), _rebase(url, lb.url), _rebase(url, lb.url))}
    assert {hashlib.md5(b).hexdigest().upper() for b in bodies.values()} == \
        {done["ResultVideoMD5"]}
    assert _ok(sdk(lb.endpoint, DESCRIBE, {"TaskID": task_id})).data["ResultVideoMD5"] == \
        done["ResultVideoMD5"]
    assert sdk(r1.endpoint, TERMINATE, {"TaskID": task_id}).code == \
        "FailedOperation.TerminateTaskFailed"  # finished: whichever replica is asked

    running = _ok(sdk(r1.endpoint, CREATE, {"VideoUrl": VIDEO})).data["TaskID"]
    _ok(sdk(r2.endpoint, TERMINATE, {"TaskID": running}))
    ended = _wait_finished(r1.endpoint, running)
    assert ended["ErrorMsg"] == "task terminated" and ended["ResultVideoUrl"] == "", ended
    tasks = {t["task_id"]: t for t in admin(r2.url, "GET", "tasks")["tasks"]}
    assert set(tasks) == {task_id, running}
    states = [(e["action"], e["task_id"]) for e in journal(r1.url) if e["task_id"]]
    assert (CREATE, running) in states and (TERMINATE, running) in states


def test_an_account_created_through_one_replica_works_through_the_other(
        replicas: tuple[Emulator, Emulator, Nginx]) -> None:
    r1, r2, lb = replicas
    account = admin(r1.url, "POST", "accounts", {"name": "replicas"})
    keys = {"secret_id": account["secret_id"], "secret_key": account["secret_key"]}
    assert [sdk(e, CUSTOM, CUSTOMIZED, **keys).code
            for e in (r2.endpoint, lb.endpoint, lb.endpoint)] == ["OK"] * 3
    scoped = {"name": "mine", "rules": [{"effect": {"error": {"code": "FailedOperation.RpcFail"}}}]}
    admin(r2.url, "PUT", "scenarios", scoped, account=account["secret_id"])
    assert sdk(r1.endpoint, CUSTOM, CUSTOMIZED, **keys).code == "FailedOperation.RpcFail"
    assert sdk(r1.endpoint, CUSTOM, CUSTOMIZED).code == "OK"  # the default account: unaffected
    assert [e["code"] for e in journal(r2.url, account=account["secret_id"])] == \
        ["OK", "OK", "OK", "FailedOperation.RpcFail"]
    admin(r2.url, "DELETE", f"accounts/{account['secret_id']}")
    assert sdk(r1.endpoint, CUSTOM, CUSTOMIZED, **keys).code == "AuthFailure.SecretIdNotFound"


def test_a_scenario_put_through_one_replica_acts_on_the_other(
        replicas: tuple[Emulator, Emulator, Nginx]) -> None:
    r1, r2, lb = replicas
    twice = {"name": "twice", "rules": [{"name": "busy", "times": 2, "effect": {
        "error": {"code": "FailedOperation.ServerError"}}}]}
    assert admin(r1.url, "PUT", "scenarios", twice)["status"] == "created"
    codes = [sdk(r2.endpoint, CUSTOM, CUSTOMIZED).code for _ in range(2)]
    codes += [sdk(lb.endpoint, CUSTOM, CUSTOMIZED).code for _ in range(2)]
    assert codes == ["FailedOperation.ServerError"] * 2 + ["OK"] * 2
    assert rule_hits(r1.url, "twice") == {"busy": 2}
    admin(r2.url, "DELETE", "scenarios/twice")
    assert admin(r1.url, "GET", "scenarios")["scenarios"] == []


def test_a_clock_shift_through_one_replica_is_seen_by_the_other(
        replicas: tuple[Emulator, Emulator, Nginx]) -> None:
    r1, r2, lb = replicas
    admin(r1.url, "POST", "clock", {"offset": 3600})
    assert admin(r2.url, "GET", "clock")["offset"] == pytest.approx(3600)
    # the SDK signs with the wall clock: an hour away from the emulator's is expired
    assert [sdk(e, CUSTOM, CUSTOMIZED).code for e in (r2.endpoint, lb.endpoint, lb.endpoint)] \
        == ["AuthFailure.SignatureExpire"] * 3
    admin(r2.url, "POST", "clock", {"reset": True})
    assert admin(r1.url, "GET", "clock")["offset"] == 0
    assert sdk(r1.endpoint, CUSTOM, CUSTOMIZED).code == "OK"


def test_a_reset_through_one_replica_is_seen_by_both(
        replicas: tuple[Emulator, Emulator, Nginx]) -> None:
    r1, r2, lb = replicas
    boom = {"name": "boom", "rules": [{"effect": {"error": {"code": "FailedOperation.RpcFail"}}}]}
    admin(r1.url, "PUT", "scenarios", boom)
    assert sdk(lb.endpoint, CUSTOM, CUSTOMIZED).code == "FailedOperation.RpcFail"
    admin(r2.url, "POST", "clock", {"offset": 120})
    admin(r1.url, "DELETE", "scenarios")
    _ok(sdk(r2.endpoint, CREATE, {"VideoUrl": VIDEO}))
    admin(r2.url, "POST", "reset")
    for emu in (r1, r2):
        assert journal(emu.url) == [], emu.name
        assert admin(emu.url, "GET", "scenarios")["scenarios"] == [], emu.name
        assert admin(emu.url, "GET", "tasks")["tasks"] == [], emu.name
        assert admin(emu.url, "GET", "clock")["offset"] == 0, emu.name
        coverage = admin(emu.url, "GET", "coverage")
        assert (coverage["requests"], coverage["returned"]) == (0, {}), emu.name


def test_another_prefix_on_the_same_redis_is_another_emulator(
        replicas: tuple[Emulator, Emulator, Nginx], redis_server: RedisServer,
        start_emulator: Callable[..., Emulator]) -> None:
    r1, r2, _ = replicas
    boom = {"name": "boom", "rules": [{"effect": {"error": {"code": "FailedOperation.RpcFail"}}}]}
    admin(r1.url, "PUT", "scenarios", boom)
    assert sdk(r2.endpoint, CUSTOM, CUSTOMIZED).code == "FailedOperation.RpcFail"
    other = start_emulator(["--state", redis_server.url(), "--state-prefix", new_prefix("other"),
                            "--workers", "1"], name="other")
    assert admin(other.url, "GET", "scenarios")["scenarios"] == []
    assert journal(other.url) == []
    assert sdk(other.endpoint, CUSTOM, CUSTOMIZED).code == "OK"
    assert [e["code"] for e in journal(r1.url)] == ["FailedOperation.RpcFail"]
