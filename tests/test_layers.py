"""The package's layers: import-linter's contracts (pyproject.toml) hold, and can fail; only
``emulator/serve/`` imports ``aiohttp.web`` (import-linter sees external packages only whole)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "emulator"
LINT = Path(sys.executable).with_name("lint-imports")


def _web_importers() -> list[str]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                     [f"{node.module}.{alias.name}" for alias in node.names]
                     if isinstance(node, ast.ImportFrom) and node.module else [])
            if any(name == "aiohttp.web" or name.startswith("aiohttp.web.") or
                   name.startswith("aiohttp.web_") for name in names):
                found.append(path.relative_to(ROOT).as_posix())
    return sorted(set(found))


def test_only_serve_imports_aiohttp_web() -> None:
    outside = [p for p in _web_importers() if not p.startswith("emulator/serve/")]
    assert outside == []
    assert "emulator/serve/app.py" in _web_importers()  # the check does see imports


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml")], cwd=root,
                          capture_output=True, text=True, timeout=120, check=False)


def test_layer_contracts_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert " broken" in result.stdout and "0 broken" in result.stdout


def test_a_layer_violation_breaks_a_contract(tmp_path: Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "emulator",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "emulator" / "wire" / "leak.py").write_text("import emulator.serve.app\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "wire is the API contract only" in result.stdout and "BROKEN" in result.stdout
