"""Smoke run of the benchmarks: `python -m benchmarks.bench --quick` (and `benchmarks.hostile`)
completes and reports (no timings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADER = ("| scenario | size | concurrency | cached | workers | req/s | p50 ms | p99 ms | errors "
          "| RSS MB |")


@pytest.mark.slow
def test_quick_benchmark_prints_table_and_ratios(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert HEADER in proc.stdout
    assert "Ratios" in proc.stdout
    assert "| uncached 640x457 server cost / compute floor |" in proc.stdout
    report = out.read_text(encoding="utf-8")
    assert HEADER in report and "Ratios" in report and "Machine:" in report


@pytest.mark.slow
def test_quick_hostile_benchmark_reports_each_bound(tmp_path: Path) -> None:
    out = tmp_path / "hostile.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.hostile", "--quick", "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = out.read_text(encoding="utf-8")
    for what in ("concurrent 9 MB bodies", "worst accepted progressive JPEG",
                 "connections trickle a request head", "maximal hostile unsigned requests"):
        assert what in report, what


@pytest.mark.slow
def test_quick_per_action_benchmark_reports_both_image_actions(tmp_path: Path) -> None:
    out = tmp_path / "actions.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.actions", "--quick", "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = out.read_text(encoding="utf-8")
    assert "| SegmentCustomizedPortraitPic |" in report and "| SegmentPortraitPic |" in report
