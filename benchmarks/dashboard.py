"""What the dashboard costs the emulator: cached throughput with the picture hook removed, with
the dashboard closed, and with a dashboard tab open and polling.

The load is ``make bench``'s headline cell — the cached 640x457 reply, 16 concurrent signed
requests from a separate load process — against ``bda-emulator serve`` subprocesses:

* **no hook**: the same code with ``Gallery.keep`` replaced by a no-op (the emulator as it was
  before the dashboard);
* **closed**: the emulator as shipped, nobody watching (the hook keeps references only);
* **open**: the same server while one headless Chromium tab (Debian's ``/usr/bin/chromium``
  driven by Playwright) shows ``/_emulator/`` and polls it (the journal every 0.5 s; scenarios,
  clock and coverage every 1.5 s). The browser shares the machine's cores with the server and
  the load, so the server's CPU per request is the figure that isolates the emulator's cost.

The variants alternate in rounds, in a rotating order, so that a drifting machine affects them
alike. Reported: medians, each variant's paired ratio to "no hook" (two servers of the very
same code differ by about ±3 % on a 2-vCPU VM: that is the resolution), the server's CPU
milliseconds per request, the polls the page made, and two micro-measurements: one
``Gallery.keep`` call, and one poll answered with nothing new. Writes
``benchmarks/dashboard-results.md``; never asserts a timing.

Run ``python -m benchmarks.dashboard [--quick]`` from the repository root.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emulator.testing import CHROMIUM, CHROMIUM_ARGS

from .bench_load import CellSpec, run_cell_sampled, start_load
from .harness import Server, emulator_argv, http_call
from .inputs import REF, make_photo
from .report import percentile, preamble

OUT = Path(__file__).resolve().parent / "dashboard-results.md"
CONCURRENCY = 16
VARIANTS = ("no hook", "closed", "open")
_NO_HOOK = ("import sys; from emulator.serve import gallery; "
            "gallery.Gallery.keep = lambda self, request_id, outcome: None; "
            "from emulator.cli import main; sys.exit(main(sys.argv[1:]))")


def no_hook_argv(port: int) -> list[str]:
    """``bda-emulator serve`` with the dashboard's picture hook replaced by a no-op."""
    return [sys.executable, "-c", _NO_HOOK, "serve", "--port", str(port)]


def keep_cost(calls: int = 200_000) -> float:
    """Microseconds per ``Gallery.keep`` of a cached reply (its steady state: full, evicting)."""
    from emulator.actions.results import picture
    from emulator.actions.services import Outcome
    from emulator.serve.gallery import Gallery

    pic = picture(make_photo(REF, 2))
    outcome = Outcome(b'"PortraitImage":"' + b"A" * 60_000 + b'","ImageRects":[]', pic)
    gallery = Gallery()
    ids = [f"{n:036d}" for n in range(calls)]
    started = time.perf_counter()
    for request_id in ids:
        gallery.keep(request_id, outcome)
    return (time.perf_counter() - started) / calls * 1e6


def poll_cost(port: int, polls: int = 300) -> float:
    """Median milliseconds of a poll that finds nothing new (what an open page mostly does)."""
    status, body = http_call(port, "GET", "/_emulator/dashboard/requests?limit=1")
    import json

    latest = json.loads(body)["requests"][-1]["request_id"] if status == 200 else ""
    times = []
    for _ in range(polls):
        started = time.perf_counter()
        http_call(port, "GET", f"/_emulator/dashboard/requests?after={latest}")
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class Tab:
    """One headless Chromium tab showing the dashboard (polls counted by Resource Timing)."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                         args=list(CHROMIUM_ARGS))
        self.page: Any = None

    def open(self, url: str) -> None:
        self.page = self._browser.new_page(viewport={"width": 1366, "height": 900})
        self.page.goto(url)
        self.page.wait_for_selector("#cov-body .cov-cell")
        self.page.evaluate("() => { performance.setResourceTimingBufferSize(100000); "
                           "performance.clearResourceTimings(); }")

    def close(self) -> int:
        """Close the tab; the number of admin calls it made since :meth:`open`."""
        polls = int(self.page.evaluate("() => performance.getEntriesByType('resource')"
                                       ".filter(e => e.name.includes('/_emulator/')).length"))
        self.page.close()
        return polls

    def stop(self) -> None:
        self._browser.close()
        self._playwright.stop()


def measure(duration: float, rounds: int) -> dict[str, Any]:
    jpeg = make_photo(REF, 2)
    load = start_load({REF: jpeg})
    tab = Tab()
    rows: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    try:
        with Server(no_hook_argv, "no hook") as bare, \
                Server(emulator_argv(), "bda-emulator serve") as stock:
            servers = {"no hook": bare, "closed": stock, "open": stock}
            for number in range(rounds):
                turn = number % len(VARIANTS)  # each variant goes first, second and last
                for variant in VARIANTS[turn:] + VARIANTS[:turn]:
                    server = servers[variant]
                    if variant == "open":
                        tab.open(f"http://127.0.0.1:{server.port}/_emulator/")
                    spec = CellSpec(server.port, REF, False, CONCURRENCY, 10**9, duration)
                    result, _rss, (cpu, _load_cpu), _ = run_cell_sampled(load, spec, server)
                    polls = tab.close() if variant == "open" else 0
                    done = len(result.latencies)
                    rows[variant].append({
                        "rps": done / result.elapsed, "p50": percentile(result.latencies, 0.5),
                        "p99": percentile(result.latencies, 0.99), "errors": result.errors,
                        "cpu_ms": cpu / done * 1000 if done else float("nan"),
                        "polls": polls / result.elapsed})
            poll_ms = poll_cost(stock.port)
    finally:
        tab.stop()
        load.close()
    return {"rows": rows, "keep_us": keep_cost(), "poll_ms": poll_ms}


def render(results: dict[str, Any], duration: float, rounds: int) -> str:
    rows: dict[str, list[dict[str, float]]] = results["rows"]

    def med(variant: str, key: str) -> float:
        return statistics.median(row[key] for row in rows[variant])

    lines = [*preamble("bda-emulator dashboard cost"),
             f"- Load: cached 640x457 reply, {CONCURRENCY} concurrent signed requests from a "
             f"separate process, {duration:g} s per cell, {rounds} rounds alternating the "
             "variants; medians of the rounds", "",
             "| variant | req/s | vs no hook (paired) | p50 ms | p99 ms | server CPU ms / request "
             "| page polls / s | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for variant in VARIANTS:
        rps = med(variant, "rps")
        ratio = statistics.median(r["rps"] / b["rps"]
                                  for r, b in zip(rows[variant], rows["no hook"], strict=True))
        lines.append(f"| {variant} | {rps:,.0f} | {ratio:.3f} | {med(variant, 'p50'):.1f} "
                     f"| {med(variant, 'p99'):.1f} | {med(variant, 'cpu_ms'):.3f} | "
                     f"{med(variant, 'polls'):.1f} | "
                     f"{sum(r['errors'] for r in rows[variant]):.0f} |")
    lines += ["", "Each round's req/s: " + "; ".join(
        f"{v}: " + ", ".join(f"{r['rps']:,.0f}" for r in rows[v]) for v in VARIANTS), "",
        f"- One `Gallery.keep` (the hook in the request path): {results['keep_us']:.2f} µs",
        f"- One poll with nothing new, answered: {results['poll_ms']:.2f} ms (median, "
        "sequential, from this process)", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: one short round")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"benchmarks.dashboard needs Chromium at {CHROMIUM}: apt-get install chromium",
              file=sys.stderr)
        return 2
    duration, rounds = (2.0, 1) if args.quick else (6.0, 6)
    text = render(measure(duration, rounds), duration, rounds)
    print(text)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
