"""Every code block of the README is executed here, so the README cannot go stale.

Blocks are recognised by language and content; a block no check claims fails the suite, so a
new snippet needs a check. ``make test`` itself is the one command not run here: it is this
suite (CI runs it).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from compose_spec import PyCompose

from emulator.resources import fixture_path
from emulator.scenarios.loading import parse
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from emulator.testing import SECRET_ID, SECRET_KEY, wait_healthy
from emulator.testing import free_port as _free_port

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, re.M | re.S)


def _blocks(lang: str, needle: str) -> list[str]:
    found = [code for kind, code in BLOCKS if kind == lang and needle in code]
    assert found, f"no {lang} block containing {needle!r} in the README"
    return found


CLAIMS = [("sh", "make run"), ("sh", "bda-emulator serve --port 9527"),
          ("sh", "--scenario fixtures/scenarios/drills/flaky-10.json"),
          ("python", "print(resp.ImageRects[0].Label"), ("python", "def test_cutout"),
          ("python", "never exercised"), ("yaml", "service_healthy"), ("json", '"my/drill"'),
          # run as written in a fresh virtualenv by tests/test_install.py (slow):
          ("sh", "pip install tencentcloud-sdk-python-bda"), ("sh", "bda-emulator[sdk] @ file://"),
          ("text", "QUEUING ──"), ("python", "def test_retries_once"),
          ("python", "def test_a_wrong_secret_key_is_explained"),
          ("sh", "--proxy-port 9529"), ("python", "def test_production_code_path"),
          ("sh", "docker-compose.example-app.yml up"), ("yaml", "bda-ca:"),
          ("sh", "--profile replicas up"), ("sh", "--processes 2")]


def test_every_block_is_checked() -> None:
    for kind, code in BLOCKS:
        assert any(kind == k and needle in code for k, needle in CLAIMS), (
            f"README block without a check in tests/test_readme.py:\n{code}")


@contextlib.contextmanager
def _serving(command: str, port: int) -> Iterator[None]:
    """Run a README shell command (in its own process group) until healthy, then SIGTERM."""
    proc = subprocess.Popen(command, shell=True, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", 120, alive=proc)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode in (0, -signal.SIGTERM, 2), err.decode()


def _commands(code: str) -> list[str]:
    return [line.split("#")[0].strip() for line in code.splitlines()
            if line.strip() and not line.startswith("#")]


def test_quick_start_make_run_serves() -> None:
    lines = _commands(_blocks("sh", "make run")[0])
    assert lines == ["make run", "make test"]
    port = _free_port()
    with _serving(f"make run PORT={port}", port):
        pass


def test_running_it_commands_serve() -> None:
    for line in _commands(_blocks("sh", "bda-emulator serve --port 9527")[0]):
        port = _free_port()
        line = line.replace(".venv/bin/", f"{BIN}/").replace("9527", str(port))
        line = line.replace("9600", str(port))
        if "python -m emulator" in line:
            continue
        with _serving(line, port):
            pass


def test_several_processes_block_serves_one_emulator(tmp_path: Path) -> None:
    """The README's two lines, on free ports: a Redis without persistence, then 2 processes
    on one port that agree on a scenario put through either (``times: 1`` acts once)."""
    from tests.realservers import require

    require("redis")
    start_redis, serve = _commands(_blocks("sh", "--processes 2")[0])[:2]
    redis_port, port = _free_port(), _free_port()
    redis = subprocess.Popen(start_redis.replace("6379", str(redis_port)).rstrip("& "),
                             shell=True, cwd=tmp_path, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        command = serve.replace("6379", str(redis_port)).replace(
            "bda-emulator", f"{BIN}/bda-emulator", 1) + f" --port {port}"
        with _serving(command, port):
            url = f"http://127.0.0.1:{port}/_emulator"
            rule = {"name": "once", "rules": [{"times": 1, "effect": {"error": {
                "code": "InternalError"}}}]}
            assert requests.put(f"{url}/scenarios", json=rule, timeout=10).status_code == 201
            with requests.Session() as session:
                for _ in range(6):  # new connections: the kernel spreads them over both
                    session.get(f"http://127.0.0.1:{port}/", timeout=10,
                                headers={"Connection": "close"})
            described = requests.get(f"{url}/scenarios", timeout=10).json()["scenarios"]
            assert described[0]["requests"] == 6 and described[0]["rules"][0]["hits"] == 1
            assert requests.get(f"{url}/requests", timeout=10).json()["count"] == 6
    finally:
        os.killpg(redis.pid, signal.SIGTERM)
        redis.wait(timeout=30)


def _exec(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    return out.getvalue()


def test_quick_start_python(server: EmulatorServer) -> None:
    code = _blocks("python", "print(resp.ImageRects[0].Label")[0]
    out = _exec(code.replace("127.0.0.1:9527", server.endpoint))
    label, portrait, mask = out.split()
    assert label == "Head" and int(portrait) > 1000 and int(mask) > 1000


def test_pytest_guide(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_guide=_blocks("python", "def test_cutout")[0])
    result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_fault_drill_guide() -> None:
    command = _commands(_blocks("sh", "drills/flaky-10.json")[0])[0]
    port = _free_port()
    command = command.replace(".venv/bin/", f"{BIN}/") + f" --port {port}"
    with _serving(command, port):
        code = _blocks("python", "never exercised")[0]
        out = _exec(code.replace("127.0.0.1:9527", f"127.0.0.1:{port}"))
    summary = out.strip().splitlines()
    assert any(line.startswith("failed: InternalError") for line in summary)  # seeded: same run
    assert "30 requests," in summary[-2] and "never exercised:" in summary[-1]


def _started_by_default(compose: dict[str, Any]) -> set[str]:
    """The services of a valid Compose file that `up` starts without --profile."""
    services = compose["services"]
    return {name for name in PyCompose.from_json(json.dumps(compose)).service_names()
            if not services[name].get("profiles")}


def test_compose_override_is_valid_compose_with_the_shipped_file() -> None:
    override = PyCompose.from_yaml(_blocks("yaml", "service_healthy")[0]).to_dict()
    shipped = PyCompose.from_yaml((ROOT / "docker-compose.yml").read_text()).to_dict()
    merged = {"services": {**shipped["services"], **override["services"]}}
    assert _started_by_default(merged) == {"app", "bda-emulator"}


def test_scenario_example_is_a_valid_scenario() -> None:
    scenario = parse(json.loads(_blocks("json", '"my/drill"')[0]), "README.md")
    assert scenario.name == "my/drill" and len(scenario.rules) == 2


def test_drill_table_names_every_bundled_drill() -> None:
    for path in sorted(fixture_path("scenarios/drills").glob("*.json")):
        assert f"`drills/{path.stem}`" in README


def test_settings_table_names_every_setting() -> None:
    from emulator.settings import env_name, flag_name, specs

    rows = [line for line in README.splitlines() if line.startswith("| `--")]
    for name, _ in specs():  # one row per setting, naming its flag and its variable
        row = [r for r in rows if f"`{env_name(name)}`" in r]
        assert len(row) == 1, name
        assert f"`{flag_name(name)}" in row[0] or name == "scenarios", name


def test_commands_in_prose_exist() -> None:
    for command in ("bda-emulator check-scenario", "bda-emulator codes", "make docs"):
        assert command in README
    assert shlex.split("make docs")  # the docs target exists in the Makefile:
    assert "\ndocs:" in (ROOT / "Makefile").read_text()


# -- troubleshooting: each symptom is what the client really sees, each fix works --------------

def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _trouble_row(needle: str) -> str:
    (row,) = [r for r in _section("Troubleshooting").splitlines() if needle in r]
    return row


def _sdk_client(endpoint: str, **profile: Any) -> Any:
    from tencentcloud.bda.v20200324 import bda_client
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    http = HttpProfile(endpoint=endpoint, protocol=profile.pop("protocol", None), reqTimeout=10)
    return bda_client.BdaClient(credential.Credential(SECRET_ID, SECRET_KEY), "ap-guangzhou",
                                ClientProfile(httpProfile=http, **profile))


def _segment(client: Any, params: dict[str, Any]) -> Any:
    from tencentcloud.bda.v20200324 import models

    req = models.SegmentCustomizedPortraitPicRequest()
    req.from_json_string(json.dumps(params))
    return client.SegmentCustomizedPortraitPic(req)


def _sdk_error(client: Any, params: dict[str, Any]) -> Any:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )

    with pytest.raises(TencentCloudSDKException) as info:
        _segment(client, params)
    return info.value


HEAD = {"Url": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg",
        "SegmentationOptions": {"Head": True}}


def test_troubleshooting_https_against_the_plain_http_port(
        caplog: pytest.LogCaptureFixture) -> None:
    row = _trouble_row("WRONG_VERSION_NUMBER")
    symptom, warning = re.findall(r"`([^`]*WRONG_VERSION_NUMBER[^`]*|TLS handshake[^`]*)`", row)
    with caplog.at_level(logging.WARNING, logger="bda_emulator"), \
            EmulatorServer(Settings(port=0, workers=1)) as srv:  # a fresh one: warns at once
        err = _sdk_error(_sdk_client(srv.endpoint), HEAD)  # the SDK's default: https
        assert err.code == "ClientNetworkError" and symptom in err.message, err.message
        assert 'protocol="http"' in row
        assert _segment(_sdk_client(srv.endpoint, protocol="http"), HEAD).MaskImage
        deadline = time.monotonic() + 5
        while not any(warning in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "no warning about the TLS handshake"
            time.sleep(0.05)


def test_troubleshooting_tccli_puts_the_scheme_in_the_endpoint(server: EmulatorServer) -> None:
    assert "`--endpoint http://127.0.0.1:9527`" in _trouble_row("tccli: ")
    # tccli passes --endpoint to the Python SDK's HttpProfile(endpoint=...) and signs HmacSHA256
    client = _sdk_client("http://" + server.endpoint, signMethod="HmacSHA256")
    assert _segment(client, HEAD).MaskImage
    assert 'protocol: "http://"' in _trouble_row("Node SDK")


def test_troubleshooting_the_python_sdk_defaults_to_chinese(server: EmulatorServer) -> None:
    row = _trouble_row("Error messages in Chinese")
    assert 'language="en-US"' in row
    params = {"Url": HEAD["Url"]}  # no SegmentationOptions: MissingParameter
    chinese = _sdk_error(_sdk_client(server.endpoint, protocol="http"), params)
    english = _sdk_error(_sdk_client(server.endpoint, protocol="http", language="en-US"), params)
    assert chinese.message == "缺少必要参数`SegmentationOptions`。"
    assert english.message == ("The request is missing a required parameter "
                               "`SegmentationOptions`.")


def test_troubleshooting_port_in_use() -> None:
    symptom = re.search(r"`(bda-emulator: [^`]*already in use)[^`]*`",
                        _trouble_row("already in use"))
    assert symptom is not None
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([str(BIN / "bda-emulator"), "serve", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert symptom.group(1).replace("9527", str(port)) in result.stderr, result.stderr


def test_credentials_section_quotes_the_real_messages(tmp_path: Path) -> None:
    from emulator.wire.credentials import Credentials, CredentialsError

    section = README.split("### Credentials file", 1)[1].split("\n## ", 1)[0]
    quoted = re.search(r"`\.\.\.: (at /accounts/3/secret_id: SecretId 'AKID\.\.\.' [^`]*)`",
                       section)
    assert quoted is not None and "**replaces** the bundled accounts" in section
    accounts = [{"secret_id": f"AKID{i}", "secret_key": "k"} for i in range(3)]
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"accounts": [*accounts, accounts[0]]}), encoding="utf-8")
    with pytest.raises(CredentialsError) as info:
        Credentials.load(path)
    assert str(info.value) == f"{path}: " + quoted.group(1).replace("AKID...", "AKID0")


# -- contributing: the layout and the steps of adding an action match the code ----------------

def test_layout_names_every_package_folder() -> None:
    section = _section("Contributing")
    named = set(re.findall(r"^\| `emulator/(\w+)/` \|", section, re.M))
    folders = {p.parent.name for p in (ROOT / "emulator").glob("*/__init__.py")}
    assert named == folders
    lint = (ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "lint-imports" in lint and "`lint-imports`" in section
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert contracts["contracts"] and "`[tool.importlinter]`" in section


def test_adding_an_action_steps_match_the_code(tmp_path: Path) -> None:
    import inspect

    from emulator.actions import registry
    from emulator.actions import segment_customized_portrait_pic as example

    section = _section("Contributing").split("### Adding an action", 1)[1]
    for path in re.findall(r"`((?:emulator|scripts|schemas|tests)/[^`<>]*)`", section):
        assert (ROOT / path).exists(), path
    assert registry.ACTIONS[example.ACTION].handler is example.handle
    assert list(inspect.signature(example.handle).parameters) == ["services", "call", "raw",
                                                                  "directives"]
    assert ("async def handle(services: Services, call: Call, raw: RawRequest, "
            "directives: Directives) -> Outcome") in section
    # the generator writes both schemas of every action of the vendored description
    command = re.search(r"`python (scripts/gen_schemas\.py)`", section)
    assert command is not None
    subprocess.run([sys.executable, command.group(1), "--out-dir", str(tmp_path)], cwd=ROOT,
                   check=True, capture_output=True, timeout=60)
    api = json.loads((ROOT / "schemas" / "source" / "api.json").read_text(encoding="utf-8"))
    for action in api["actions"]:
        for kind in ("request", "response"):
            assert (tmp_path / f"{action}.{kind}.schema.json").is_file(), (action, kind)


def test_task_lifecycle_diagram_names_real_states_and_codes() -> None:
    from emulator.errors import CATALOGUE
    from emulator.state.tasks import STATES

    (diagram,) = _blocks("text", "QUEUING ──")
    for state in STATES:
        assert state in diagram
    named = set(re.findall(r"\b([A-Z][A-Za-z]+(?:Error|Full|Exceeded|Failed|Illegal|Conflict))\b",
                           diagram))
    assert named and all(any(code.endswith("." + name) or code == name for code in CATALOGUE)
                         for name in named), named


def test_parallel_guide_runs_with_four_workers_against_one_emulator(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    from emulator.serve.server import EmulatorServer
    from emulator.settings import Settings

    (guide,) = _blocks("python", "def test_retries_once")
    with EmulatorServer(Settings(port=0, workers=2)) as shared:
        monkeypatch.setenv("BDA_EMULATOR_URL", shared.url)
        pytester.makepyfile(test_parallel_guide=guide)
        result = pytester.runpytest_subprocess("-n", "4", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)


def test_rejection_guide_runs_as_written(pytester: pytest.Pytester) -> None:
    (guide,) = _blocks("python", "def test_a_wrong_secret_key_is_explained")
    pytester.makepyfile(test_rejection_guide=guide)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*string to sign*"])


def test_intercept_guide_runs_as_written(pytester: pytest.Pytester) -> None:
    (guide,) = _blocks("python", "def test_production_code_path")
    pytester.makepyfile(test_intercept_guide=guide)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_proxy_guide_command_serves(tmp_path: Path) -> None:
    from emulator.testing import free_port

    (block,) = _blocks("sh", "--proxy-port 9529")
    command = block.splitlines()[0].split("&")[0].strip()
    ports = {"9529": str(free_port()), "9528": str(free_port()), "9527": str(free_port())}
    for old, new in ports.items():
        command = command.replace(old, new)
    command += f" --port {ports['9527']} --tls-dir {tmp_path}"
    with _serving(command, int(ports["9527"])):
        import requests

        pem = requests.get(f"http://127.0.0.1:{ports['9527']}/_emulator/ca.pem", timeout=10)
        assert pem.status_code == 200 and (tmp_path / "ca.pem").read_bytes() == pem.content


def test_example_app_commands_name_real_files() -> None:
    (block,) = _blocks("sh", "docker-compose.example-app.yml up")
    for name in re.findall(r"-f (\S+)", block):
        assert (ROOT / name).is_file(), name
    assert (ROOT / "examples" / "app" / "trust-emulator-ca.sh").is_file()


def test_ca_trust_override_is_valid_compose_with_the_shipped_file() -> None:
    override = PyCompose.from_yaml(_blocks("yaml", "bda-ca:")[0]).to_dict()
    shipped = PyCompose.from_yaml((ROOT / "docker-compose.yml").read_text()).to_dict()
    merged = {**shipped, "services": {**shipped["services"], **override["services"]},
              "volumes": {**shipped.get("volumes", {}), **override.get("volumes", {})}}
    assert _started_by_default(merged) == {"app", "bda-ca", "node-app", "bda-emulator"}


def test_replicas_commands_name_the_shipped_profile_and_port() -> None:
    (block,) = _blocks("sh", "--profile replicas up")
    services = PyCompose.from_yaml((ROOT / "docker-compose.yml").read_text()).to_dict()[
        "services"]
    for profile in re.findall(r"--profile (\S+)", block):
        assert [name for name, service in services.items()
                if profile in service.get("profiles", [])], profile
    assert "127.0.0.1:9528:9528" in services["balancer"]["ports"]
    assert "**`127.0.0.1:9528`**" in README
