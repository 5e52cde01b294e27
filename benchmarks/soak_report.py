"""The report of ``benchmarks.soak``: the run's figures (:class:`Run`), its verdict and its
markdown (the mix, the replies by class, client and emulator agreeing, memory, the checks)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .report import check_row, percentile
from .soak_journal import Journal
from .soak_load import CONCURRENCY
from .soak_mix import CLASSES, DESCRIBE, KINDS, UNEXPECTED, Reply

GROWTH_MIN_REQUESTS = 5_000  # below this, RSS growth is reported but not judged
GROWTH_LIMIT = 10.0  # % after warm-up
WARMUP = 0.10  # share of the requests that is warm-up


@dataclass
class Run:
    """Everything the report needs."""

    requests: int
    schedule: list[str]
    replies: list[Reply]
    sent: int
    elapsed: float
    rss: list[tuple[str, int, float]]  # (point, replies so far, MB)
    rss_peak: float
    journal: Journal
    workers: str

    @property
    def growth(self) -> float:
        """RSS growth from the end of warm-up to the end, %."""
        warm = next((mb for _, done, mb in self.rss if done >= WARMUP * self.requests),
                    self.rss[-1][2])
        return (self.rss[-1][2] - warm) / warm * 100

    @property
    def judged(self) -> bool:
        return self.requests >= GROWTH_MIN_REQUESTS

    def count(self, klass: str) -> int:
        return sum(r.klass == klass for r in self.replies)

    @property
    def complete(self) -> bool:
        return len(self.replies) == self.requests

    @property
    def failed(self) -> list[str]:
        reasons = []
        if self.count(UNEXPECTED):
            reasons.append(f"{self.count(UNEXPECTED)} UNEXPECTED replies")
        if not self.journal.agrees:
            reasons.append("the journal disagrees with the client")
        if not self.complete:
            reasons.append(f"only {len(self.replies)} of {self.requests} requests within the "
                           "time cap")
        if self.judged and self.growth >= GROWTH_LIMIT:
            reasons.append(f"RSS grew {self.growth:.1f} % after warm-up")
        return reasons


def _pct(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f} %" if whole else "–"


def render(run: Run) -> str:
    """The report body, markdown."""
    total = len(run.replies)
    lines = ["## Mix", "", "| kind | weight | sent | expected reply (unless a fault is injected) |",
             "|---|---:|---:|---|"]
    planned = Counter(run.schedule[:run.sent])
    for kind, (weight, code) in KINDS.items():
        lines.append(f"| {kind}: {DESCRIBE[kind]} | {weight} % | {planned[kind]} | "
                     f"{f'`{code}`' if code else 'success'} |")
    lines += ["", "## Replies", "", "| class | replies | share |", "|---|---:|---:|"]
    lines += [f"| {klass} | {run.count(klass)} | {_pct(run.count(klass), total)} |"
              for klass in CLASSES]
    lines += ["", f"Throughput {total / run.elapsed:.0f} replies/s over {run.elapsed:.1f} s "
              f"(concurrency {CONCURRENCY}).", "", "Latency (ms, from sending to the last byte "
              "of the reply; a reset ends when the client sees it):", "",
              "| class | replies | p50 | p99 | max |", "|---|---:|---:|---:|---:|"]
    for klass in (*CLASSES, "all"):
        times = [r.latency_ms for r in run.replies if klass in ("all", r.klass)]
        if times:
            lines.append(f"| {klass} | {len(times)} | {percentile(times, 0.5):.1f} | "
                         f"{percentile(times, 0.99):.1f} | {max(times):.1f} |")
    client = Counter(r.outcome for r in run.replies)
    klass_of = {r.outcome: r.klass for r in run.replies}
    lines += ["", "## Client and emulator agree", "", "Per outcome: the client's count and the "
              "emulator's coverage counters (`GET /_emulator/coverage`).", "",
              "| outcome | class | client | emulator | agree |", "|---|---|---:|---:|---|"]
    for outcome in sorted(set(client) | set(run.journal.coverage)):
        mine, theirs = client[outcome], run.journal.coverage[outcome]
        lines.append(f"| `{outcome}` | {klass_of.get(outcome, '–')} | {mine} | {theirs} | "
                     f"{'yes' if mine == theirs else 'NO'} |")
    j = run.journal
    hits = ", ".join(f"{name} {count}" for name, count in j.rule_hits.items())
    lines += ["", f"Journal (`GET /_emulator/requests`): recorded {j.recorded} (client sent "
              f"{run.sent}), kept {j.kept} (size {j.size}), dropped {j.dropped}; {j.matched} kept "
              f"entries match a reply the client saw by RequestId and code, "
              f"{len(j.mismatched)} do not (entries of transport faults have no reply to match). "
              f"Coverage counted {j.coverage_requests} requests. Scenario rule hits: {hits}."]
    if j.problems:
        lines += ["", "Disagreements:", *(f"- {text}" for text in j.problems),
                  *(f"- {text}" for text in j.mismatched[:5])]
    lines += ["", "## Server memory", "", "VmRSS of the `bda-emulator serve` process (one "
              f"process; its image workers are threads), sampled as the replies arrived; peak "
              f"{run.rss_peak:.0f} MB.", "", "| point | replies | RSS MB |", "|---|---:|---:|"]
    lines += [f"| {point} | {done} | {mb:.1f} |" for point, done, mb in run.rss]
    growth = run.growth
    unexpected = run.count(UNEXPECTED)
    lines += ["", "## Checks", "", "| check | value | target | met |", "|---|---|---|---|",
              check_row("UNEXPECTED replies", str(unexpected), "0", unexpected == 0),
              check_row("RSS growth after warm-up (end / after the first 10 %)",
                        f"{growth:+.1f} %" + ("" if run.judged else
                                              f" (not judged below {GROWTH_MIN_REQUESTS} "
                                              "requests)"),
                        f"< {GROWTH_LIMIT:g} %", (growth < GROWTH_LIMIT) if run.judged else None),
              check_row("journal agrees with the client", "yes" if j.agrees else "no", "yes",
                        j.agrees),
              check_row("requests completed within the time cap", f"{total} of {run.requests}",
                        "all", run.complete)]
    odd = [r for r in run.replies if r.klass == UNEXPECTED]
    if odd:
        lines += ["", "First UNEXPECTED replies:",
                  *(f"- {r.kind}: {r.outcome} {r.detail}" for r in odd[:10])]
    return "\n".join(lines)
