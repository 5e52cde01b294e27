"""Smoke run of the soak test: `python -m benchmarks.soak --quick` passes (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_soak_has_no_unexpected_reply_and_the_journal_agrees(tmp_path: Path) -> None:
    out, summary = tmp_path / "soak-results.md", tmp_path / "soak.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.soak", "--quick",
                           "--out", str(out), "--summary", str(summary)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(summary.read_text(encoding="utf-8"))
    assert figures["unexpected"] == 0, figures["first_unexpected"]
    assert figures["journal_agrees"], figures["journal_problems"]
    assert figures["replies"] == figures["sent"] == figures["requests"]
    assert figures["journal"]["recorded"] == figures["sent"]
    classes = figures["classes"]
    assert classes["success"] and classes["expected natural error"] and classes["injected fault"]
    report = out.read_text(encoding="utf-8")
    assert "| UNEXPECTED replies | 0 | 0 | yes |" in report
    assert "| journal agrees with the client | yes | yes | yes |" in report
