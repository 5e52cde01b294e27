"""The uncached path, focused: ``python -m benchmarks.uncached [--tree DIR ...]``.

One number the full benchmark (``benchmarks.bench``) reports, measured alone and for several
source trees in the same run, interleaved, so that a before/after comparison shares the
machine's conditions (a busy 2-core VM drifts by 10-30 % within minutes):

* **server cost** — p50 latency of uncached 640x457 ``SegmentCustomizedPortraitPic`` requests
  at concurrency 1 (``--concurrency``) against ``bda-emulator serve --cache-size 0`` run from
  the tree, minus the p50 of the transport limit (a bare aiohttp server answering with the
  same reply bytes);
* **compute floor** — the median of the tree's own ``benchmarks.yardsticks.measure_floor``,
  run in a fresh process with the tree first on ``sys.path`` (after drawing every benchmark
  picture, as ``benchmarks.bench`` does before its floor): each tree is held to the floor of
  the pipeline it ships;
* the server's CPU time and minor page faults per request, split into the event loop's thread
  and the others (image workers), from ``/proc/<pid>/task``.

Every number is printed; none is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .bench_load import CellSpec, run_cell_sampled, start_load
from .harness import ROOT, LoadProcess, Server
from .inputs import REF, SIZES, make_photo
from .yardsticks import fetch_reply

_TICK = os.sysconf("SC_CLK_TCK")
# As in benchmarks.bench, the floor runs in a process that has drawn every size's picture
# first: its allocator has seen the large images, as the full benchmark's process has.
# Its CPU time per call too (warm-up calls included), steadier than wall time on a busy VM.
_FLOOR = ("import json, sys, time; from benchmarks.inputs import REF, SIZES, head_box, make_photo; "
          "from benchmarks.yardsticks import measure_floor; "
          "images = {size: make_photo(size, seed) for seed, size in enumerate(SIZES, 1)}; "
          "runs = int(sys.argv[1]); cpu = time.process_time(); "
          "times = measure_floor(images[REF], head_box(REF), runs); "
          "print(json.dumps([times, (time.process_time() - cpu) * 1000 / (runs + 5)]))")


def thread_usage(pid: int) -> dict[int, tuple[float, float, int]]:
    """(user s, system s, minor faults) of each thread of ``pid``."""
    usage = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            text = Path(f"/proc/{pid}/task/{task}/stat").read_text()
        except OSError:
            continue
        fields = text.rpartition(")")[2].split()
        usage[int(task)] = (int(fields[11]) / _TICK, int(fields[12]) / _TICK, int(fields[7]))
    return usage


@dataclass
class Figures:
    """What one tree measured, over the rounds."""

    tree: Path
    env: tuple[str, ...] = ()  # for the emulator server only
    latency: list[float] = field(default_factory=list)  # p50 ms per round
    rate: list[float] = field(default_factory=list)  # requests per second per round
    transport: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)  # every floor run, ms
    cpu: dict[str, list[float]] = field(default_factory=dict)  # per request, per round

    def add_cpu(self, name: str, value: float) -> None:
        self.cpu.setdefault(name, []).append(value)

    def row(self) -> str:
        lat, tra = statistics.median(self.latency), statistics.median(self.transport)
        floor = statistics.median(self.floor)
        cost = lat - tra
        cpu = {name: statistics.median(values) for name, values in self.cpu.items()}
        server = cpu["loop user"] + cpu["loop sys"] + cpu["workers user"] + cpu["workers sys"]
        name = f"{self.tree} with {' '.join(self.env)}" if self.env else str(self.tree)
        rate = statistics.median(self.rate)
        return (f"| {name} | {rate:.1f} | {lat:.2f} | {tra:.2f} | {cost:.2f} | {floor:.2f} | "
                f"{cost / floor:.2f} | {cpu['loop user'] + cpu['loop sys']:.2f} | "
                f"{cpu['workers user']:.2f} + {cpu['workers sys']:.2f} | "
                f"{cpu['workers faults']:.0f} | {cpu['floor']:.2f} | {server / cpu['floor']:.2f} |")


def _serve(tree: Path, env: Sequence[str] = ()) -> Callable[[int], list[str]]:
    def argv(port: int) -> list[str]:
        return [*(["env", *env] if env else []), sys.executable, "-c",
                f"import sys; sys.path.insert(0, {str(tree)!r}); from emulator.cli import main; "
                "sys.exit(main())", "serve", "--port", str(port), "--cache-size", "0"]
    return argv


def _floor(tree: Path, runs: int) -> tuple[list[float], float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", _FLOOR, str(runs)], env=env,
                         cwd=tree, check=True, capture_output=True, text=True).stdout
    times, cpu = json.loads(out)
    return times, cpu


def _transport(load: LoadProcess, reply: bytes, requests: int, concurrency: int) -> float:
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(reply)
        file.flush()

        def argv(port: int) -> list[str]:
            return [sys.executable, "-m", "benchmarks.bench", "--serve-transport", str(port),
                    file.name]

        with Server(argv, "transport server", cwd=ROOT) as server:
            spec = CellSpec(server.port, REF, True, concurrency, requests, 30.0)
            result, _, _, _ = run_cell_sampled(load, spec, server)
    return statistics.median(result.latencies)


def _round(load: LoadProcess, figures: Figures, jpeg: bytes, requests: int,
           floor_runs: int, concurrency: int) -> None:
    times, cpu = _floor(figures.tree, floor_runs)
    figures.floor += times
    figures.add_cpu("floor", cpu)
    with Server(_serve(figures.tree, figures.env), f"bda-emulator from {figures.tree}"
                ) as server:
        reply = fetch_reply(server.port, jpeg)
        run_cell_sampled(load, CellSpec(server.port, REF, True, concurrency, 20, 10.0), server)
        before = thread_usage(server.pid)
        spec = CellSpec(server.port, REF, True, concurrency, requests, 60.0)
        result, _, _, _ = run_cell_sampled(load, spec, server)
        after = thread_usage(server.pid)
    count = len(result.latencies)
    if result.errors:
        raise RuntimeError(f"{figures.tree}: {result.first_error}")
    figures.latency.append(statistics.median(result.latencies))
    figures.rate.append(count / result.elapsed)
    for name, loop in (("loop", True), ("workers", False)):
        delta = [sum(after[t][i] - before.get(t, (0, 0, 0))[i] for t in after
                     if (t == server.pid) == loop) for i in range(3)]
        figures.add_cpu(f"{name} user", delta[0] * 1000 / count)
        figures.add_cpu(f"{name} sys", delta[1] * 1000 / count)
        figures.add_cpu(f"{name} faults", delta[2] / count)
    figures.transport.append(_transport(load, reply, requests, concurrency))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tree", type=Path, action="append",
                        help="a source tree to measure (repeatable; default: this checkout)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--requests", type=int, default=200,
                        help="timed requests per cell (default 200)")
    parser.add_argument("--floor-runs", type=int, default=20, help="floor runs per round")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="requests in flight (default 1; the cost and floor columns mean "
                             "most at 1)")
    parser.add_argument("--what-if", action="append", default=[], metavar="NAME=VALUE",
                        help="also measure each tree's server with this environment variable "
                             "(e.g. glibc's MALLOC_TRIM_THRESHOLD_=...; repeatable, all "
                             "together in one extra row per tree)")
    args = parser.parse_args(argv)
    trees = [tree.resolve() for tree in (args.tree or [ROOT])]
    jpeg = make_photo(REF, SIZES.index(REF) + 1)  # the full benchmark's 640x457 picture
    load = start_load({REF: jpeg})
    envs = [(), tuple(args.what_if)] if args.what_if else [()]
    figures = [Figures(tree, env) for tree in trees for env in envs]
    try:
        for _ in range(args.rounds):
            for each in figures:
                _round(load, each, jpeg, args.requests, args.floor_runs, args.concurrency)
                print(f"{each.tree} {' '.join(each.env)}: p50 {each.latency[-1]:.2f} ms, transport "
                      f"{each.transport[-1]:.2f} ms, floor {statistics.median(each.floor):.2f}"
                      " ms", file=sys.stderr, flush=True)
    finally:
        load.close()
    print("| tree | req/s | p50 ms | transport p50 ms | server cost ms | compute floor ms "
          "| cost / floor | loop CPU ms/req | workers CPU ms/req (user + sys) "
          "| worker page faults/req | floor CPU ms | server CPU / floor CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for each in figures:
        print(each.row())
    print(f"\n{args.rounds} interleaved rounds of {args.requests} uncached 640x457 requests at "
          f"c={args.concurrency} per row; medians over the rounds (floor: over all its runs; "
          "the environment is the emulator server's only).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
