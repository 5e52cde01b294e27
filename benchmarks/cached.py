"""The cached path alone, quickly: ``python -m benchmarks.cached`` (a few seconds per cell).

Cached 640x457 at concurrency 16 against the default emulator, beside the transport limit (one
bare aiohttp process answering the same reply bytes), measured in the order transport,
emulator, emulator, transport (cancels a steady drift of a shared machine's speed). Prints
req/s, p50, the busy cores of the server and of the load process, and the ratio of the
emulator's throughput to the transport limit's. With ``--profile FILE``, py-spy samples the
emulator during its first cell (``--nonblocking``: the server is not paused to be sampled).
With ``--baseline DIR`` (a source tree, e.g. ``git archive <commit> | tar -x -C DIR``), that
tree's emulator is measured too, in the order transport, baseline, emulator, emulator,
baseline, transport: an A/B comparison under the same machine state.
Numbers are printed, never asserted. ``make bench`` is the full benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .bench_load import CellSpec, run_cell_sampled, start_load
from .bench_report import Row, cell_row, processes, threads
from .harness import NPROC, ROOT, Conditions, LoadProcess, Server, emulator_argv
from .inputs import REF, SIZES, make_photo
from .report import preamble
from .yardsticks import fetch_reply


def cell(load: LoadProcess, server: Server, scenario: str, workers: str, requests: int,
         duration: float, distinct: bool) -> Row:
    spec = CellSpec(server.port, REF, distinct, 16, requests, duration, warmup=64)
    result, rss, cpu, _ = run_cell_sampled(load, spec, server)
    if result.first_error:
        print(f"{scenario}: {result.first_error}", file=sys.stderr)
    return cell_row(scenario, spec, result, rss, cpu, workers)


def profiled(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``seconds`` into ``out`` (raw collapsed stacks)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                             "--rate", "250", "--nonblocking", "--format", "raw", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=4000, help="requests per cell")
    parser.add_argument("--duration", type=float, default=6.0, help="time cap per cell, s")
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy raw output for the first emulator cell")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a source tree whose emulator is measured too (A/B)")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write the report (markdown) here")
    args = parser.parse_args(argv)
    conditions = Conditions()
    image = make_photo(REF, SIZES.index(REF) + 1)
    load = start_load({REF: image})
    rows: list[Row] = []
    try:
        with contextlib.ExitStack() as stack:
            emulator = stack.enter_context(Server(emulator_argv(), "bda-emulator"))
            baseline = (stack.enter_context(Server(baseline_argv(args.baseline), "baseline",
                                                       cwd=args.baseline))
                        if args.baseline else None)
            file = stack.enter_context(tempfile.NamedTemporaryFile(suffix=".json"))
            file.write(fetch_reply(emulator.port, image))
            file.flush()
            if baseline is not None:
                fetch_reply(baseline.port, image)
            command = [sys.executable, "-m", "benchmarks.bench", "--serve-transport"]
            with Server(lambda port: [*command, str(port), file.name], "transport",
                        cwd=ROOT) as transport:
                base = [(baseline, "baseline cached")] if baseline else []
                order = [(transport, "transport limit"), *base, (emulator, "emulator cached"),
                         (emulator, "emulator cached"), *base, (transport, "transport limit")]
                for index, (server, name) in enumerate(order):
                    spy = (profiled(server.pid, args.profile, args.duration)
                           if args.profile and index == len(base) + 1 else None)
                    workers = processes(1) if server is transport else threads(NPROC)
                    rows.append(cell(load, server, name, workers, args.requests,
                                     args.duration, distinct=server is transport))
                    if spy is not None:
                        spy.wait()
    finally:
        load.close()
    conditions.stop()
    lines = ["| scenario | req/s | p50 ms | server cores | load cores | server CPU ms/req |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {row.scenario} | {row.rps:.0f} | {row.p50:.2f} | {row.cores[0]:.2f} | "
              f"{row.cores[1]:.2f} | {row.cpu_ms:.3f} |" for row in rows]
    limit = sum(r.rps for r in rows if r.scenario == "transport limit") / 2
    cached = sum(r.rps for r in rows if r.scenario == "emulator cached") / 2
    lines += ["", f"cached c=16: {cached:.0f} req/s; transport limit: {limit:.0f} req/s; "
                  f"ratio {cached / limit:.2f}"]
    if args.baseline:
        old = sum(r.rps for r in rows if r.scenario == "baseline cached") / 2
        lines.append(f"baseline cached c=16: {old:.0f} req/s; ratio {old / limit:.2f}")
    print("\n".join(lines))
    if args.out:
        head = [*preamble("bda-emulator: the cached path"),
                f"- Bounds: each cell {args.requests} requests or {args.duration:g} s; "
                "cached 640x457 at concurrency 16", conditions.line(), "", ""]
        args.out.write_text("\n".join(head + lines) + "\n", encoding="utf-8")
    return 0


def baseline_argv(tree: Path) -> Callable[[int], list[str]]:
    """``bda-emulator serve`` from the source tree ``tree`` (run in ``tree``, which is also
    first on its PYTHONPATH; ``env`` execs Python, so the server keeps the sampled pid)."""
    path = f"PYTHONPATH={tree.resolve()}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"

    def argv(port: int) -> list[str]:
        return ["env", path, sys.executable, "-m", "emulator", "serve", "--port", str(port)]

    return argv


if __name__ == "__main__":
    sys.exit(main())
