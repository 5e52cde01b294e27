"""Soak test of bda-emulator: ``make soak`` (or ``python -m benchmarks.soak [--quick]``).

``bda-emulator serve`` runs as a subprocess with its defaults (one image worker per CPU, result
cache 256, journal 1000). A separate load process sends ``--requests`` TC3-signed requests
(default 10,000; fresh timestamp each) at concurrency 64, in a seeded mix:

* successes — one repeated 300x400 picture (a cache hit after the first), and a rotating set of
  50 distinct small pictures (120x160 … 240x320), each sent with a per-request JPEG comment so
  every one is a cache miss that is segmented, and the result cache churns at its bound;
* natural errors — a wrong SecretKey (``AuthFailure.SignatureFailure``), an unknown action
  (``InvalidAction``), a GIF (``FailedOperation.ImageNotSupported``), a uniform picture
  (``InvalidParameterValue.NoFaceInPhoto``), no ``X-TC-Region`` (``MissingParameter``);
* injected faults — a scenario loaded with ``PUT /_emulator/scenarios`` before the run: seeded
  rules resetting 5 % of the requests, answering 5 % with an nginx 503 page and 5 % with
  ``InternalError`` (with a message of its own, so an emulator bug's InternalError is not
  mistaken for an injected one). The rules are tried in order, so their probabilities are
  0.05, 0.05/0.95 and 0.05/0.90: about 5 % of all requests each.

Every reply is classified: *success*, *expected natural error* (the code its input must give),
*injected fault* (a reset connection, the 503 page, the injected InternalError) or *UNEXPECTED*
(anything else: a non-200 that was not injected, another Content-Type than
``application/json``, a reply without a RequestId, a wrong code, a failed success). After the
run the client's counts are checked against the emulator's own: the journal
(``GET /_emulator/requests``: ``recorded`` = requests sent, ``dropped`` = recorded − kept, and
every kept entry's RequestId and code as the client saw them), the coverage counters
(``GET /_emulator/coverage``: every outcome, transport faults included) and the scenario's rule
hits (``GET /_emulator/scenarios``).

The server's RSS is read at the start, then every 10 % of the replies; growth after warm-up is
end / after-the-first-10 %. Exit status 1 when any reply was UNEXPECTED, the journal disagrees,
the run did not finish within ``--duration``, or (with ``--requests`` ≥ 5000) RSS grew 10 % or
more after warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from .harness import Conditions, LoadProcess, Server, emulator_argv, rss_mb
from .report import percentile, preamble
from .soak_journal import admin, read_journal
from .soak_load import CLIENT_TIMEOUT, CONCURRENCY, LoadResult, LoadSpec, load_worker
from .soak_mix import CLASSES, KINDS, SCENARIO, UNEXPECTED
from .soak_report import Run, render

REQUESTS = 10_000
QUICK_REQUESTS = 600


def soak(requests: int, duration: float, seed: int, server_args: Sequence[str]) -> Run:
    """Start the emulator, load the fault scenario, run the load, read RSS and the journal."""
    rng = random.Random(seed)
    names = list(KINDS)
    schedule = rng.choices(names, weights=[KINDS[n][0] for n in names], k=requests)
    with Server(emulator_argv(extra=server_args), "bda-emulator") as server:
        status, _ = admin(server.port, "POST", "/reset")
        assert status == 200, status
        status, created = admin(server.port, "PUT", "/scenarios", json.dumps(SCENARIO).encode())
        assert status in (200, 201), created
        load = LoadProcess(load_worker)
        load.send(LoadSpec(server.port, schedule, CONCURRENCY, duration))
        rss: list[tuple[str, int, float]] = []
        peak = 0.0
        hard_stop = time.monotonic() + duration + CLIENT_TIMEOUT + 60
        try:
            while True:
                if time.monotonic() > hard_stop:
                    raise RuntimeError("the load process did not finish in time")
                message = load.receive(0.2)
                if message is not None:
                    kind, payload = message
                    if kind == "started":
                        rss.append(("start", 0, rss_mb(server.pid)))
                    elif kind == "progress":
                        tenth = round(payload * 10 / requests)
                        name = {1: "10 % (after warm-up)", 5: "50 % (middle)",
                                10: "100 % (end)"}.get(tenth, f"{tenth * 10} %")
                        rss.append((name, payload, rss_mb(server.pid)))
                    else:
                        result: LoadResult = payload
                        break
                peak = max(peak, rss_mb(server.pid))
        finally:
            load.close(10)
        if not rss or rss[-1][1] != len(result.replies):  # stopped by the time cap
            rss.append(("end (time cap)", len(result.replies), rss_mb(server.pid)))
        peak = max([peak, *(mb for _, _, mb in rss)])
        journal = read_journal(server.port, result.replies, result.sent)
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--workers")
    workers = flags.parse_known_args(list(server_args))[0].workers
    return Run(requests, schedule, result.replies, result.sent, result.elapsed, rss, peak,
               journal, workers or f"default ({os.cpu_count()})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=None,
                        help=f"requests to send (default {REQUESTS}; --quick {QUICK_REQUESTS})")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_REQUESTS} requests")
    parser.add_argument("--duration", type=float, default=None,
                        help="time cap of the load, seconds (default 300; --quick 60)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the request mix")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "soak-results.md",
                        help="markdown report (default benchmarks/soak-results.md)")
    parser.add_argument("--summary", type=Path, default=None,
                        help="also write the figures as JSON here (for tests)")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for bda-emulator serve (repeatable), e.g. "
                             "--server-arg=--workers --server-arg=1")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    requests = args.requests or (QUICK_REQUESTS if args.quick else REQUESTS)
    duration = args.duration or (60.0 if args.quick else 300.0)
    conditions = Conditions()
    run = soak(requests, duration, args.seed, args.server_arg)
    conditions.stop()
    report = render(run)
    failed = run.failed
    verdict = ("**FAILED**: " + "; ".join(failed)) if failed else "**PASSED**"
    header = [
        *preamble("bda-emulator soak"),
        f"- Server: `bda-emulator serve` {shlex.join(args.server_arg) or '(defaults)'}; image "
        f"workers {run.workers}; fault scenario `{SCENARIO['name']}` loaded with "
        "`PUT /_emulator/scenarios`",
        f"- Load: {requests} TC3-signed requests (seed {args.seed}) at concurrency "
        f"{CONCURRENCY} from a separate aiohttp process, time cap {duration:g} s",
        conditions.line(),
        f"- Verdict: {verdict}", "", ""]
    print(report)
    print(f"\n{verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(header) + report + "\n", encoding="utf-8")
    if args.summary is not None:
        summary = {
            "requests": requests, "sent": run.sent, "replies": len(run.replies),
            "classes": {klass: run.count(klass) for klass in CLASSES},
            "unexpected": run.count(UNEXPECTED), "journal_agrees": run.journal.agrees,
            "journal_problems": run.journal.problems,
            "journal": {"recorded": run.journal.recorded, "dropped": run.journal.dropped,
                        "kept": run.journal.kept, "matched": run.journal.matched},
            "rss": [{"point": p, "replies": n, "mb": mb} for p, n, mb in run.rss],
            "growth_pct": run.growth, "growth_judged": run.judged,
            "p50_ms": percentile([r.latency_ms for r in run.replies], 0.5),
            "p99_ms": percentile([r.latency_ms for r in run.replies], 0.99),
            "failed": failed,
            "first_unexpected": [asdict(r) for r in run.replies
                                 if r.klass == UNEXPECTED][:10],
        }
        args.summary.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
