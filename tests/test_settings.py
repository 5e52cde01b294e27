"""Configuration: defaults, environment, flags, and errors naming the setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from emulator.settings import Settings, SettingsError


def test_defaults() -> None:
    s = Settings.load(environ={})
    assert (s.host, s.port, s.signature_ttl) == ("127.0.0.1", 9527, 300)
    assert s.credentials_path.name == "credentials.json"


def test_environment_then_flags() -> None:
    env = {"BDA_EMULATOR_HOST": "0.0.0.0", "BDA_EMULATOR_PORT": "9000",
           "BDA_EMULATOR_URL_ALLOWED_HOSTS": "a.example, B.example"}
    s = Settings.load(environ=env, overrides={"port": "9100", "host": None})
    assert (s.host, s.port) == ("0.0.0.0", 9100)
    assert s.url_allowed_hosts == ("a.example", "b.example")


@pytest.mark.parametrize(("env", "named"), [
    ({"BDA_EMULATOR_PORT": "http"}, "BDA_EMULATOR_PORT"),
    ({"BDA_EMULATOR_PORT": "70000"}, "BDA_EMULATOR_PORT"),
    ({"BDA_EMULATOR_CREDENTIALS": "/nonexistent.json"}, "BDA_EMULATOR_CREDENTIALS"),
    ({"BDA_EMULATOR_URL_ALLOW_PRIVATE": "perhaps"}, "BDA_EMULATOR_URL_ALLOW_PRIVATE"),
])
def test_bad_values_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.load(environ=env)


def test_cli_fails_at_start_naming_the_setting(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "emulator", "--port", "notaport"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "BDA_EMULATOR_PORT" in out.stderr and "--port" in out.stderr


def test_cli_rejects_invalid_credentials_file(tmp_path: Path) -> None:
    bad = tmp_path / "creds.json"
    bad.write_text('{"accounts": [{"secret_id": "x"}]}')
    out = subprocess.run([sys.executable, "-m", "emulator", "--credentials", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert str(bad) in out.stderr and "secret_key" in out.stderr
