"""The command line as a newcomer meets it: per-command help, --version, -p, --port 0 with the
bound port printed and written, bundled scenario names, and start failures naming the setting."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

import emulator
from emulator.testing import free_port, wait_healthy

CLI = [sys.executable, "-m", "emulator"]


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_each_command_has_its_own_help() -> None:
    helps = {cmd: _run(cmd, "--help").stdout for cmd in ("serve", "check-scenario", "codes")}
    assert "--read-timeout" in helps["serve"] and "--read-timeout" not in helps["codes"]
    assert "FILE" in helps["check-scenario"] and "--port" not in helps["check-scenario"]
    assert "tab-separated" in helps["codes"]
    assert len(set(helps.values())) == 3


def test_version() -> None:
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip().startswith("bda-emulator " +
                                                                emulator.__version__)


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.terminate()
    return proc.communicate(timeout=20)


def test_short_port_flag_without_a_command_serves() -> None:
    port = free_port()
    proc = _serve("-p", str(port))
    try:
        wait_healthy(f"http://127.0.0.1:{port}", alive=proc)
    finally:
        out, err = _stop(proc)
    assert f"listening on http://127.0.0.1:{port}" in out, err


def test_port_zero_prints_and_writes_the_bound_port(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    proc = _serve("serve", "--port", "0", "--port-file", str(port_file))
    try:
        for _ in range(400):
            if port_file.exists() and port_file.read_text().strip():
                break
            assert proc.poll() is None
            subprocess.run(["sleep", "0.05"], check=True)
        port = int(port_file.read_text())
        assert port > 0
        wait_healthy(f"http://127.0.0.1:{port}", alive=proc)
    finally:
        out, _ = _stop(proc)
    assert f"listening on http://127.0.0.1:{port}\n" in out and ":0\n" not in out


def test_port_in_use_names_the_setting() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        out = _run("--port", str(busy.getsockname()[1]))
    assert out.returncode == 2
    assert "BDA_EMULATOR_PORT (--port)" in out.stderr and "already in use" in out.stderr
    assert "Traceback" not in out.stderr and "Errno" not in out.stderr


def test_unknown_host_names_the_setting() -> None:
    out = _run("--host", "no-such-host.invalid", "--port", "0")
    assert out.returncode == 2
    assert "BDA_EMULATOR_HOST (--host)" in out.stderr and "Traceback" not in out.stderr


def test_bundled_scenario_names_work_on_the_command_line() -> None:
    port = free_port()
    proc = _serve("--scenario", "drills/flaky-10", "--port", str(port))
    try:
        wait_healthy(f"http://127.0.0.1:{port}", alive=proc)
        import requests

        listing = requests.get(f"http://127.0.0.1:{port}/_emulator/scenarios", timeout=5).json()
        assert [s["name"] for s in listing["scenarios"]] == ["drills/flaky-10"]
    finally:
        _stop(proc)
    assert _run("check-scenario", "drills/flaky-10").returncode == 0


def test_check_scenario_on_an_empty_folder_fails(tmp_path: Path) -> None:
    out = _run("check-scenario", str(tmp_path))
    assert out.returncode == 1 and "no scenario files" in out.stderr


@pytest.mark.parametrize("env", [{"BDA_EMULATOR_PORT": "http"}])
def test_bad_environment_is_one_line(env: dict[str, str]) -> None:
    import os

    out = subprocess.run(CLI, capture_output=True, text=True, timeout=60, check=False,
                         env={**os.environ, **env})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "bda-emulator: BDA_EMULATOR_PORT (--port): cannot read 'http'"]


def test_make_run_passes_flags_only_when_asked() -> None:
    root = Path(__file__).resolve().parent.parent

    def command(*args: str) -> str:
        out = subprocess.run(["make", "-s", "--no-print-directory", "-n", "run", *args], cwd=root,
                             capture_output=True,
                             text=True, timeout=60, check=True)
        return out.stdout.strip().splitlines()[-1]

    assert command().endswith("serve")  # so BDA_EMULATOR_PORT=9600 make run is honoured
    assert command("PORT=9600").endswith("serve --port 9600")
    assert command("HOST=0.0.0.0").endswith("serve --host 0.0.0.0")


def test_a_tls_handshake_on_the_plain_port_is_one_clear_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    import ssl

    from emulator.serve.server import EmulatorServer
    from emulator.settings import Settings

    with EmulatorServer(Settings(port=0, workers=1)) as srv, \
            caplog.at_level("WARNING", logger="bda_emulator.edge"):
        context = ssl.create_default_context()
        for _ in range(3):
            with socket.create_connection((srv.host, srv.port), timeout=5) as raw, \
                    pytest.raises((ssl.SSLError, ConnectionError)):
                context.wrap_socket(raw, server_hostname="localhost")
    lines = [r.getMessage() for r in caplog.records if "TLS handshake" in r.getMessage()]
    assert len(lines) >= 1 and 'protocol "http"' in lines[0]
    assert len(lines) <= 2  # throttled: the first at once, the rest counted at shutdown
