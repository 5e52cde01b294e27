"""Smoke runs of the benchmarks: each ``python -m benchmarks.<name> --quick`` completes and
writes its report (no timings asserted)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADER = ("| scenario | size | concurrency | cached | workers | req/s | p50 ms | p99 ms | errors "
          "| RSS MB |")


def _quick(module: str, out: Path, *extra: str) -> tuple[str, str]:
    """Run one benchmark quickly; its stdout and the report it wrote."""
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--quick", "--out",
                           str(out), *extra], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, out.read_text(encoding="utf-8")


@pytest.mark.slow
def test_quick_benchmark_prints_table_and_ratios(tmp_path: Path) -> None:
    # the shared-state cells: only the in-memory one here (the Redis ones: the next test)
    stdout, report = _quick("bench", tmp_path / "results.md", "--state-configs", "memory-1")
    assert HEADER in stdout and "Ratios" in stdout
    assert "| uncached 640x457 server cost / compute floor |" in stdout
    assert "/ one bare aiohttp process (issue 17) |" in stdout
    assert HEADER in report and "Ratios" in report and "Machine:" in report
    assert "| memory | 1 | yes | 16 |" in report


@pytest.mark.slow
def test_quick_shared_state_cells_measure_redis_and_two_processes(tmp_path: Path) -> None:
    """The shared-state cells against a real redis-server the benchmark starts itself:
    a few requests per cell, every cell measured without an error."""
    if shutil.which("redis-server") is None and not Path("/usr/bin/redis-server").exists():
        if os.environ.get("BDA_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is not installed and BDA_REQUIRE_REDIS=1")
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    _, report = _quick("bench", tmp_path / "state.md", "--state-only", "--state-configs",
                       "memory-1,redis-1,redis-2")
    assert "not measured" not in report and "first error" not in report, report
    for cells in ("| memory | 1 | no | 1 |", "| Redis | 1 | no | 16 |", "| Redis | 1 | yes | 64 |",
                  "| Redis | 2 | no | 64 |", "| Redis | 2 | yes | 16 |"):
        assert cells in report, cells
    assert "Cost of the Redis store per request" in report


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


def test_quick_result_files_benchmark_times_redis_and_a_folder(tmp_path: Path) -> None:
    """Where shared result files live is measured, not assumed: both stores, three sizes."""
    from benchmarks import resultfiles
    from tests.realservers import require

    require("redis")
    out = tmp_path / "files.md"
    assert resultfiles.main(["--quick", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines()
            if line.startswith(("| Redis |", "| folder |"))]
    assert len(rows) == 6 and all(len(row.split("|")) == 8 for row in rows)
