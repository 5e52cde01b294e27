"""The cached path alone, quickly: ``python -m benchmarks.cached`` (a few seconds per cell).

Cached 640x457 at concurrency 16 against the default emulator, beside the transport limit (one
bare aiohttp process answering the same reply bytes), measured in the order transport,
emulator, emulator, transport (cancels a steady drift of a shared machine's speed). Prints
req/s, p50, the busy cores of the server and of the load process, and the ratio of the
emulator's throughput to the transport limit's. With ``--profile FILE``, py-spy samples the
emulator during its first cell (``--nonblocking``: the server is not paused to be sampled).
Numbers are printed, never asserted. ``make bench`` is the full benchmark.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .bench_load import CellSpec, run_cell_sampled, start_load
from .bench_report import Row, cell_row, processes, threads
from .harness import NPROC, ROOT, LoadProcess, Server, emulator_argv
from .inputs import REF, SIZES, make_photo
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
    args = parser.parse_args(argv)
    image = make_photo(REF, SIZES.index(REF) + 1)
    load = start_load({REF: image})
    rows: list[Row] = []
    try:
        with Server(emulator_argv(), "bda-emulator") as emulator, \
                tempfile.NamedTemporaryFile(suffix=".json") as file:
            file.write(fetch_reply(emulator.port, image))
            file.flush()
            command = [sys.executable, "-m", "benchmarks.bench", "--serve-transport"]
            with Server(lambda port: [*command, str(port), file.name], "transport",
                        cwd=ROOT) as transport:
                order = [(transport, "transport limit"), (emulator, "emulator cached"),
                         (emulator, "emulator cached"), (transport, "transport limit")]
                for index, (server, name) in enumerate(order):
                    spy = (profiled(server.pid, args.profile, args.duration)
                           if args.profile and index == 1 else None)
                    workers = processes(1) if server is transport else threads(NPROC)
                    rows.append(cell(load, server, name, workers, args.requests,
                                     args.duration, distinct=server is transport))
                    if spy is not None:
                        spy.wait()
    finally:
        load.close()
    print("| scenario | req/s | p50 ms | server cores | load cores | server CPU ms/req |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row.scenario} | {row.rps:.0f} | {row.p50:.2f} | {row.cores[0]:.2f} | "
              f"{row.cores[1]:.2f} | {row.cpu_ms:.3f} |")
    limit = sum(r.rps for r in rows if r.scenario == "transport limit") / 2
    cached = sum(r.rps for r in rows if r.scenario == "emulator cached") / 2
    print(f"\ncached c=16: {cached:.0f} req/s; transport limit: {limit:.0f} req/s; "
          f"ratio {cached / limit:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
