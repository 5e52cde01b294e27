"""The README's install steps, run as written in a fresh virtualenv, so they cannot go stale.

A new virtualenv gets the quick start's SDK install and must then run the quick start example;
then the pytest guide's ``pip install 'bda-emulator[sdk] @ file://...'`` (this checkout) and
pytest, and the guide's example test file, exactly as the README shows it, must pass in a
project folder of its own — the plugin found through its entry point, nothing configured.
pip reaches the package index (as in CI) and uses its cache; on a warm cache this takes about
20 s.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.serve.server import EmulatorServer
from tests.test_readme import _blocks, _commands

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PIP_TIMEOUT = 300


def _env() -> dict[str, str]:
    """This process's environment without what would leak the repo or a remote emulator in."""
    return {name: value for name, value in os.environ.items()
            if name not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
            and not name.startswith(("BDA_EMULATOR_", "PYTEST_"))}


def _run(args: list[str], cwd: Path, timeout: float = PIP_TIMEOUT) -> str:
    result = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, f"{shlex.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_readme_install_steps_in_a_fresh_virtualenv(tmp_path: Path,
                                                    server: EmulatorServer) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, timeout=120)
    python = str(venv / "bin" / "python")

    # Quick start: the SDK alone makes the example run (no ModuleNotFoundError).
    (line,) = _commands(_blocks("sh", "pip install tencentcloud-sdk-python-bda")[0])
    assert line.startswith(".venv/bin/pip install ")
    _run([*shlex.split(line.replace(".venv/bin/", f"{venv}/bin/")), "--quiet"], tmp_path)
    example = _blocks("python", "print(resp.ImageRects[0].Label")[0]
    out = _run([python, "-c", example.replace("127.0.0.1:9527", server.endpoint)], tmp_path,
               timeout=60)
    label, portrait, mask = out.split()
    assert label == "Head" and int(portrait) > 1000 and int(mask) > 1000

    # pytest guide: the emulator from this checkout with the sdk extra, into another project.
    (line,) = _commands(_blocks("sh", "bda-emulator[sdk] @ file://")[0])
    args = shlex.split(line.replace("/path/to/bda-emulator", str(ROOT)))
    assert args[:2] == ["pip", "install"]
    _run([python, "-m", "pip", *args[1:], f"pytest=={pytest.__version__}", "--quiet"],
         tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    installed = _run([python, "-c", "import emulator; print(emulator.__file__)"], project, 60)
    assert installed.strip().startswith(str(venv)), installed  # not this checkout's files
    (project / "test_guide.py").write_text(_blocks("python", "def test_cutout")[0],
                                           encoding="utf-8")
    out = _run([python, "-m", "pytest", "-q", "--strict-markers", "-p", "no:cacheprovider"],
               project, timeout=120)
    assert "2 passed" in out, out
