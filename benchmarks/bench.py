"""Load and compute benchmark of bda-emulator: ``make bench`` (or ``python -m benchmarks.bench``).

What it measures, in one sitting on 127.0.0.1 (every number is printed, none is asserted):

* **compute floor** — a bare function doing the least image work one request needs (decode the
  JPEG, one elliptical mask, the zeroed RGBA cut-out as PNG written as the emulator writes it,
  the mask as greyscale JPEG quality 100, base64 both, ``json.dumps`` the reply), median of N
  runs;
* **transport limit** — a bare aiohttp server (a subprocess of this script) answering every POST
  with the emulator's own reply bytes for the 640x457 input, loaded like the emulator;
* **emulator** — ``bda-emulator serve`` as a subprocess, TC3-signed requests (fresh timestamp per
  request) for 300x400, 640x457 and 1999x1000 inputs, cached (one repeated input, default cache)
  and uncached (``--cache-size 0`` and a distinct input per request), at concurrency 1, 16, 64;
* the event loop's responsiveness (``/_emulator/health`` latency while 16 uncached 1999x1000
  requests are in flight), start-to-healthy time and idle RSS;
* scaling with image workers — uncached 640x457 at concurrency 16 with ``--workers 1`` and with
  the default (one per CPU); the transport limit again with as many aiohttp processes sharing
  the port (``reuse_port``) as the emulator has image workers, the yardstick of the cached path;
* memory — the emulator's RSS after 10,000 cached 640x457 requests at concurrency 64 (the
  emulator is one process: its image workers are threads, so this is the whole server), the
  time and RSS change to refuse decompression bombs (a PNG whose IHDR declares 100000x100000,
  a JPEG whose SOF declares 60000x60000) and a 100 MB POST;
* shared state (:mod:`.bench_state`) — cached and uncached 640x457 at c=16 and 64 (and c=1
  for one process) with the in-memory store, the Redis store (a ``redis-server`` this script
  starts and stops) and ``--processes 2`` on Redis, beside the busy cores of the server's
  processes, the load process and redis-server, and the cost of the Redis store per request.

Load comes from a separate process (an aiohttp client, bodies built and hashed before the timer);
each cell is bounded by a request count and a time cap. Uncached inputs differ by a JPEG comment
segment placed after SOI (same pixels, so the same work; every sha256 differs). The inputs are
drawn deterministically: gradient background, a head-and-shoulders figure, seeded noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .bench_load import (
    CellResult,
    CellSpec,
    ProbeSpec,
    run_cell_sampled,
    run_probe_sampled,
    start_load,
)
from .bench_report import SCALING, Results, Row, Soak, cell_row, processes, render, threads
from .bench_state import (
    CONFIGS,
    StatePlan,
    clear_state_env,
    parse_configs,
    render_state,
    run_state,
)
from .harness import NPROC, ROOT, Conditions, LoadProcess, Server, emulator_argv, rss_mb
from .inputs import BIG, OPTIONS, REF, SIZES, Size, head_box, label, make_photo
from .report import percentile, preamble
from .yardsticks import fetch_reply, measure_floor, measure_pipeline, serve_transport

LEVELS = (1, 16, 64)
RSS_REQUESTS = 10_000  # cached requests before the "RSS after" reading
#: Requests per cached or transport-limit cell: 300 of them last about 0.1 s, too short for a
#: steady rate (their ratio is a target).
FAST_REQUESTS = 3000
BOMB_REQUESTS = 20  # per decompression bomb


@dataclass(frozen=True)
class Plan:
    """The bounds of one run."""

    requests: int
    duration: float
    floor_runs: int
    start_runs: int
    loop_requests: int
    threads: int | None
    fast_requests: int = FAST_REQUESTS
    rss_requests: int = RSS_REQUESTS
    rss_duration: float = 60.0
    bomb_requests: int = BOMB_REQUESTS
    state: StatePlan | None = None  # the shared-state cells; None: not measured

    @property
    def workers(self) -> int:
        """Image workers of the default emulator rows."""
        return self.threads or NPROC


def measure_start(plan: Plan, res: Results) -> None:
    """Start-to-healthy and idle RSS of fresh default servers."""
    for _ in range(plan.start_runs):
        with Server(emulator_argv(None, plan.threads), "bda-emulator") as server:
            res.starts.append(server.start_seconds)
            time.sleep(0.3)
            res.idle_rss.append(rss_mb(server.pid))


def load_cells(load: LoadProcess, server: Server, scenario: str, sizes: Sequence[Size],
               distinct: bool, plan: Plan, res: Results, workers: str,
               levels: Sequence[int] = LEVELS) -> None:
    """One row per (size, concurrency level) against ``server``."""
    for size in sizes:
        for level in levels:
            transport = scenario == "transport limit"  # answers every body alike: send one
            fast = not distinct or transport
            spec = CellSpec(server.port, size, distinct and not transport, level,
                            plan.fast_requests if fast else plan.requests, plan.duration)
            result, rss, cpu, _ = run_cell_sampled(load, spec, server)
            res.rows.append(cell_row(scenario, dataclasses.replace(spec, distinct=distinct),
                                     result, rss, cpu, workers))
            if result.first_error:
                res.first_errors.append(f"{scenario} {label(size)} c={level} {workers}: "
                                        f"{result.first_error}")
            print(res.rows[-1].markdown(), file=sys.stderr, flush=True)


def transport_cells(load: LoadProcess, reply: bytes, plan: Plan, res: Results) -> None:
    """The transport limit with one process, then with as many as the emulator has workers."""
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(reply)
        file.flush()
        argv = [sys.executable, "-m", "benchmarks.bench", "--serve-transport"]
        for count in sorted({1, plan.workers}):

            def command(port: int, count: int = count) -> list[str]:
                return [*argv, str(port), file.name, "--transport-processes", str(count)]

            with Server(command, f"transport server ({count} processes)", cwd=ROOT) as transport:
                load_cells(load, transport, "transport limit", [REF], True, plan, res,
                           processes(count))


def scaling_cells(load: LoadProcess, plan: Plan, res: Results) -> None:
    """Uncached 640x457 at c=16 with ``--workers 1`` and ``--workers N``, in the order
    1, N, N, 1 (each on a fresh server, same warm-up): the machine's speed drifts by 10-20 %
    over a minute on a shared VM, and this order cancels a steady drift from the ratio."""
    counts = [1, plan.workers, plan.workers, 1] if plan.workers > 1 else [1, 1]
    parts: dict[int, list[tuple[CellResult, float, tuple[float, float]]]] = {}
    for count in counts:
        with Server(emulator_argv(0, count), f"bda-emulator --cache-size 0 --workers {count}"
                    ) as server:
            spec = CellSpec(server.port, REF, True, 16, plan.requests, plan.duration, warmup=16)
            result, rss, cpu, _ = run_cell_sampled(load, spec, server)
            parts.setdefault(count, []).append((result, rss, cpu))
            if result.first_error:
                res.first_errors.append(f"{SCALING} --workers {count}: {result.first_error}")
    for count, runs in sorted(parts.items()):
        merged = CellResult([ms for r, _, _ in runs for ms in r.latencies], [],
                            sum(r.errors for r, _, _ in runs), sum(r.elapsed for r, _, _ in runs),
                            next((r.first_error for r, _, _ in runs if r.first_error), ""))
        cpu = (sum(c[0] for _, _, c in runs), sum(c[1] for _, _, c in runs))
        spec = CellSpec(0, REF, True, 16, plan.requests, plan.duration)
        res.rows.append(cell_row(SCALING, spec, merged, max(r for _, r, _ in runs), cpu,
                                 threads(count)))
        print(res.rows[-1].markdown(), file=sys.stderr, flush=True)


def memory_cells(load: LoadProcess, image: bytes, plan: Plan, res: Results) -> None:
    """Hostile inputs on a fresh default server, then many cached requests on another."""
    with Server(emulator_argv(None, plan.threads), "bda-emulator") as server:
        fetch_reply(server.port, image)  # one normal request first: lazy imports, pools
        for name, count in (("bomb-png", plan.bomb_requests), ("bomb-jpeg", plan.bomb_requests),
                            ("big-post", 1)):
            res.probes[name] = run_probe_sampled(load, ProbeSpec(server.port, name, count), server)
            print(f"{name}: {res.probes[name]}"[:300], file=sys.stderr, flush=True)
    with Server(emulator_argv(None, plan.threads), "bda-emulator") as server:
        fetch_reply(server.port, image)
        time.sleep(0.2)
        before = rss_mb(server.pid)
        spec = CellSpec(server.port, REF, False, 64, plan.rss_requests, plan.rss_duration)
        result, peak, _, _ = run_cell_sampled(load, spec, server)
        after = rss_mb(server.pid)
        res.soak = Soak(result, before, max(peak, after), after)
        if result.first_error:
            res.first_errors.append(f"RSS run: {result.first_error}")
        print(f"RSS after {len(result.latencies)} cached requests: {after:.0f} MB",
              file=sys.stderr, flush=True)


def run(plan: Plan) -> Results:
    """Every measurement, with only one server busy at a time."""
    res = Results(workers=plan.workers)
    images = {size: make_photo(size, seed) for seed, size in enumerate(SIZES, 1)}
    measure_start(plan, res)
    load = start_load(images)
    default = threads(plan.workers)
    try:
        with Server(emulator_argv(0, plan.threads), "bda-emulator --cache-size 0") as server:
            transport_cells(load, fetch_reply(server.port, images[REF]), plan, res)
            for size in SIZES:  # the floor just before its size's cells: same conditions
                times = measure_floor(images[size], head_box(size), plan.floor_runs)
                res.floor[size] = statistics.median(times)
                res.pipeline[size] = statistics.median(measure_pipeline(
                    images[size], [k for k, v in OPTIONS.items() if v], plan.floor_runs))
                res.rows.append(Row("compute floor", size, 1, "no", "–", 1000 / res.floor[size],
                                    res.floor[size], percentile(times, 0.99), 0, None))
                load_cells(load, server, "emulator", [size], True, plan, res, default)
            spec = CellSpec(server.port, BIG, True, 16, plan.loop_requests, plan.duration)
            result, _, _, res.health = run_cell_sampled(load, spec, server, poll_health=True)
            if result.errors:
                res.first_errors.append(f"event-loop check: {result.first_error}")
        scaling_cells(load, plan, res)
        with Server(emulator_argv(None, plan.threads), "bda-emulator") as server:
            load_cells(load, server, "emulator", SIZES, False, plan, res, default)
        memory_cells(load, images[REF], plan, res)
        if plan.state is not None:
            res.state = run_state(load, plan.state)
    finally:
        load.close()
    order = {"compute floor": 0, "transport limit": 1, "emulator": 2, SCALING: 3}
    res.rows.sort(key=lambda r: (order[r.scenario], SIZES.index(r.size), r.cached,
                                 r.concurrency, r.workers))
    return res


def run_state_only(plan: Plan) -> Results:
    """Only the shared-state cells (``--state-only``)."""
    res = Results(workers=plan.workers)
    if plan.state is not None:
        load = start_load({REF: make_photo(REF, SIZES.index(REF) + 1)})  # run()'s picture
        try:
            res.state = run_state(load, plan.state)
        finally:
            load.close()
    return res


def state_plan(args: argparse.Namespace) -> StatePlan | None:
    """The bounds of the shared-state cells: cached cells get as many requests as the other
    cached cells (``--fast-requests``: 300 would last a fraction of a second)."""
    if not args.state_configs:
        return None
    requests = args.requests or (6 if args.quick else 300)
    return StatePlan(requests=requests,
                     cached_requests=args.fast_requests or (6 if args.quick else FAST_REQUESTS),
                     duration=args.duration or (1.0 if args.quick else 8.0),
                     threads=args.workers, configs=args.state_configs,
                     redis_server=args.redis_server)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (``--serve-transport`` is internal: the transport server)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: a few requests per cell")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results.md",
                        help="markdown report (default benchmarks/results.md)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per load cell (default 300; --quick 6)")
    parser.add_argument("--duration", type=float, default=None,
                        help="time cap per load cell, seconds (default 8; --quick 1)")
    parser.add_argument("--workers", type=int, default=None,
                        help="passed to bda-emulator serve (default: its own, one per CPU)")
    parser.add_argument("--fast-requests", type=int, default=None,
                        help=f"requests per cached or transport-limit cell (default "
                             f"{FAST_REQUESTS}; --quick 6)")
    parser.add_argument("--rss-requests", type=int, default=None,
                        help=f"cached requests before the RSS reading (default {RSS_REQUESTS}; "
                             "--quick 1000)")
    parser.add_argument("--state-configs", type=parse_configs,
                        default=CONFIGS, metavar="NAMES",
                        help="shared-state cells to measure, comma-separated (default "
                             f"{','.join(c.name for c in CONFIGS)}; empty: none)")
    parser.add_argument("--state-only", action="store_true",
                        help="measure only the shared-state cells (a smoke run of them)")
    parser.add_argument("--redis-server", metavar="PATH", default=None,
                        help="redis-server executable (default: on PATH, else "
                             "/usr/bin/redis-server; absent: the Redis cells are skipped)")
    parser.add_argument("--serve-transport", nargs=2, metavar=("PORT", "REPLY"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--transport-processes", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the report, write it with the run's context to ``--out``."""
    args = parse_args(argv)
    if args.serve_transport:
        serve_transport(int(args.serve_transport[0]), args.serve_transport[1],
                        args.transport_processes)
        return 0
    quick = args.quick
    clear_state_env()
    plan = Plan(requests=args.requests or (6 if quick else 300),
                fast_requests=args.fast_requests or (6 if quick else FAST_REQUESTS),
                duration=args.duration or (1.0 if quick else 8.0),
                floor_runs=3 if quick else 20, start_runs=1 if quick else 3,
                loop_requests=32 if quick else 64, threads=args.workers,
                rss_requests=args.rss_requests or (1000 if quick else RSS_REQUESTS),
                rss_duration=10.0 if quick else 60.0,
                bomb_requests=3 if quick else BOMB_REQUESTS, state=state_plan(args))
    conditions = Conditions()
    if args.state_only:
        res = run_state_only(plan)
        report = "\n".join(render_state(res.state)) if res.state else "(no state cells)"
        conditions.stop()
    else:
        res = run(plan)
        conditions.stop()
        res.others = conditions.others
        report = render(res)
    print(report)
    header = [
        *preamble("bda-emulator benchmark"),
        f"- Bounds: each load cell {plan.requests} requests ({plan.fast_requests} when cached or "
        f"the transport limit) or {plan.duration:g} s, whichever "
        f"first; compute floor median of {plan.floor_runs} runs; options {json.dumps(OPTIONS)}; "
        f"compute threads {plan.threads or f'default ({plan.workers})'}; RSS run "
        f"{plan.rss_requests} requests or {plan.rss_duration:g} s; {plan.bomb_requests} requests "
        "per decompression bomb",
        conditions.line(" during the run"),
        "- Load: a separate aiohttp client process on the same machine (it competes with the "
        "server for CPU); RSS is the maximum VmRSS sampled during the cell.", "", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(header) + report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
