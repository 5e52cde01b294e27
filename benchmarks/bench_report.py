"""The report of ``benchmarks.bench``: the table of load cells, the server-cost block, the
memory block and the ratios against their targets, as markdown (printed, never asserted)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from .bench_load import CellResult, CellSpec, Probe
from .bench_state import StateMatrix, render_state
from .harness import NPROC
from .inputs import (
    BIG,
    BIG_POST_BYTES,
    BOMB_JPEG_SIDE,
    BOMB_PNG_SIDE,
    REF,
    SIZES,
    Size,
    label,
)
from .report import check_row, percentile

HEADER = ("| scenario | size | concurrency | cached | workers | req/s | p50 ms | p99 ms | errors "
          "| RSS MB |")
SCALING = "worker scaling"  # the rows of the --workers 1 / --workers N comparison
EXCEED = "FailedOperation.ImageResolutionExceed"
TOO_LARGE = "RequestSizeLimitExceeded"


@dataclass(frozen=True)
class Soak:
    """RSS (MB) of a fresh default server before and after many cached requests."""

    result: CellResult
    rss_before: float
    rss_peak: float
    rss_after: float


def threads(count: int) -> str:
    """The workers column for the emulator: image worker threads in its one process."""
    return f"{count} thr"


def processes(count: int) -> str:
    """The workers column for the transport limit: aiohttp processes sharing the port."""
    return f"{count} proc"


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    scenario: str
    size: Size
    concurrency: int
    cached: str
    workers: str
    rps: float
    p50: float
    p99: float
    errors: int
    rss: float | None
    cpu_ms: float = math.nan  # server CPU per request
    cores: tuple[float, float] = (math.nan, math.nan)  # busy cores: server, load process

    def markdown(self) -> str:
        rss = "–" if self.rss is None else f"{self.rss:.0f}"
        return (f"| {self.scenario} | {label(self.size)} | {self.concurrency} | {self.cached} | "
                f"{self.workers} | {self.rps:.1f} | {self.p50:.1f} | {self.p99:.1f} | "
                f"{self.errors} | {rss} |")


@dataclass
class Results:
    """Everything measured, keyed for the ratios."""

    rows: list[Row] = field(default_factory=list)
    floor: dict[Size, float] = field(default_factory=dict)
    #: the emulator's own image work per request, bare (compute_reply), ms
    pipeline: dict[Size, float] = field(default_factory=dict)
    starts: list[float] = field(default_factory=list)
    idle_rss: list[float] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    first_errors: list[str] = field(default_factory=list)
    workers: int = NPROC  # image workers of the default emulator rows
    soak: Soak | None = None
    probes: dict[str, Probe] = field(default_factory=dict)
    state: StateMatrix | None = None  # the shared-state cells (issue 17)
    others: float = math.nan  # busy cores of other processes, average over the run

    def row(self, scenario: str, size: Size, concurrency: int, cached: str,
            workers: str | None = None) -> Row:
        """The row; ``workers`` defaults to the emulator's default / one transport process."""
        if workers is None:
            workers = threads(self.workers) if scenario == "emulator" else processes(1)
        for row in self.rows:
            if (row.scenario, row.size, row.concurrency, row.cached, row.workers) == (
                    scenario, size, concurrency, cached, workers):
                return row
        raise KeyError((scenario, size, concurrency, cached, workers))


def cell_row(scenario: str, spec: CellSpec, result: CellResult, rss: float,
             cpu: tuple[float, float], workers: str) -> Row:
    """A table row from one cell's measurements."""
    done = len(result.latencies)
    elapsed = result.elapsed or math.nan
    return Row(scenario, spec.size, spec.concurrency, "no" if spec.distinct else "yes", workers,
               done / elapsed, percentile(result.latencies, 0.5),
               percentile(result.latencies, 0.99), result.errors, rss,
               cpu[0] * 1000 / done if done else math.nan,
               (cpu[0] / elapsed, cpu[1] / elapsed))


def _check(name: str, value: float, shown: str, target: str, ok: bool) -> str:
    return check_row(name, shown, target, None if math.isnan(value) else ok)


def render(res: Results) -> str:
    """The table, the server-cost block, the memory block and the ratios block, as markdown."""
    lines = [HEADER, "|---|---|---:|---|---|---:|---:|---:|---:|---:|"]
    lines += [row.markdown() for row in res.rows]
    transport_c1 = res.row("transport limit", REF, 1, "no")
    lines += ["", "Workers: *N thr* = one emulator process with N image-worker threads "
              "(`--workers N`); *N proc* = N bare aiohttp processes sharing the port "
              f"(`reuse_port`). The *{SCALING}* rows: fresh `--cache-size 0` servers with "
              "`--workers 1` and `--workers N`, measured in the order 1, N, N, 1 and summed "
              "(cancels a steady drift of the machine's speed).", "",
              "Server cost per uncached request (ms): *latency* = emulator p50 at c=1 minus "
              "transport-limit p50 at c=1; *1/throughput* = 1000 / req/s at c=1; *server CPU* = "
              "the emulator's CPU time per request at c=1 (/proc); *emulator's image work* = "
              "its own `compute_reply` (region rules, cut-out, mask, fields) called bare in "
              "this process, median — the server cost beyond it is request handling.", "",
              "| size | latency − transport | 1/throughput | server CPU | compute floor | "
              "emulator's image work |",
              "|---|---:|---:|---:|---:|---:|"]
    cost: dict[Size, float] = {}
    for size in SIZES:
        row = res.row("emulator", size, 1, "no")
        cost[size] = row.p50 - transport_c1.p50
        lines.append(f"| {label(size)} | {cost[size]:.1f} | {1000 / row.rps:.1f} | "
                     f"{row.cpu_ms:.1f} | {res.floor[size]:.1f} | "
                     f"{res.pipeline.get(size, math.nan):.1f} |")
    workers = res.workers
    cached16 = res.row("emulator", REF, 16, "yes").rps
    uncached16 = res.row("emulator", REF, 16, "no").rps
    transport16 = res.row("transport limit", REF, 16, "no").rps
    transport16_n = res.row("transport limit", REF, 16, "no", processes(workers)).rps
    scaled_n = res.row(SCALING, REF, 16, "no", threads(workers)).rps
    scaled_1 = res.row(SCALING, REF, 16, "no", threads(1)).rps
    start = statistics.median(res.starts)
    idle = statistics.median(res.idle_rss)
    health_max = max(res.health) if res.health else math.nan
    health_p50 = percentile(res.health, 0.5)
    r_floor = cost[REF] / res.floor[REF]
    r_pipeline = cost[REF] / res.pipeline.get(REF, math.nan)
    r_cache = cached16 / uncached16
    r_transport = cached16 / transport16_n
    r_transport_1 = cached16 / transport16
    r_big = cost[BIG] / cost[REF]
    r_workers = scaled_n / scaled_1
    if res.state is not None:
        lines += ["", *render_state(res.state)]
    lines += ["", *render_memory(res)]
    lines += ["", "Ratios (server cost = latency − transport, the first column above):", ""]
    if res.others >= 0.2:
        lines += [f"Other processes used {res.others:.2f} of the {NPROC} cores on average during "
                  "this run (see Conditions): they slow the compute floor, the transport limit "
                  "and the emulator unevenly, so these ratios and verdicts are less reliable "
                  "than on an idle machine.", ""]
    lines += ["| check | value | target | met |", "|---|---|---|---|",
              _check("uncached 640x457 server cost / compute floor", r_floor,
                     f"{r_floor:.2f} ({cost[REF]:.1f} / {res.floor[REF]:.1f} ms)", "≤ 1.3",
                     r_floor <= 1.3),
              _check("uncached 640x457 server cost / the emulator's own image work (request "
                     "handling and hand-offs on top of it)", r_pipeline,
                     f"{r_pipeline:.2f} ({cost[REF]:.1f} / {res.pipeline.get(REF, math.nan):.1f} "
                     "ms)", "≤ 1.3", r_pipeline <= 1.3),
              _check("cached / uncached req/s, 640x457 c=16", r_cache,
                     f"{r_cache:.1f} ({cached16:.0f} / {uncached16:.0f})", "≥ 5", r_cache >= 5),
              _check(f"uncached 640x457 c=16 req/s, all {workers} workers / one worker",
                     r_workers, f"{r_workers:.2f} ({scaled_n:.0f} / {scaled_1:.0f}; "
                     f"{SCALING} rows)",
                     "≥ 1.7", r_workers >= 1.7),
              _check(f"cached / transport limit req/s, 640x457 c=16, {workers} workers / "
                     f"{workers} processes", r_transport,
                     f"{r_transport:.2f} ({cached16:.0f} / {transport16_n:.0f}; against one "
                     f"transport process {cached16 / transport16:.2f})", "≥ 0.8",
                     r_transport >= 0.8),
              _check("cached / transport limit req/s, 640x457 c=16, one emulator process / one "
                     "bare aiohttp process (issue 17)", r_transport_1,
                     f"{r_transport_1:.2f} ({cached16:.0f} / {transport16:.0f})", "≥ 0.6",
                     r_transport_1 >= 0.6),
              _check("1999x1000 cost / 640x457 cost", r_big,
                     f"{r_big:.2f} ({cost[BIG]:.1f} / {cost[REF]:.1f} ms)", "≤ 7.5",
                     r_big <= 7.5),
              _check("health latency under load (16 uncached 1999x1000), max", health_max,
                     f"{health_max:.1f} ms (p50 {health_p50:.1f} ms, {len(res.health)} polls)",
                     "≤ 50 ms", health_max <= 50),
              _check("start-to-healthy, median", start,
                     f"{start:.2f} s (runs: {', '.join(f'{s:.2f}' for s in res.starts)})",
                     "≤ 0.8 s", start <= 0.8),
              _check("idle RSS, median", idle, f"{idle:.0f} MB", "≤ 80 MB", idle <= 80),
              *memory_checks(res)]
    busy = [(name, res.row(scenario, REF, 16, cached, workers_).cores)
            for name, scenario, cached, workers_ in (
                ("transport 1 proc", "transport limit", "no", processes(1)),
                (f"transport {workers} proc", "transport limit", "no", processes(workers)),
                ("cached", "emulator", "yes", None), ("uncached", "emulator", "no", None),
                (f"scaling {workers} thr", SCALING, "no", threads(workers)),
                ("scaling 1 thr", SCALING, "no", threads(1)))]
    lines += ["", "Busy cores during the 640x457 c=16 cells (server / load process): "
              + "; ".join(f"{name} {s:.2f} / {c:.2f}" for name, (s, c) in busy) + "."]
    generator = res.row("transport limit", REF, 16, "no", processes(workers)).cores[1]
    if generator >= 0.9:
        lines[-1] += (f" The transport limit is bound by the load process ({generator:.2f} "
                      "cores; one asyncio process uses at most one core), not by the servers: "
                      f"{workers} transport processes answer about as fast as one.")
    if res.first_errors:
        lines += ["", "First errors:", *(f"- {text}" for text in res.first_errors)]
    return "\n".join(lines)


def _codes(codes: Sequence[str]) -> str:
    """``20 × FailedOperation.ImageResolutionExceed`` (every distinct code with its count)."""
    return ", ".join(f"{codes.count(code)} × `{code}`" for code in sorted(set(codes))) or "none"


def render_memory(res: Results) -> list[str]:
    """The memory block: RSS after many requests, decompression bombs, a 100 MB POST."""
    lines = [f"Memory and hostile inputs. The emulator is one process: its {res.workers} image "
             "workers are threads, so its process RSS is the whole server's (there is no "
             "per-worker process to report). RSS = VmRSS, MB.", "",
             "| measurement | requests | result | RSS before | RSS peak | RSS after |",
             "|---|---:|---|---:|---:|---:|"]
    if res.soak is not None:
        soak, result = res.soak, res.soak.result
        done = len(result.latencies)
        lines.append(f"| cached 640x457, c=64, fresh default server | {done} | "
                     f"{done / (result.elapsed or math.nan):.0f} req/s, p50 "
                     f"{percentile(result.latencies, 0.5):.1f} ms, p99 "
                     f"{percentile(result.latencies, 0.99):.1f} ms, {result.errors} errors | "
                     f"{soak.rss_before:.0f} | {soak.rss_peak:.0f} | {soak.rss_after:.0f} |")
    titles = {"bomb-png": f"PNG, IHDR declares {BOMB_PNG_SIDE}x{BOMB_PNG_SIDE}",
              "bomb-jpeg": f"JPEG, SOF0 declares {BOMB_JPEG_SIDE}x{BOMB_JPEG_SIDE}",
              "big-post": f"POST of {BIG_POST_BYTES // 2**20} MB"}
    for name, probe in res.probes.items():
        times = probe.latencies
        lines.append(f"| {titles[name]} | {len(times)} | {_codes(probe.codes)}; p50 "
                     f"{percentile(times, 0.5):.1f} ms, max {max(times, default=math.nan):.1f} "
                     f"ms | {probe.rss_before:.0f} | {probe.rss_peak:.0f} | "
                     f"{probe.rss_after:.0f} |")
    return lines


def memory_checks(res: Results) -> list[str]:
    """Check rows of the memory block."""
    rows = []
    if res.soak is not None:
        after, done = res.soak.rss_after, len(res.soak.result.latencies)
        rows.append(_check(f"RSS after {done:,} cached requests (c=64), per worker process",
                           after, f"{after:.0f} MB (one process, {res.workers} threads; "
                           f"peak {res.soak.rss_peak:.0f} MB)", "≤ 150 MB", after <= 150))
    bombs = [res.probes[name] for name in ("bomb-png", "bomb-jpeg") if name in res.probes]
    if bombs:
        worst = max(max(p.latencies, default=math.nan) for p in bombs)
        grew = max(p.growth for p in bombs)
        ok = all(p.all(EXCEED) for p in bombs)
        shown = "; ".join(f"{p.name[5:].upper()} p50 {percentile(p.latencies, 0.5):.1f} / max "
                          f"{max(p.latencies, default=math.nan):.1f} ms" for p in bombs)
        rows.append(_check(f"decompression bombs refused with `{EXCEED}`", worst,
                           f"{shown}; RSS +{grew:.1f} MB; "
                           f"{'every reply' if ok else 'NOT every reply'} `{EXCEED}`",
                           "< 50 ms", ok and worst < 50))
    big = res.probes.get("big-post")
    if big is not None:
        ok = big.all(TOO_LARGE)
        rows.append(_check(f"{BIG_POST_BYTES // 2**20} MB POST: server RSS change (peak)",
                           big.growth, f"+{big.growth:.1f} MB; reply {_codes(big.codes)} in "
                           f"{max(big.latencies, default=math.nan) / 1000:.2f} s", "< 20 MB",
                           ok and big.growth < 20))
    return rows
