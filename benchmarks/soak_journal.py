"""The emulator's own account of a soak run, checked against the client's: the journal
(``GET /_emulator/requests``), the coverage counters and the fault scenario's rule hits."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .harness import http_call
from .soak_mix import INJECTED, RULE_LABELS, SCENARIO, Reply


def admin(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    """One admin call: (HTTP status, parsed JSON)."""
    status, data = http_call(port, method, f"/_emulator{path}", body,
                             {"Content-Type": "application/json"} if body is not None else {})
    return status, json.loads(data)


@dataclass
class Journal:
    """What the emulator says it served, and whether it matches the client."""

    recorded: int
    dropped: int
    kept: int
    size: int
    matched: int  # kept entries whose RequestId and code the client saw
    mismatched: list[str]
    coverage: Counter[str]
    coverage_requests: int
    rule_hits: dict[str, int]
    problems: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return not self.problems


def read_journal(port: int, replies: Sequence[Reply], sent: int) -> Journal:
    """Fetch the journal, coverage and rule hits; compare them with the client's view."""
    _, requests = admin(port, "GET", "/requests")
    _, cover = admin(port, "GET", "/coverage")
    _, scenarios = admin(port, "GET", "/scenarios")
    seen = {r.request_id: r.outcome for r in replies if r.request_id}
    matched, mismatched = 0, []
    for entry in requests["requests"]:
        if entry["code"].startswith("transport."):
            continue  # the client never saw this RequestId: no Tencent reply was sent
        code = seen.get(entry["request_id"])
        if code == entry["code"]:
            matched += 1
        else:
            mismatched.append(f"{entry['request_id']}: journal {entry['code']}, client {code}")
    coverage: Counter[str] = Counter({"OK": cover["ok"], **cover["returned"],
                                      **cover["transport"]})
    coverage = +coverage
    rules = {rule["name"]: rule["hits"] for s in scenarios["scenarios"]
             if s["name"] == SCENARIO["name"] for rule in s["rules"]}
    journal = Journal(requests["recorded"], requests["dropped"], requests["count"],
                      requests["size"], matched, mismatched, coverage, cover["requests"], rules)
    client = Counter(r.outcome for r in replies)
    injected = Counter(r.outcome for r in replies if r.klass == INJECTED)
    checks = [
        (journal.recorded == sent, f"journal recorded {journal.recorded}, client sent {sent}"),
        (journal.kept == min(journal.recorded, journal.size),
         f"journal keeps {journal.kept} of {journal.recorded} (size {journal.size})"),
        (journal.dropped == journal.recorded - journal.kept,
         f"journal dropped {journal.dropped}, expected {journal.recorded - journal.kept}"),
        (not mismatched, f"{len(mismatched)} journal entries disagree with the client"),
        (journal.coverage_requests == sent,
         f"coverage counted {journal.coverage_requests} requests, client sent {sent}"),
        (coverage == client, "coverage counts differ from the client's: "
                             f"{dict(coverage - client)} / {dict(client - coverage)}"),
        (all(rules.get(name) == injected[label] for name, label in RULE_LABELS.items()),
         f"scenario rule hits {rules}, client saw {dict(injected)}"),
    ]
    journal.problems = [text for ok, text in checks if not ok]
    return journal
