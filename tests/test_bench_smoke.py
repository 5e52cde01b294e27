"""Smoke runs of the benchmarks: each ``python -m benchmarks.<name> --quick`` completes and
writes its report (no timings asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADER = ("| scenario | size | concurrency | cached | workers | req/s | p50 ms | p99 ms | errors "
          "| RSS MB |")


def _quick(module: str, out: Path) -> tuple[str, str]:
    """Run one benchmark quickly; its stdout and the report it wrote."""
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--quick", "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, out.read_text(encoding="utf-8")


@pytest.mark.slow
def test_quick_benchmark_prints_table_and_ratios(tmp_path: Path) -> None:
    stdout, report = _quick("bench", tmp_path / "results.md")
    assert HEADER in stdout and "Ratios" in stdout
    assert "| uncached 640x457 server cost / compute floor |" in stdout
    assert HEADER in report and "Ratios" in report and "Machine:" in report


@pytest.mark.slow
def test_quick_hostile_benchmark_reports_each_bound(tmp_path: Path) -> None:
    _, report = _quick("hostile", tmp_path / "hostile.md")
    for what in ("concurrent 9 MB bodies", "worst accepted progressive JPEG",
                 "connections trickle a request head", "maximal hostile unsigned requests"):
        assert what in report, what


@pytest.mark.slow
def test_quick_per_action_benchmark_reports_both_image_actions(tmp_path: Path) -> None:
    _, report = _quick("actions", tmp_path / "actions.md")
    assert "| SegmentCustomizedPortraitPic |" in report and "| SegmentPortraitPic |" in report
