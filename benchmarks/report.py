"""What every results file shares: its preamble (date, machine, code, command line), the
nearest-rank percentile and the rows of a check table (check | value | target | met)."""

from __future__ import annotations

import math
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import PIL

from .harness import ROOT


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def check_row(name: str, shown: str, target: str, ok: bool | None) -> str:
    """``| name | shown | target | yes/no |`` (``n/a`` when ``ok`` is None)."""
    verdict = "n/a" if ok is None else ("yes" if ok else "no")
    return f"| {name} | {shown} | {target} | {verdict} |"


def code_version() -> str:
    """The commit measured, and which files under emulator/ differ from it (git, read-only)."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True).stdout
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "emulator"], capture_output=True, text=True, timeout=10,
                               check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    changed = [line[3:] for line in dirty.splitlines() if line[3:].endswith(".py")]
    return f"{head.strip()}" + (f" + uncommitted changes to {', '.join(changed)}"
                                if changed else " (emulator/ unchanged)")


def command_line() -> str:
    """How this run was started: ``python -m benchmarks.bench --quick``."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    program = ["-m", spec.name] if spec is not None and spec.name else sys.argv[:1]
    return shlex.join([Path(sys.executable).name, *program, *sys.argv[1:]])


def machine() -> str:
    """CPU count, platform and the versions that matter."""
    return (f"nproc {len(os.sched_getaffinity(0))}, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}, "
            f"Pillow {PIL.__version__}")


def preamble(title: str) -> list[str]:
    """The first lines of a results file: title, date, machine, code and command line."""
    return [f"# {title}", "",
            f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
            f"- Machine: {machine()}", f"- Code: {code_version()}",
            f"- Command: `{command_line()}`"]
