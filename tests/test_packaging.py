"""Packaging: the wheel carries fixtures and schemas; the container's start command and health
check work; docker-compose.yml is valid Compose (checked by a strict Compose-spec parser)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from compose_spec import PyCompose

from emulator.testing import free_port as _free_port
from emulator.testing import wait_healthy

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent




@contextmanager
def _serving(command: list[str], env: dict[str, str], port: int,
             cwd: Path | None = None) -> Iterator[None]:
    """Run ``command`` until healthy; on exit, SIGTERM must end it with status 0."""
    with subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE) as proc:
        try:
            wait_healthy(f"http://127.0.0.1:{port}", alive=proc)
            yield
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err.decode()


def _compose(name: str = "docker-compose.yml") -> dict:  # type: ignore[type-arg]
    return PyCompose.from_yaml((ROOT / name).read_text()).to_dict()


def _started_by_default(compose: PyCompose) -> set[str]:
    """The services `up` starts without --profile."""
    services = compose.to_dict()["services"]
    return {name for name in compose.service_names() if not services[name].get("profiles")}


def test_compose_file_is_valid_compose() -> None:
    shipped = PyCompose.from_yaml((ROOT / "docker-compose.yml").read_text())
    shipped.validate()  # networks and volumes the services use are declared
    compose = shipped.to_dict()
    service = compose["services"]["bda-emulator"]
    # published on the host's loopback only (no LAN access to scenario control or the fetcher)
    assert service["ports"] == ["127.0.0.1:9527:9527"]
    assert service["environment"]["BDA_EMULATOR_HOST"] == "0.0.0.0"
    volume = service["volumes"][0]
    assert volume["read_only"] is True and volume["target"] == "/config"
    assert service["healthcheck"]["test"][:2] == ["CMD", "python"]
    assert "curl" not in json.dumps(service["healthcheck"])


def test_compose_service_is_the_production_host_names_over_https() -> None:
    from emulator.serve.tls import PRODUCTION_NAMES

    compose = _compose()
    service = compose["services"]["bda-emulator"]
    env = service["environment"]
    # HTTPS where a client with no endpoint connects (443), as the non-root user
    assert env["BDA_EMULATOR_TLS_PORT"] == "443"
    assert service["sysctls"] == {"net.ipv4.ip_unprivileged_port_start": 0}
    # the other services on the default network resolve the production names to it, and its
    # certificate covers every one of them (and its service name)
    aliases = service["networks"]["default"]["aliases"]
    assert {"bda.tencentcloudapi.com", "bda.tencentcloudapi.com.cn", "bda.tencentcloudapi.cn",
            "bda.ap-guangzhou.tencentcloudapi.com"} <= set(aliases)
    assert set(aliases) <= set(PRODUCTION_NAMES)
    assert env["BDA_EMULATOR_TLS_NAMES"] == "bda-emulator"
    # the CA lives in a named volume (the same CA after restarts and `down`), not in the
    # container; the image makes that directory for its non-root user
    tls = [v for v in service["volumes"] if v["target"] == env["BDA_EMULATOR_TLS_DIR"]]
    assert [(v["type"], v["source"]) for v in tls] == [("volume", "bda-emulator-tls")]
    assert "bda-emulator-tls" in compose["volumes"]
    assert f"-o emulator -g emulator -m 0755 {env['BDA_EMULATOR_TLS_DIR']}" in (
        ROOT / "Dockerfile").read_text()
    # plain HTTP stays published on loopback only; HTTPS is not published at all
    assert not any(":443" in port for port in service["ports"])


def test_example_app_override_is_valid_compose_with_the_shipped_file() -> None:
    shipped, override = _compose(), _compose("docker-compose.example-app.yml")
    merged = PyCompose.from_json(json.dumps({
        **shipped, "services": {**shipped["services"], **override["services"]}}))
    merged.validate()
    assert _started_by_default(merged) == {"bda-emulator", "example-app"}
    app = override["services"]["example-app"]
    assert (ROOT / app["build"] / "Dockerfile").is_file()
    assert app["depends_on"] == {"bda-emulator": {"condition": "service_healthy"}}
    env = app["environment"]
    # the SDK's defaults: no endpoint, no protocol; only the CA's address and the default keys
    assert env["BDA_EMULATOR_CA_URL"] == "http://bda-emulator:9527/_emulator/ca.pem"
    assert not [name for name in env if "ENDPOINT" in name or "PROXY" in name.upper()]
    assert (env["TENCENTCLOUD_SECRET_ID"], env["TENCENTCLOUD_SECRET_KEY"]) == (
        "AKIDEMULATOR000000000000000000000000", "emulatorsecretkey000000000000000")
    code = (ROOT / app["build"] / "app.py").read_text()
    assert "HttpProfile" not in code and "endpoint=" not in code


def test_compose_replicas_profile_is_redis_two_replicas_and_a_balancer() -> None:
    shipped = PyCompose.from_yaml((ROOT / "docker-compose.yml").read_text())
    assert _started_by_default(shipped) == {"bda-emulator"}  # `up` without the profile
    services = shipped.to_dict()["services"]
    profile = {name for name, service in services.items() if service.get("profiles")}
    assert profile == {"redis", "emulator-a", "emulator-b", "balancer"}
    assert all(services[name]["profiles"] == ["replicas"] for name in profile)
    assert all(services[name]["init"] is True and services[name]["healthcheck"]
               for name in profile)
    default = services["bda-emulator"]
    for name in ("emulator-a", "emulator-b"):
        replica = services[name]
        # the same image, config mount and health check as the one-service emulator
        assert (replica["image"], replica["build"]) == (default["image"], default["build"])
        assert replica["volumes"] == default["volumes"][:1]
        assert replica["healthcheck"] == default["healthcheck"]
        assert replica["environment"]["BDA_EMULATOR_STATE"] == "redis://redis:6379/0"
        assert replica["depends_on"] == {"redis": {"condition": "service_healthy"}}
        assert "ports" not in replica
    assert "ports" not in services["redis"]
    balancer = services["balancer"]
    # loopback only, on a port of its own: the one-service emulator keeps 9527
    assert balancer["ports"] == ["127.0.0.1:9528:9528"]
    assert balancer["depends_on"] == {name: {"condition": "service_healthy"}
                                      for name in ("emulator-a", "emulator-b")}
    for name in ("redis", "balancer"):
        build = services[name]["build"]
        dockerfile = (ROOT / build["context"] / build["dockerfile"]).read_text()
        # the emulator's base image (no Docker Hub needed but for it), a non-root user
        assert "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n" in dockerfile, name
        assert "\nUSER " in dockerfile and "\nUSER root" not in dockerfile, name
    nginx = (ROOT / "deploy/replicas/nginx.conf").read_text()
    assert "server emulator-a:9527" in nginx and "server emulator-b:9527" in nginx
    # the signature covers Host; a replayed request would count twice against `times`
    assert "proxy_set_header Host $http_host;" in nginx
    assert "proxy_next_upstream off;" in nginx
    # no limits below the emulator's own (which answer with the documented codes)
    assert "client_max_body_size 0;" in nginx and "large_client_header_buffers 4 1m;" in nginx
    # no persistence
    redis = (ROOT / "deploy/replicas/redis.Dockerfile").read_text()
    assert '"--save", ""' in redis and '"--appendonly", "no"' in redis


def test_compose_validator_is_strict() -> None:
    with pytest.raises(ValueError):
        PyCompose.from_yaml("services:\n  x:\n    image: a\n    healthcheck:\n"
                            "      interval: soon\n")


def _dockerfile() -> tuple[dict[str, str], list[str]]:
    """ENV and ENTRYPOINT + CMD of the final stage."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    command: list[str] = []
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "FROM":
            env, command = {}, []
        elif word == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(rest))
        elif word in ("ENTRYPOINT", "CMD"):
            command += json.loads(rest)
    return env, command


def test_image_start_command_and_health_check_work_locally() -> None:
    env, command = _dockerfile()
    assert command == ["bda-emulator", "serve"]
    port = _free_port()
    env.update(BDA_EMULATOR_HOST="127.0.0.1", BDA_EMULATOR_PORT=str(port))  # loopback in tests
    with _serving([str(BIN / command[0]), *command[1:]], {**os.environ, **env}, port):
        check = _compose()["services"]["bda-emulator"]["healthcheck"]["test"][1:]
        check = [part.replace("9527", str(port)) for part in check]
        check[0] = sys.executable
        assert subprocess.run(check, timeout=10).returncode == 0


def test_wheel_carries_data_and_runs_from_an_install(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(tmp_path / "dist"), str(ROOT)], check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("bda_emulator-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("emulator/_data/fixtures/credentials.json", "emulator/_data/fixtures/urls.json",
                   "emulator/_data/fixtures/images/portrait.jpg",
                   "emulator/_data/schemas/SegmentCustomizedPortraitPic.request.schema.json",
                   "emulator/_data/schemas/credentials.schema.json", "emulator/py.typed",
                   "emulator/_data/fixtures/video/sample.mp4",
                   "emulator/serve/static/dashboard.html", "emulator/serve/static/dashboard.css",
                   "emulator/serve/static/dashboard.js"):
        assert needed in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = ("import emulator.resources as r; print(r.__file__); "
             "print(r.data_dir('fixtures')); print(r.data_dir('schemas'))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         cwd=tmp_path, text=True, check=True).stdout.split()
    assert all(line.startswith(str(target)) for line in out), out
    port = _free_port()
    with _serving([sys.executable, "-m", "emulator", "--port", str(port)], env, port, tmp_path):
        from tests.helpers import bda, segment_request
        resp = bda(f"127.0.0.1:{port}").SegmentCustomizedPortraitPic(segment_request({
            "Url": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg",
            "SegmentationOptions": {"Head": True}}))
        assert resp.ImageRects[0].Label == "Head"
