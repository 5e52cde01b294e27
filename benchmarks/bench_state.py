"""The shared-state cells of ``benchmarks.bench`` (issue 17): cached and uncached 640x457
throughput of one process with the in-memory store, one process with the Redis store and two
processes (``--processes 2``, one port) with the Redis store, each figure beside the busy cores
of the server's processes, of the load process and of ``redis-server``; and the cost of the
Redis store per request (Redis minus memory, same cell).

The benchmark starts its own ``redis-server`` (no persistence, a free loopback port) for these
cells and stops it after them; without one, the Redis cells are skipped with one line. Every
server starts on an empty store (``FLUSHALL`` between servers, a fresh ``--state-prefix``).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field

from .bench_load import CellSpec, run_cell_sampled
from .harness import NPROC, CpuMeter, LoadProcess, Server, emulator_argv
from .inputs import REF, label
from .redisproc import RedisServer, find_redis_server
from .report import percentile

MEMORY, REDIS = "memory", "Redis"
LEVELS = (1, 16, 64)  # c=1 (the latency difference) for one-process servers only
SHOWN_CORES = 0.01  # a server process busier than this is listed in the per-process split
#: what would give a server another store or process count than its cell's command line
STATE_ENV = ("BDA_EMULATOR_STATE", "BDA_EMULATOR_STATE_PREFIX", "BDA_EMULATOR_PROCESSES")


def clear_state_env() -> None:
    """Drop :data:`STATE_ENV` from this process's environment (the servers inherit it): the
    in-memory rows must be in-memory, whatever the shell exported."""
    for name in STATE_ENV:
        os.environ.pop(name, None)


@dataclass(frozen=True)
class StateConfig:
    """One server configuration: its store and how many processes share the port."""

    store: str
    processes: int

    @property
    def name(self) -> str:
        """``redis-2``: how ``--state-configs`` names it."""
        return f"{self.store.lower()}-{self.processes}"

    @property
    def levels(self) -> tuple[int, ...]:
        return LEVELS if self.processes == 1 else LEVELS[1:]


CONFIGS = (StateConfig(MEMORY, 1), StateConfig(REDIS, 1), StateConfig(REDIS, 2))


def parse_configs(text: str) -> tuple[StateConfig, ...]:
    """``memory-1,redis-1`` → those configurations (``ValueError`` on an unknown name)."""
    known = {config.name: config for config in CONFIGS}
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown state configurations {unknown}; known: {sorted(known)}")
    return tuple(known[name] for name in names)


@dataclass(frozen=True)
class StatePlan:
    """The bounds of the shared-state cells (c=1 cells: a third of the requests)."""

    requests: int  # uncached cells
    cached_requests: int
    duration: float
    threads: int | None
    configs: tuple[StateConfig, ...] = CONFIGS
    redis_server: str | None = None  # the executable; None: on PATH or Debian's

    def requests_for(self, cached: bool, concurrency: int) -> int:
        count = self.cached_requests if cached else self.requests
        return max(2, count // 3) if concurrency == 1 else count


@dataclass(frozen=True)
class StateRow:
    """One shared-state cell: throughput, latency, CPU per request and busy cores."""

    config: StateConfig
    cached: bool
    concurrency: int
    done: int
    rps: float
    p50: float
    p99: float
    errors: int
    server_ms: float  # server CPU (all its processes and threads) per request
    redis_ms: float  # redis-server CPU per request (NaN without Redis)
    server_cores: tuple[float, ...]  # busy cores of each server process, largest first
    load_cores: float
    redis_cores: float
    machine_cores: float  # every process of the machine (/proc/stat)

    @property
    def server_total(self) -> float:
        return sum(self.server_cores)

    @property
    def other_cores(self) -> float:
        """Busy cores of processes outside this cell (the machine minus server, load process
        and redis-server)."""
        redis = 0.0 if math.isnan(self.redis_cores) else self.redis_cores
        return max(0.0, self.machine_cores - self.server_total - self.load_cores - redis)

    def markdown(self) -> str:
        shown = [cores for cores in self.server_cores if cores >= SHOWN_CORES]
        split = f" ({' + '.join(f'{c:.2f}' for c in shown)})" if len(shown) > 1 else ""
        return (f"| {self.config.store} | {self.config.processes} | "
                f"{'yes' if self.cached else 'no'} | {self.concurrency} | {self.rps:.1f} | "
                f"{self.p50:.1f} | {self.p99:.1f} | {self.errors} | {self.server_ms:.2f} | "
                f"{_num(self.redis_ms, '.2f')} | {self.server_total:.2f}{split} | "
                f"{self.load_cores:.2f} | {_num(self.redis_cores, '.2f')} | "
                f"{self.machine_cores:.2f} |")


@dataclass
class StateMatrix:
    """The shared-state cells of one run, and what kept any from being measured."""

    plan: StatePlan
    rows: list[StateRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    redis_version: str = ""
    redis_peak: str = ""
    servers: int = 0  # servers started: each Redis one gets its own --state-prefix
    seconds: float = 0.0  # wall time of these cells, redis-server's start and stop included

    def row(self, name: str, cached: bool, concurrency: int) -> StateRow | None:
        for row in self.rows:
            if (row.config.name, row.cached, row.concurrency) == (name, cached, concurrency):
                return row
        return None


def _num(value: float, spec: str) -> str:
    return "–" if math.isnan(value) else format(value, spec)


def _serve_options(config: StateConfig, redis: RedisServer | None, serial: int) -> list[str]:
    """The ``bda-emulator serve`` options of ``config`` (memory: the default store)."""
    extra: list[str] = []
    if redis is not None:
        extra = ["--state", redis.url, "--state-prefix", f"bench{serial}"]
    if config.processes > 1:
        extra += ["--processes", str(config.processes)]
    return extra


def _cells(load: LoadProcess, config: StateConfig, cached: bool, plan: StatePlan,
           redis: RedisServer | None, matrix: StateMatrix) -> None:
    """The cells of one configuration, cached or not, on one fresh server."""
    matrix.servers += 1
    extra = _serve_options(config, redis, matrix.servers)
    name = f"bda-emulator {'' if cached else '--cache-size 0 '}{' '.join(extra)}".strip()
    try:
        server = Server(emulator_argv(None if cached else 0, plan.threads, extra), name,
                        listeners=config.processes)
    except RuntimeError as exc:
        last = str(exc).strip().splitlines()[-1:] or [""]
        matrix.notes.append(f"{config.name} {'cached' if cached else 'uncached'}: not "
                            f"measured, `{name}` did not start ({last[0][:200]})")
        print(matrix.notes[-1], file=sys.stderr, flush=True)
        return
    with server:
        for level in config.levels:
            warmup = 2 if level == 1 else (level if cached else min(level, 16))
            spec = CellSpec(server.port, REF, not cached, level,
                            plan.requests_for(cached, level), plan.duration, warmup=warmup,
                            warmup_concurrent=True)
            meter = CpuMeter(server.pid, load.pid, *([redis.pid] if redis else []))
            result, _, _, _ = run_cell_sampled(load, spec, server, meter=meter)
            done, elapsed = len(result.latencies), result.elapsed or math.nan
            redis_cpu = meter.seconds(2) if redis else math.nan
            server_cpu = meter.seconds(0)
            matrix.rows.append(StateRow(
                config, cached, level, done, done / elapsed,
                percentile(result.latencies, 0.5), percentile(result.latencies, 0.99),
                result.errors, server_cpu * 1000 / done if done else math.nan,
                redis_cpu * 1000 / done if done else math.nan,
                tuple(cpu / elapsed for cpu in meter.split(0)), meter.seconds(1) / elapsed,
                redis_cpu / elapsed, meter.machine / elapsed))
            if result.first_error:
                matrix.notes.append(f"{config.name} {'cached' if cached else 'uncached'} "
                                    f"c={level}: first error {result.first_error}")
            print(matrix.rows[-1].markdown(), file=sys.stderr, flush=True)
    if redis is not None:
        redis.flush()


def run_state(load: LoadProcess, plan: StatePlan) -> StateMatrix:
    """Every shared-state cell: uncached then cached, each over the configurations in order
    (memory, Redis, Redis with 2 processes: the cells compared are seconds apart), one server
    at a time; ``redis-server`` runs only during these cells."""
    matrix = StateMatrix(plan)
    began = time.monotonic()
    redis: RedisServer | None = None
    if any(config.store == REDIS for config in plan.configs):
        executable = find_redis_server(plan.redis_server)
        if executable is None:
            matrix.notes.append("redis-server not found (Debian: apt-get install redis-server): "
                                "the Redis cells are skipped")
            print(matrix.notes[-1], file=sys.stderr, flush=True)
        else:
            try:
                redis = RedisServer(executable)
            except RuntimeError as exc:
                matrix.notes.append(f"the Redis cells are skipped: {exc}".splitlines()[0])
            else:
                matrix.redis_version = redis.version()
    try:
        for cached in (False, True):
            for config in plan.configs:
                if config.store == REDIS and redis is None:
                    continue
                _cells(load, config, cached, plan, redis if config.store == REDIS else None,
                       matrix)
    finally:
        if redis is not None:
            matrix.redis_peak = redis.info().get("used_memory_peak_human", "?")
            redis.stop()
        matrix.seconds = time.monotonic() - began
    return matrix


# --- report -------------------------------------------------------------------------------------

STATE_HEADER = ("| state | processes | cached | concurrency | req/s | p50 ms | p99 ms | errors "
                "| server CPU ms/req | redis-server CPU ms/req | busy cores: server (per process) "
                "| busy cores: load process | busy cores: redis-server "
                "| busy cores: whole machine |")


def _redis_cost(matrix: StateMatrix) -> list[str]:
    """Redis minus memory, one process, for every cell measured with both."""
    lines = ["Cost of the Redis store per request (one process, Redis minus memory, same cell; "
             "ms): *server CPU* is the emulator's, *total CPU* adds redis-server's; the c=1 "
             "rows give the latency cost of one request.", "",
             "| cached | concurrency | server CPU memory → Redis (Δ) | redis-server CPU | "
             "Δ total CPU | p50 memory → Redis (Δ) | req/s Redis / memory |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    count = 0
    for cached in (False, True):
        for level in LEVELS:
            memory = matrix.row(f"{MEMORY.lower()}-1", cached, level)
            redis = matrix.row(f"{REDIS.lower()}-1", cached, level)
            if memory is None or redis is None:
                continue
            count += 1
            delta = redis.server_ms - memory.server_ms
            lines.append(
                f"| {'yes' if cached else 'no'} | {level} | {memory.server_ms:.2f} → "
                f"{redis.server_ms:.2f} ({delta:+.2f}) | {redis.redis_ms:.2f} | "
                f"{delta + redis.redis_ms:+.2f} | {memory.p50:.1f} → {redis.p50:.1f} "
                f"({redis.p50 - memory.p50:+.1f}) | {redis.rps / memory.rps:.2f} |")
    return lines if count else []


def _two_processes(matrix: StateMatrix) -> list[str]:
    """What 2 processes did against 1 on this machine, in busy cores (not a scaling claim)."""
    parts = []
    for cached in (False, True):
        for level in LEVELS[1:]:
            one = matrix.row(f"{REDIS.lower()}-1", cached, level)
            two = matrix.row(f"{REDIS.lower()}-2", cached, level)
            if one is None or two is None:
                continue
            parts.append(f"{'cached' if cached else 'uncached'} c={level}: "
                         f"{two.rps / one.rps:.2f}× the req/s of one process, server "
                         f"{one.server_total:.2f} → {two.server_total:.2f} busy cores, load "
                         f"process {one.load_cores:.2f} → {two.load_cores:.2f}, redis-server "
                         f"{one.redis_cores:.2f} → {two.redis_cores:.2f}, whole machine "
                         f"{one.machine_cores:.2f} → {two.machine_cores:.2f}")
    if not parts:
        return []
    return ["", "2 processes (Redis) against 1 process (Redis): " + "; ".join(parts) + "."]


def render_state(matrix: StateMatrix) -> list[str]:
    """The shared-state table, the Redis cost table and what they can and cannot show."""
    plan = matrix.plan
    lines = [f"Shared state (issue 17): {label(REF)}, cached (one repeated request, default "
             "cache) and uncached (`--cache-size 0`, a distinct request each), one server at a "
             "time: in-memory store, Redis store (`--state redis://…`, "
             + (f"redis-server {matrix.redis_version} started by the benchmark on a free "
                "loopback port, no persistence" if matrix.redis_version else
                "no redis-server in this run") +
             "), and `--processes 2` on the Redis store. Bounds: "
             f"{plan.requests} uncached / {plan.cached_requests} cached requests per cell (c=1: "
             f"a third) or {plan.duration:g} s. CPU from /proc/<pid>/stat (utime + stime, every "
             "thread) of every process of the server (the parent and its children), of the "
             "load process and of redis-server, over the timed phase; busy cores = CPU seconds "
             "/ wall seconds; *whole machine* = every process's (/proc/stat), at most "
             f"{NPROC}. These cells took {matrix.seconds:.0f} s.", "", STATE_HEADER,
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    lines += [row.markdown() for row in matrix.rows]
    if not matrix.rows:
        lines.append("| (not measured) | | | | | | | | | | | | | |")
    cost = _redis_cost(matrix)
    lines += ["", *cost] if cost else []
    lines += _two_processes(matrix)
    lines += ["", f"This machine has {NPROC} cores and the load generator runs on them too: "
              "the load process's busy cores (above) are cores the server cannot use, and "
              "redis-server takes its share. So 2 processes cannot show scaling beyond what "
              "the busy-core figures show: where the whole machine is already near "
              f"{NPROC} busy cores with one process, a second process can only move work "
              "between cores, not add any. These rows measure what the Redis store and "
              "a second process cost, not how far they would scale on a larger machine."]
    if matrix.redis_peak:
        lines[-1] += (f" redis-server's peak memory during the cells: {matrix.redis_peak} "
                      "(emptied between servers).")
    if matrix.rows:
        others = sum(row.other_cores for row in matrix.rows) / len(matrix.rows)
        worst = max(matrix.rows, key=lambda row: row.other_cores)
        lines[-1] += (f" Processes outside the cells used {others:.2f} busy cores on average "
                      f"during them (at most {worst.other_cores:.2f}, {worst.config.name} "
                      f"{'cached' if worst.cached else 'uncached'} c={worst.concurrency})"
                      + (": they took cores from the cells, whose figures are lower than on "
                         "an idle machine." if others >= 0.2 else "."))
    if matrix.notes:
        lines += ["", "Shared-state notes:", *(f"- {note}" for note in matrix.notes)]
    return lines
