"""Every code block of the README is executed here, so the README cannot go stale.

Blocks are recognised by language and content; a block no check claims fails the suite, so a
new snippet needs a check. ``make test`` itself is the one command not run here: it is this
suite (CI runs it).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from compose_spec import PyCompose

from emulator.resources import fixture_path
from emulator.scenarios.loading import parse
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from tests.test_packaging import _free_port, _wait_healthy

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
          ("python", "never exercised"), ("yaml", "service_healthy"), ("json", '"my/drill"')]


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
        _wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=120)  # type: ignore[arg-type]
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


def test_compose_override_is_valid_compose_with_the_shipped_file() -> None:
    override = PyCompose.from_yaml(_blocks("yaml", "service_healthy")[0]).to_dict()
    shipped = PyCompose.from_yaml((ROOT / "docker-compose.yml").read_text()).to_dict()
    merged = {"services": {**shipped["services"], **override["services"]}}
    assert set(PyCompose.from_json(json.dumps(merged)).service_names()) == {"app",
                                                                            "bda-emulator"}


def test_scenario_example_is_a_valid_scenario() -> None:
    scenario = parse(json.loads(_blocks("json", '"my/drill"')[0]), "README.md")
    assert scenario.name == "my/drill" and len(scenario.rules) == 2


def test_drill_table_names_every_bundled_drill() -> None:
    for path in sorted(fixture_path("scenarios/drills").glob("*.json")):
        assert f"`drills/{path.stem}`" in README


def test_settings_table_names_every_setting() -> None:
    for name in Settings.__dataclass_fields__:
        assert f"BDA_EMULATOR_{name.upper()}" in README, name


def test_commands_in_prose_exist() -> None:
    for command in ("bda-emulator check-scenario", "bda-emulator codes", "make docs"):
        assert command in README
    assert shlex.split("make docs")  # the docs target exists in the Makefile:
    assert "\ndocs:" in (ROOT / "Makefile").read_text()
