"""docker-compose.yml's ``replicas`` profile, end to end in a real container engine.

Builds the images from this checkout (the emulator's, Redis's and the balancer's from
deploy/replicas/, all on the base image of test_compose_e2e), runs
``docker-compose --profile replicas up -d``, waits for the balancer's health check, then, through
the balancer on its published loopback port only: the official Python SDK succeeds; a scenario
rule with ``times: 1`` fires exactly once over requests served by both replicas; an account
created through the balancer signs the following requests, served by both replicas; the journal
read through either replica lists the requests both replicas served; a result Url works through
either replica. Which replica answered is the balancer's ``X-Emulator-Replica`` header (the
replica's address on the Compose network). Everything is removed afterwards (``down -v``),
whatever happens.

Skipped like test_compose_e2e without an engine, a failure with ``BDA_REQUIRE_DOCKER=1``. The
Compose file is used as shipped except for its published host ports (free ones) and the config
mount's source (made absolute); an override adds the base image and this run's image tags.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import tc3_headers
from tests.docker.test_compose_e2e import (
    COMPOSE,
    ROOT,
    SECRET_ID,
    SECRET_KEY,
    SHIPPED_CONFIG,
    SHIPPED_PORT,
    _free_port,
    _run,
    base_image,  # noqa: F401 - the module-scoped fixture, shared
)

PROFILE = "replicas"
BALANCER, REPLICAS, REDIS = "balancer", ("emulator-a", "emulator-b"), "redis"
SHIPPED_BALANCER_PORT = '"127.0.0.1:9528:9528"'
REPLICA_HEADER = "X-Emulator-Replica"
DEPLOY = ROOT / "deploy" / "replicas"
# Tags of this run alone: another checkout's tests on the same engine build the shared
# e2e-test tags from its own code, possibly between this run's build and its up. Removed at the
# end without their parent layers, which stay the build cache of the next run.
TAG = f"e2e-replicas-{os.getpid()}"
IMAGES = {"emulator": f"bda-emulator:{TAG}", REDIS: f"bda-emulator-redis:{TAG}",
          BALANCER: f"bda-emulator-balancer:{TAG}"}
PORTRAIT = base64.b64encode((ROOT / "fixtures/images/portrait.jpg").read_bytes()).decode()

pytestmark = pytest.mark.docker


@dataclass
class Replicas:
    command: list[str]
    port: int  # the balancer's, on the host's loopback
    containers: dict[str, str] = field(default_factory=dict)  # service -> container id
    addresses: dict[str, str] = field(default_factory=dict)  # "ip:9527" -> replica service
    timings: dict[str, float] = field(default_factory=dict)

    def compose(self, *args: str, timeout: float = 120,
                check: bool = True) -> Any:
        return _run([*self.command, *args], timeout, check=check)

    def logs(self) -> str:
        done = self.compose("logs", "--no-color", "--tail", "30", timeout=60, check=False)
        return (done.stdout + done.stderr)[-6000:]

    def health(self, service: str) -> str:
        out = _run(["docker", "inspect", "--format", "{{json .State}}",
                    self.containers[service]], 30)
        state = json.loads(out.stdout)
        if not state.get("Running"):
            return "stopped"
        return str((state.get("Health") or {}).get("Status", "no health check"))


def _timed(stack: Replicas, step: str, start: float) -> None:
    stack.timings[step] = round(time.monotonic() - start, 2)


def _project(tmp: Path, base: str, api_port: int, balancer_port: int, name: str) -> list[str]:
    """The Compose command for the shipped file, copied to ``tmp`` with free published ports
    and an absolute config mount, plus an override: this checkout's builds on ``base`` under
    this run's tags; the profile is on."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert (text.count(SHIPPED_PORT), text.count(SHIPPED_BALANCER_PORT),
            text.count(SHIPPED_CONFIG)) == (1, 1, 1), (
        "docker-compose.yml changed its published ports or config mount: update this test")
    (tmp / "docker-compose.yml").write_text(
        text.replace(SHIPPED_PORT, f'"127.0.0.1:{api_port}:9527"')
            .replace(SHIPPED_BALANCER_PORT, f'"127.0.0.1:{balancer_port}:9528"')
            .replace(SHIPPED_CONFIG, f"source: {ROOT / 'fixtures'}"), encoding="utf-8")
    args = {"BASE_IMAGE": base}
    emulator = {"image": IMAGES["emulator"], "build": {"context": str(ROOT), "args": args}}
    services: dict[str, object] = {
        "bda-emulator": emulator, **dict.fromkeys(REPLICAS, emulator),
        REDIS: {"image": IMAGES[REDIS], "build": {
            "context": str(DEPLOY), "dockerfile": "redis.Dockerfile", "args": args}},
        BALANCER: {"image": IMAGES[BALANCER], "build": {
            "context": str(DEPLOY), "dockerfile": "balancer.Dockerfile", "args": args}}}
    # JSON is YAML
    (tmp / "docker-compose.e2e.yml").write_text(json.dumps({"services": services}),
                                                encoding="utf-8")
    return [*COMPOSE, "--project-name", name, "--project-directory", str(tmp),
            "--file", str(tmp / "docker-compose.yml"),
            "--file", str(tmp / "docker-compose.e2e.yml"), "--profile", PROFILE]


def _wait_healthy(stack: Replicas, service: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while (status := stack.health(service)) != "healthy":
        assert status not in ("unhealthy", "stopped"), f"{service} {status}:\n{stack.logs()}"
        assert time.monotonic() < deadline, (
            f"{service} {status} after {seconds:.0f} s:\n{stack.logs()}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def stack(base_image: str,  # noqa: F811 - the imported fixture
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """The profile built and up, its balancer healthy; ``down -v`` afterwards, whatever
    happens."""
    stack = Replicas(_project(tmp_path_factory.mktemp("replicas"), base_image, _free_port(),
                              port := _free_port(), f"bda-e2e-replicas-{os.getpid()}"), port)
    try:
        start = time.monotonic()
        # one build per image (the replicas share the one-service emulator's)
        stack.compose("build", "bda-emulator", REDIS, BALANCER, timeout=900)
        _timed(stack, "build", start)
        start = time.monotonic()
        # up waits for Redis, then both replicas, to be healthy before the next (depends_on)
        up = stack.compose("up", "--detach", "--no-build", timeout=300, check=False)
        assert up.returncode == 0, f"up exited {up.returncode}:\n{up.stderr[-3000:]}\n" + (
            stack.logs())
        for service in (REDIS, *REPLICAS, BALANCER, "bda-emulator"):
            stack.containers[service] = stack.compose("ps", "-q", service).stdout.strip()
            assert stack.containers[service], f"{service} has no container after up"
        _wait_healthy(stack, BALANCER)
        _timed(stack, "up until the balancer is healthy", start)
        for service in REPLICAS:
            ip = _run(["docker", "inspect", "--format",
                       "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                       stack.containers[service]], 30).stdout.strip()
            stack.addresses[f"{ip}:9527"] = service
        yield stack
    finally:
        start = time.monotonic()
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=120,
                      check=False)
        _timed(stack, "down", start)
        _run(["docker", "rmi", "--no-prune", *IMAGES.values()], 60, check=False)
        print(f"\nreplicas end to end, seconds: {stack.timings}")


@dataclass
class Reply:
    status: int
    replica: str  # the replica service that answered
    body: dict[str, Any]


def _exchange(stack: Replicas, method: str, path: str, body: bytes = b"",
              headers: dict[str, str] | None = None) -> Reply:
    """One request to the balancer on loopback (never through a proxy), on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        address = resp.getheader(REPLICA_HEADER, "")
    finally:
        conn.close()
    assert address in stack.addresses, (
        f"{REPLICA_HEADER}: {address!r} is not a replica of {stack.addresses}")
    return Reply(resp.status, stack.addresses[address], json.loads(data))


def _api(stack: Replicas, action: str, params: dict[str, Any], *,
         secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY,
         extra: dict[str, str] | None = None) -> Reply:
    """An API call signed for the balancer's address (TC3, the emulator's own signer)."""
    body = json.dumps(params).encode()
    headers = tc3_headers(f"127.0.0.1:{stack.port}", body, action=action, secret_id=secret_id,
                          secret_key=secret_key)
    reply = _exchange(stack, "POST", "/", body, {**headers, **(extra or {})})
    assert reply.status == 200, reply
    return reply


def _code(reply: Reply) -> str:
    error = reply.body["Response"].get("Error")
    return str(error["Code"]) if error else "OK"


def _admin(stack: Replicas, method: str, path: str, payload: object = None) -> Reply:
    body = b"" if payload is None else json.dumps(payload).encode()
    return _exchange(stack, method, f"/_emulator{path}", body,
                     {"Content-Type": "application/json"} if body else {})


def _client(stack: Replicas, secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY,
            method: str = "POST") -> Any:
    """The official SDK's client for the balancer's address (plain HTTP, no proxy)."""
    from tencentcloud.bda.v20200324 import bda_client
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    http = HttpProfile(endpoint=f"127.0.0.1:{stack.port}", protocol="http", reqMethod=method,
                       reqTimeout=30)
    return bda_client.BdaClient(credential.Credential(secret_id, secret_key), "ap-guangzhou",
                                ClientProfile(httpProfile=http))


def test_sdk_through_the_balancer(stack: Replicas, monkeypatch: pytest.MonkeyPatch) -> None:
    from tencentcloud.bda.v20200324 import models

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    client = _client(stack)
    for _ in REPLICAS:  # one call each, round-robin
        req = models.SegmentCustomizedPortraitPicRequest()
        req.from_json_string(json.dumps({"Image": PORTRAIT,
                                         "SegmentationOptions": {"Head": True}}))
        start = time.monotonic()
        reply = client.SegmentCustomizedPortraitPic(req)
        _timed(stack, "SDK call", start)
        assert [rect.Label for rect in reply.ImageRects] == ["Head"]
        assert base64.b64decode(reply.PortraitImage, validate=True)
    # a GET carrying the picture in its 60+ KB query reaches a replica, which answers the
    # documented code (nginx's default buffers would answer 414 themselves)
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )

    req = models.SegmentPortraitPicRequest()
    req.from_json_string(json.dumps({"Image": PORTRAIT}))
    with pytest.raises(TencentCloudSDKException) as refused:
        _client(stack, method="GET").SegmentPortraitPic(req)
    assert refused.value.code == "RequestSizeLimitExceeded", refused.value

    # every container of the profile: non-root, inside its own init; Redis keeps nothing on disk
    for service in (REDIS, *REPLICAS, BALANCER):
        inspect = _run(["docker", "inspect", "--format", "{{json .HostConfig.Init}}",
                        stack.containers[service]], 30)
        assert inspect.stdout.strip() == "true", service
        uid = _run(["docker", "exec", stack.containers[service], "id", "-u"], 30).stdout.strip()
        assert uid.isdigit() and uid != "0", (service, uid)
    config = _run(["docker", "exec", stack.containers[REDIS], "redis-cli", "config", "get",
                   "*"], 30).stdout.splitlines()
    settings = dict(zip(config[::2], config[1::2], strict=True))
    assert (settings["save"], settings["appendonly"]) == ("", "no"), settings


def test_times_1_fires_once_across_replicas(stack: Replicas) -> None:
    tag = uuid.uuid4().hex
    scenario = {"name": f"e2e/once-{tag}", "rules": [{
        "name": "once", "match": {"headers": {"x-e2e-run": tag}}, "times": 1,
        "effect": {"error": {"code": "InternalError"}}}]}
    put = _admin(stack, "PUT", "/scenarios", scenario)
    assert put.status == 201, put
    # one scenario for both replicas (with a copy each, `times: 1` would fire twice)
    for _ in REPLICAS:
        listed = _admin(stack, "GET", "/scenarios")
        assert scenario["name"] in json.dumps(listed.body), (listed.replica, listed.body)
    replies = [_api(stack, "SegmentPortraitPic", {"Image": PORTRAIT},
                    extra={"X-E2E-Run": tag}) for _ in range(6)]
    assert {r.replica for r in replies} == set(REPLICAS), [r.replica for r in replies]
    codes = [_code(r) for r in replies]
    assert codes.count("InternalError") == 1 and codes.count("OK") == 5, codes


def test_account_created_through_the_balancer_signs_on_both_replicas(
        stack: Replicas, monkeypatch: pytest.MonkeyPatch) -> None:
    from tencentcloud.bda.v20200324 import models

    created = _admin(stack, "POST", "/accounts", {"name": "replicas e2e"})
    assert created.status == 201, created
    secret_id, secret_key = created.body["secret_id"], created.body["secret_key"]
    replies = [_api(stack, "SegmentPortraitPic", {"Image": PORTRAIT}, secret_id=secret_id,
                    secret_key=secret_key) for _ in range(4)]
    assert {r.replica for r in replies} == set(REPLICAS), [r.replica for r in replies]
    assert [_code(r) for r in replies] == ["OK"] * 4, [r.body for r in replies]

    # and with the official SDK, twice (both replicas again)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    client = _client(stack, secret_id, secret_key)
    for _ in REPLICAS:
        req = models.SegmentPortraitPicRequest()
        req.from_json_string(json.dumps({"Image": PORTRAIT}))
        assert client.SegmentPortraitPic(req).ResultImage

    # both replicas' view of that account's journal: all six calls, all OK
    for _ in REPLICAS:
        journal = _admin(stack, "GET", f"/requests?secret_id={secret_id}")
        assert [e["code"] for e in journal.body["requests"]] == ["OK"] * 6, journal


def test_journal_through_either_replica_lists_both(stack: Replicas) -> None:
    served: dict[str, set[str]] = {service: set() for service in REPLICAS}
    for _ in range(4):
        reply = _api(stack, "SegmentPortraitPic", {"Image": PORTRAIT})
        assert _code(reply) == "OK", reply
        served[reply.replica].add(reply.body["Response"]["RequestId"])
    assert all(served.values()), served
    readers = set()
    for _ in REPLICAS:
        journal = _admin(stack, "GET", "/requests?limit=50")
        assert journal.status == 200, journal
        readers.add(journal.replica)
        listed = {e["request_id"]: e for e in journal.body["requests"]}
        for service, ids in served.items():
            assert ids <= set(listed), (
                f"read through {journal.replica}: requests served by {service} missing: "
                f"{sorted(ids - set(listed))}")
        assert all(listed[i]["code"] == "OK" for ids in served.values() for i in ids)
    assert readers == set(REPLICAS), readers


def test_result_url_through_either_replica(stack: Replicas) -> None:
    reply = _api(stack, "SegmentPortraitPic", {"Image": PORTRAIT, "RspImgType": "url"})
    url = reply.body["Response"]["ResultImageUrl"]
    # named for the balancer's address (it passes the client's Host on)
    prefix = f"http://127.0.0.1:{stack.port}/"
    assert url.startswith(prefix), url
    fetched: dict[str, bytes] = {}
    for _ in REPLICAS:
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
        try:
            conn.request("GET", url.removeprefix(prefix[:-1]))
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        replica = stack.addresses.get(resp.getheader(REPLICA_HEADER, ""), "?")
        assert resp.status == 200, (replica, resp.status, body[:200])
        fetched[replica] = body
    assert set(fetched) == set(REPLICAS), fetched.keys()
    first, second = fetched.values()
    assert first == second and first.startswith(b"\x89PNG"), (first[:8], second[:8])
