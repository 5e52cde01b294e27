"""Per-action cost: the uncached cost of each image action on the same 640x457 JPEG, one run.

For each action, in the same ``bda-emulator serve --cache-size 0`` process: the bare compute
of its pipeline in this process (decode, regions, encoders, serialisation: the floor), then
sequential signed requests with distinct bodies (the same pixels, another sha256, so nothing is
cached) from this process, timed end to end, with the server's CPU seconds per request. The
two actions alternate in blocks so that a drifting machine affects both alike. Writes
``benchmarks/actions-results.md``; never asserts a timing.

Run ``python -m benchmarks.actions [--quick]`` from the repository root (``make bench`` does).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from emulator.actions import segment_customized_portrait_pic as custom
from emulator.actions import segment_portrait_pic as portrait
from emulator.actions.results import compute_reply
from emulator.testing import tc3_headers

from .harness import Server, cpu_seconds, emulator_argv
from .inputs import REF, after_soi, make_photo
from .report import preamble

OUT = Path(__file__).resolve().parent / "actions-results.md"
ACTIONS: dict[str, tuple[bytes, bytes]] = {  # body around the base64: head, tail
    custom.ACTION: (b'{"Image":"', b'","SegmentationOptions":{"Head":true}}'),
    portrait.ACTION: (b'{"Image":"', b'"}'),
}
FLOORS: dict[str, Callable[[bytes], object]] = {
    custom.ACTION: lambda jpeg: compute_reply(jpeg, ("Head",), 5),
    portrait.ACTION: lambda jpeg: portrait.compute_reply(jpeg, False, 5),
}


def _body(action: str, rest: bytes, number: int) -> bytes:
    import base64

    head, tail = ACTIONS[action]
    prefix = b"\xff\xd8\xff\xfe\x00\x0e" + b"%012d" % number  # 18 bytes: base64 stays aligned
    return head + base64.b64encode(prefix) + rest + tail


def _post(port: int, action: str, body: bytes) -> None:
    headers = tc3_headers(f"127.0.0.1:{port}", body, action=action)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as resp:
        reply = json.loads(resp.read())["Response"]
    if "Error" in reply:
        raise RuntimeError(f"{action}: {reply['Error']}")


def measure(requests: int, blocks: int, floor_runs: int) -> dict[str, dict[str, float]]:
    jpeg = make_photo(REF, 2)
    rest = after_soi(jpeg)
    serial = itertools.count(1)
    figures: dict[str, dict[str, list[float]]] = {a: {"e2e": [], "cpu": [], "floor": []}
                                                  for a in ACTIONS}
    with Server(emulator_argv(0, 1), "bda-emulator --cache-size 0 --workers 1") as server:
        for action in ACTIONS:  # warm-up: lazy imports, pools
            _post(server.port, action, _body(action, rest, next(serial)))
        for _ in range(blocks):
            for action in ACTIONS:
                for _ in range(floor_runs):
                    started = time.perf_counter()
                    FLOORS[action](jpeg)
                    figures[action]["floor"].append(time.perf_counter() - started)
                bodies = [_body(action, rest, next(serial)) for _ in range(requests)]
                cpu0 = cpu_seconds(server.pid)
                for body in bodies:
                    started = time.perf_counter()
                    _post(server.port, action, body)
                    figures[action]["e2e"].append(time.perf_counter() - started)
                figures[action]["cpu"].append((cpu_seconds(server.pid) - cpu0) / requests)
    return {action: {"floor_ms": statistics.median(f["floor"]) * 1000,
                     "request_ms": statistics.median(f["e2e"]) * 1000,
                     "server_cpu_ms": statistics.median(f["cpu"]) * 1000}
            for action, f in figures.items()}


def render(results: dict[str, dict[str, float]]) -> str:
    base = results[custom.ACTION]
    lines = [*preamble("bda-emulator per-action cost"),
             "- Input: one 640x457 photo-like JPEG, distinct bodies (nothing cached), "
             "sequential requests, 1 image worker; medians", "",
             "| action | compute floor ms | request ms (end to end) | server CPU ms / request "
             "| request / customised action's |", "|---|---:|---:|---:|---:|"]
    for action, row in results.items():
        lines.append(f"| {action} | {row['floor_ms']:.1f} | {row['request_ms']:.1f} | "
                     f"{row['server_cpu_ms']:.1f} | "
                     f"{row['request_ms'] / base['request_ms']:.2f} |")
    return "\n".join([*lines, ""])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: a few requests")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    requests, blocks, floors = (3, 1, 2) if args.quick else (20, 4, 5)
    results = measure(requests, blocks, floors)
    text = render(results)
    print(text)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
