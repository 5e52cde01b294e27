"""The command line: serve (logs, graceful SIGTERM), check-scenario, codes, --help."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from emulator.errors import CATALOGUE
from emulator.resources import fixture_path
from emulator.testing import free_port as _free_port
from emulator.testing import wait_healthy
from tests.helpers import SECRET_KEY, bda, segment_request

CLI = [sys.executable, "-m", "emulator"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


def test_help_documents_every_option_and_its_environment_variable() -> None:
    from emulator.settings import env_name, flag_name, specs

    out = _run("serve", "--help").stdout
    for name, _ in specs():  # derived from the settings: every one, flag and variable
        assert env_name(name) in out and flag_name(name) in out, name
    overview = _run("--help").stdout
    assert "check-scenario" in overview and "codes" in overview


def test_codes_lists_every_code_with_both_messages() -> None:
    lines = _run("codes").stdout.strip().splitlines()
    assert lines[0].split("\t") == ["code", "group", "zh-CN", "en-US", "natural input"]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert set(rows) == set(CATALOGUE)
    assert rows["FailedOperation.ImageNotSupported"][1] == "action"
    assert rows["FailedOperation.ImageNotSupported"][2] == "不支持的图片文件。"
    assert "GIF" in rows["FailedOperation.ImageNotSupported"][4]
    assert rows["IpInBlacklist"][4] == "scenario only"


def test_check_scenario_accepts_the_bundled_ones() -> None:
    out = _run("check-scenario", str(fixture_path("scenarios")))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(": ok (") == len(list(fixture_path("scenarios").rglob("*.json")))


def test_check_scenario_points_at_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "rules": [{"effect": {"error": {"code": "Nope"}}}]}))
    out = _run("check-scenario", str(bad), str(fixture_path("scenarios/drills/flaky-10.json")))
    assert out.returncode == 1
    assert str(bad) in out.stderr and "/rules/0/effect/error/code" in out.stderr
    assert "flaky-10.json: ok" in out.stdout


def test_serve_logs_one_json_line_per_request_and_finishes_in_flight_on_sigterm(
        tmp_path: Path) -> None:
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps({"name": "slow",
                                "rules": [{"effect": {"delay": {"seconds": 1.0}}}]}))
    port = _free_port()
    env = {**os.environ, "BDA_EMULATOR_LOG_FORMAT": "json"}
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port), "--scenario", str(slow)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", alive=proc)
        result: dict[str, object] = {}

        def call() -> None:
            result["resp"] = bda(f"127.0.0.1:{port}").SegmentCustomizedPortraitPic(
                segment_request({"Url": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/"
                                        "input.jpeg", "SegmentationOptions": {"Head": True}}))

        worker = threading.Thread(target=call)
        worker.start()
        time.sleep(0.4)  # the request is now in flight, inside its 1 s delay
        proc.send_signal(signal.SIGTERM)
        worker.join(timeout=30)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert getattr(result.get("resp"), "PortraitImage", None), "in-flight request was dropped"
    access = [json.loads(line) for line in err.splitlines()
              if line.startswith("{") and '"bda_emulator.access"' in line]
    assert len(access) == 1
    entry = access[0]
    assert entry["action"] == "SegmentCustomizedPortraitPic" and entry["code"] == "OK"
    assert entry["latency_ms"] >= 1000 and len(entry["request_id"]) == 36
    assert SECRET_KEY not in err and SECRET_KEY not in out


def test_text_log_lines(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([*CLI, "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", alive=proc)
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", data=b"{}", timeout=10).read()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    line = next(x for x in err.splitlines() if "bda_emulator.access" in x)
    # urllib posts a form: the v1 path, whose body "{}" is a malformed form
    assert "code=InvalidParameter" in line and "request_id=" in line


def test_text_log_values_cannot_forge_lines() -> None:
    from emulator.serve.accesslog import line
    from emulator.serve.journal import Entry

    entry = Entry(time=0, request_id="r", code="MissingParameter", latency_ms=1.0,
                  action="X\ncode=OK forged=1", secret_id="a\x0bb c")
    text = line(entry, "text")
    assert "\n" not in text and "\x0b" not in text
    assert 'action="X\\ncode=OK forged=1"' in text and "code=MissingParameter" in text
    assert text.count(" code=") == 1
