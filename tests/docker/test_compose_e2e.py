"""The image and the Compose service, end to end in a real container engine.

Builds the image from this checkout (Dockerfile + .dockerignore) through docker-compose.yml,
starts the service, waits for its health check, calls it with the official Python SDK on the
published loopback port, checks that it runs as non-root and stops at once, then removes
everything (``down -v``). A second test runs docker-compose.yml with
docker-compose.example-app.yml: the example app (examples/app/, its own image on the same base)
trusts the emulator's CA and calls ``https://bda.tencentcloudapi.com`` with the SDK's defaults,
which the emulator's network alias and HTTPS on 443 answer. A third checks that the build
context stays small.

Needs ``docker`` answering ``docker info`` and ``docker-compose`` (Debian's 1.29, or the
``docker compose`` plugin). Docker Hub is not needed: ``tests/docker/base-image.sh`` makes the
base image with debootstrap (as root, cached under ~/.cache/bda-emulator);
``BDA_DOCKER_BASE_IMAGE=python:3.11-slim`` uses a pulled image instead. Without an engine the
tests are skipped, unless ``BDA_REQUIRE_DOCKER=1`` (set by .ci/run) makes that a failure.
The Compose files are used as shipped except for the published host port (a free one) and the
config mount's source (made absolute); an override adds the base image and test-only tags
(bda-emulator:e2e-test, bda-emulator-example-app:e2e-test). Each project has its own name, so
no stack of yours is touched.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SERVICE = "bda-emulator"
IMAGE = "bda-emulator:e2e-test"
APP, APP_FILE = "example-app", "docker-compose.example-app.yml"
APP_IMAGE = "bda-emulator-example-app:e2e-test"
SHIPPED_PORT = '"127.0.0.1:9527:9527"'
SHIPPED_CONFIG = "source: ./fixtures"
SECRET_ID = "AKIDEMULATOR000000000000000000000000"
SECRET_KEY = "emulatorsecretkey000000000000000"
NO_ENGINE = "no container engine: install docker.io and start dockerd (CI does)"
REQUIRED = os.environ.get("BDA_REQUIRE_DOCKER") == "1"
BASE_IMAGE = os.environ.get("BDA_DOCKER_BASE_IMAGE", "")

pytestmark = pytest.mark.docker


def _env() -> dict[str, str]:
    """This environment without COMPOSE_* settings (project, files, profiles) of the caller's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}


def _run(args: list[str], timeout: float, *, check: bool = True,
         stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=_env(),
                              input=stdin, stdin=None if stdin else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(args)}: no answer in {timeout:.0f} s") from exc
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def _answers(args: list[str]) -> bool:
    try:
        return _run(args, 20, check=False).returncode == 0
    except AssertionError:  # no answer in time
        return False


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if _answers(["docker", "compose", "version"]):
        return ["docker", "compose"]
    return []


def _why_unavailable() -> str:
    """Why these tests cannot run here, or "" (a few fast probes, at collection)."""
    if shutil.which("docker") is None or not _answers(["docker", "info"]):
        return NO_ENGINE
    if not COMPOSE:
        return "no docker-compose: install docker-compose (CI does)"
    if not BASE_IMAGE:
        check = _run(["bash", str(HERE / "base-image.sh"), "--check"], 60, check=False)
        if check.returncode != 0:
            return (f"no base image ({check.stderr.strip()}): run tests/docker/base-image.sh as "
                    "root once, or set BDA_DOCKER_BASE_IMAGE=python:3.11-slim")
    return ""


COMPOSE = _compose_command() if shutil.which("docker") else []
UNAVAILABLE = _why_unavailable()
if UNAVAILABLE and not REQUIRED:
    pytest.skip(UNAVAILABLE, allow_module_level=True)  # one line in the summary


@pytest.fixture(scope="module")
def base_image() -> str:
    """The Dockerfile's BASE_IMAGE: made by base-image.sh unless BDA_DOCKER_BASE_IMAGE names one."""
    if UNAVAILABLE:  # and BDA_REQUIRE_DOCKER=1, as in CI
        pytest.fail(f"BDA_REQUIRE_DOCKER=1 but {UNAVAILABLE}", pytrace=False)
    if BASE_IMAGE:
        return BASE_IMAGE
    made = _run(["bash", str(HERE / "base-image.sh")], 900, check=False)
    assert made.returncode == 0, f"base-image.sh failed:\n{made.stderr[-3000:]}"
    return made.stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    command: list[str]
    port: int
    container: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def compose(self, *args: str, timeout: float = 120,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run([*self.command, *args], timeout, check=check)

    def state(self) -> dict[str, object]:
        out = _run(["docker", "inspect", "--format", "{{json .State}}", self.container], 30)
        return dict(json.loads(out.stdout))

    def health(self) -> str:
        state = self.state()
        if not state.get("Running"):
            return "stopped"
        return str(dict(state.get("Health") or {}).get("Status", "no health check"))

    def logs(self) -> str:
        done = _run(["docker", "logs", "--tail", "40", self.container], 30, check=False)
        return done.stdout + done.stderr


def _timed(stack: Stack, step: str, start: float) -> None:
    stack.timings[step] = round(time.monotonic() - start, 2)


def _project(tmp: Path, base_image: str, port: int, name: str, *,
             app: bool = False) -> list[str]:
    """The Compose command for the shipped file, copied to ``tmp`` with its published port set
    to ``port`` and its config mount's source made absolute (and, if ``app``, the example app's
    override file as shipped), plus a last override: the builds from this checkout, on the
    base image, under test-only tags."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert text.count(SHIPPED_PORT) == 1 and text.count(SHIPPED_CONFIG) == 1, (
        "docker-compose.yml changed its published port or config mount: update this test")
    (tmp / "docker-compose.yml").write_text(
        text.replace(SHIPPED_PORT, f'"127.0.0.1:{port}:9527"')
            .replace(SHIPPED_CONFIG, f"source: {ROOT / 'fixtures'}"), encoding="utf-8")
    # the `replicas` profile's build contexts: docker-compose 1.29 checks that they exist even
    # when the profile is off
    (tmp / "deploy").symlink_to(ROOT / "deploy", target_is_directory=True)
    files = ["docker-compose.yml"]
    services: dict[str, object] = {SERVICE: {
        "image": IMAGE, "build": {"context": str(ROOT), "args": {"BASE_IMAGE": base_image}}}}
    if app:
        shutil.copyfile(ROOT / APP_FILE, tmp / APP_FILE)
        files.append(APP_FILE)
        services[APP] = {"image": APP_IMAGE, "build": {
            "context": str(ROOT / "examples" / "app"), "args": {"BASE_IMAGE": base_image}}}
    # JSON is YAML
    (tmp / "docker-compose.e2e.yml").write_text(json.dumps({"services": services}),
                                                encoding="utf-8")
    files.append("docker-compose.e2e.yml")
    return [*COMPOSE, "--project-name", name, "--project-directory", str(tmp),
            *(arg for file in files for arg in ("--file", str(tmp / file)))]


def _wait_healthy(stack: Stack, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while (status := stack.health()) != "healthy":  # the image's own health check
        assert status not in ("unhealthy", "stopped"), f"{status}:\n{stack.logs()}"
        assert time.monotonic() < deadline, f"{status} after {seconds:.0f} s:\n{stack.logs()}"
        time.sleep(0.25)


def _down(stack: Stack) -> None:
    start = time.monotonic()
    _run([*stack.command, "down", "--volumes", "--remove-orphans", "--timeout", "10"], 120,
         check=False)
    _timed(stack, "down", start)


@pytest.fixture(scope="module")
def stack(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shipped Compose service, built and healthy; ``down -v`` afterwards, whatever happens."""
    port = _free_port()
    command = _project(tmp_path_factory.mktemp("compose"), base_image, port,
                       f"bda-e2e-{os.getpid()}")
    stack = Stack(command, port)
    try:
        start = time.monotonic()
        stack.compose("build", timeout=900)
        _timed(stack, "build", start)
        start = time.monotonic()
        stack.compose("up", "--detach", "--no-build")
        stack.container = stack.compose("ps", "-q", SERVICE).stdout.strip()
        assert stack.container, "the service has no container after up"
        _wait_healthy(stack)
        _timed(stack, "up until healthy", start)
        yield stack
    finally:
        _down(stack)
        print(f"\ncompose end to end, seconds: {stack.timings}")


def _bda_client(port: int) -> object:
    from tencentcloud.bda.v20200324 import bda_client
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    http = HttpProfile(endpoint=f"127.0.0.1:{port}", protocol="http", reqTimeout=30)
    return bda_client.BdaClient(credential.Credential(SECRET_ID, SECRET_KEY), "ap-guangzhou",
                                ClientProfile(httpProfile=http))


def test_compose_service_end_to_end(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from tencentcloud.bda.v20200324 import models

    # loopback only: never through a proxy from the environment
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(f"http://127.0.0.1:{stack.port}/_emulator/health", timeout=10) as resp:
        assert resp.status == 200

    # the official SDK, unmodified but for the endpoint, on the published port
    image = base64.b64encode((ROOT / "fixtures/images/portrait.jpg").read_bytes()).decode()
    req = models.SegmentCustomizedPortraitPicRequest()
    req.from_json_string(json.dumps({"Image": image, "SegmentationOptions": {"Head": True}}))
    start = time.monotonic()
    reply = _bda_client(stack.port).SegmentCustomizedPortraitPic(req)  # type: ignore[attr-defined]
    _timed(stack, "SDK call", start)
    assert [rect.Label for rect in reply.ImageRects] == ["Head"]
    assert base64.b64decode(reply.PortraitImage, validate=True)
    assert reply.RequestId

    # non-root, inside its own init
    inspect = _run(["docker", "inspect", "--format",
                    "{{json .Config.User}} {{json .HostConfig.Init}}", stack.container], 30)
    assert inspect.stdout.split() == ['"emulator"', "true"]
    uid = _run(["docker", "exec", stack.container, "id", "-u"], 30).stdout.strip()
    assert uid.isdigit() and uid != "0", uid

    # SIGTERM through the init ends it at once and cleanly (not the SIGKILL after the grace)
    start = time.monotonic()
    _run(["docker", "stop", "--time", "10", stack.container], 30)
    _timed(stack, "stop", start)
    state = stack.state()
    assert state["ExitCode"] == 0, f"exit {state['ExitCode']}:\n{stack.logs()}"
    assert stack.timings["stop"] < 5, stack.timings


def _get(port: int, path: str) -> bytes:
    """GET on the published loopback port, never through a proxy from the environment."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return bytes(resp.read())


def _ca_after_restart(stack: Stack, seconds: float = 60) -> bytes:
    """The CA the emulator serves once it answers again (a new CA would be made at once)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return _get(stack.port, "/_emulator/ca.pem")
        except (OSError, http.client.HTTPException) as exc:  # not up yet, or 5xx while starting
            assert time.monotonic() < deadline, f"no CA after {seconds:.0f} s: {exc}"
            time.sleep(0.25)


def test_example_app_calls_production_name_unmodified(
        base_image: str, tmp_path: Path) -> None:
    """docker-compose.yml + docker-compose.example-app.yml as shipped: the app container trusts
    the emulator's CA and, with the SDK's defaults (https://bda.tencentcloudapi.com, resolved
    by the emulator's network alias), completes SegmentPortraitPic and exits 0; the journal
    shows the call; the same app without the trust step is refused; the CA survives the
    emulator container's replacement (it lives in the named volume)."""
    port = _free_port()
    stack = Stack(_project(tmp_path, base_image, port, f"bda-e2e-app-{os.getpid()}", app=True),
                  port)
    try:
        start = time.monotonic()
        stack.compose("build", timeout=900)
        _timed(stack, "build", start)
        start = time.monotonic()
        # `up` starts the app once the emulator is healthy (depends_on: service_healthy)
        up = stack.compose("up", "--detach", "--no-build", timeout=180, check=False)
        stack.container = stack.compose("ps", "-q", SERVICE).stdout.strip()
        assert up.returncode == 0, f"up exited {up.returncode}:\n{up.stderr[-3000:]}\n" + (
            stack.logs() if stack.container else "")
        app = stack.compose("ps", "-q", APP).stdout.strip()
        assert stack.container and app, "no container after up"
        code = _run(["docker", "wait", app], 120).stdout.strip()
        _timed(stack, "up until the app exited", start)
        logs = _run(["docker", "logs", app], 30)
        assert code == "0", f"the app exited {code}:\n{logs.stdout}\n{logs.stderr}\n{stack.logs()}"
        assert "trusts the emulator's CA" in logs.stderr, logs.stderr
        result = json.loads(logs.stdout.strip().splitlines()[-1])
        assert result["Action"] == "SegmentPortraitPic" and result["ResultImageBytes"] > 0

        # the journal, on the published loopback port: this very request, answered OK
        journal = json.loads(_get(port, "/_emulator/requests"))["requests"]
        entry = next((e for e in journal if e["request_id"] == result["RequestId"]), None)
        assert entry is not None, journal
        assert (entry["action"], entry["code"], entry["secret_id"], entry["region"]) == (
            "SegmentPortraitPic", "OK", SECRET_ID, "ap-guangzhou"), entry

        # the same application without the trust step: the name resolves, TLS is refused
        start = time.monotonic()
        bare = stack.compose("run", "--rm", "-T", "--no-deps", "--entrypoint", "python", APP,
                             "/opt/app/app.py", timeout=120, check=False)
        _timed(stack, "app without the CA", start)
        assert bare.returncode != 0, bare.stdout
        assert "CERTIFICATE_VERIFY_FAILED" in bare.stdout + bare.stderr, bare.stderr[-3000:]
        assert "bda.tencentcloudapi.com" in bare.stdout + bare.stderr, bare.stderr[-3000:]

        # the CA is in the named volume: a new container serves the same one
        ca = _get(port, "/_emulator/ca.pem")
        assert ca.startswith(b"-----BEGIN CERTIFICATE-----"), ca[:100]
        start = time.monotonic()
        stack.compose("up", "--detach", "--no-build", "--no-deps", "--force-recreate", SERVICE,
                      timeout=120)
        recreated = stack.compose("ps", "-q", SERVICE).stdout.strip()
        assert recreated and recreated != stack.container
        stack.container = recreated
        assert _ca_after_restart(stack) == ca
        _timed(stack, "recreate, same CA", start)
    finally:
        _down(stack)
        print(f"\nexample app end to end, seconds: {stack.timings}")


def test_build_context_leaves_out_venv_git_and_caches(base_image: str) -> None:
    """What .dockerignore lets into the build context, listed from inside a throwaway build."""
    dockerfile = f"FROM {base_image}\nCOPY . /context\n"
    tag = f"bda-emulator:e2e-context-{os.getpid()}"
    _run(["docker", "build", "--quiet", "--tag", tag, "--file", "-", str(ROOT)], 300,
         stdin=dockerfile)
    try:
        listing = _run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "find",
                        tag, "/context", "-type", "f", "-printf", "%s %P\\n"], 60).stdout
    finally:
        _run(["docker", "rmi", "--force", tag], 60, check=False)
    files = {path: int(size) for size, path in (line.split(" ", 1)
                                                for line in listing.splitlines())}
    tops = {path.split("/", 1)[0] for path in files}
    assert tops == {"pyproject.toml", "README.md", "emulator", "schemas", "fixtures"}, tops
    assert not [path for path in files if "__pycache__" in path or path.endswith(".pyc")]
    assert sum(files.values()) < 20_000_000, sum(files.values())
