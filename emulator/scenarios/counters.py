"""The live state of scenarios — request ordinals, rule hits, sequence positions, seeded draws,
rate-limit windows — behind one small async interface, so it can live in this process (the
default, :class:`MemoryCounters`) or in Redis for several processes
(:mod:`emulator.state.redis_counters`), with the same semantics.

A rule's *step* is the one atomic decision: unless its ``times`` or its sequence is used up,
count the match, make its seeded draw, pick its effect, count a rate-limit window, and — if it
acts — count the hit and advance the sequence. Both stores implement :data:`STEP_SEMANTICS`
step for step; a Redis store runs it as one Lua script, so a ``times: 1`` rule acts once in
total across every process.

Draws are counter-based — the *n*-th draw of a rule is a hash of its seed and *n* — rather than
a stream of one generator, so every process agrees on draw *n* without sharing a generator.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from emulator.state.counts import Plan, Step, Tally

__all__ = ["MAX_RATE_KEYS", "Counters", "MemoryCounters", "Plan", "Step", "Tally", "draw"]

#: Distinct SecretIds a rate-limit rule keeps windows for; the oldest is forgotten first.
MAX_RATE_KEYS = 10_000
#: Scenarios whose counters one process keeps (active and per-request ones are bounded far
#: below; this bounds what a missed ``forget`` could leave behind).
MAX_COUNTED = 4096

STEP_SEMANTICS = """
1. used up (hits >= times, or a non-cycling sequence at its end): no effect;
2. matched += 1; with a probability, draw(seed, matched) >= probability: no effect;
3. effect = effects[position % len(effects)];
4. a rate limit counts the request in its SecretId's window; within the limit: no effect;
5. hits += 1, position += 1: the effect acts.
"""


def draw(seed: str, n: int) -> float:
    """The ``n``-th draw of ``seed`` in [0, 1): the first 52 bits of SHA-1 (what Redis's Lua
    ``redis.sha1hex`` computes too, so both stores draw alike)."""
    digest = hashlib.sha1(f"{seed}/{n}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:13], 16) / 16**13


class Counters(Protocol):
    """Where scenario state lives. ``uid`` names one loading of one scenario."""

    async def begin(self, uids: Sequence[str]) -> list[int]:
        """Count one request for each scenario; their new ordinals."""
        ...

    async def step(self, uid: str, index: int, plan: Plan, key: str, now: float) -> Step: ...

    async def read(self, uid: str, rules: int) -> tuple[int, list[Tally]]:
        """A scenario's ordinal and its rules' tallies."""
        ...

    async def forget(self, uids: Sequence[str]) -> None: ...


@dataclass(slots=True)
class _Rule:
    matched: int = 0
    hits: int = 0
    position: int = 0
    windows: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)


@dataclass(slots=True)
class _Scenario:
    requests: int = 0
    rules: dict[int, _Rule] = field(default_factory=dict)


class MemoryCounters:
    """This process's counters: the default store, and the reference semantics."""

    def __init__(self) -> None:
        self._scenarios: OrderedDict[str, _Scenario] = OrderedDict()

    def _get(self, uid: str) -> _Scenario:
        found = self._scenarios.get(uid)
        if found is None:
            while len(self._scenarios) >= MAX_COUNTED:
                self._scenarios.popitem(last=False)
            found = self._scenarios[uid] = _Scenario()
        return found

    async def begin(self, uids: Sequence[str]) -> list[int]:
        ordinals = []
        for uid in uids:
            scenario = self._get(uid)
            scenario.requests += 1
            ordinals.append(scenario.requests)
        return ordinals

    async def step(self, uid: str, index: int, plan: Plan, key: str, now: float) -> Step:
        rule = self._get(uid).rules.setdefault(index, _Rule())
        if (plan.times is not None and rule.hits >= plan.times) or \
                (plan.bound is not None and rule.position >= plan.bound):
            return Step(False, 0, rule.hits)
        rule.matched += 1
        if plan.probability is not None and draw(plan.seed, rule.matched) >= plan.probability:
            return Step(False, 0, rule.hits)
        position = rule.position % len(plan.rates)
        rate = plan.rates[position]
        count = 0
        if rate is not None:
            count = _count(rule.windows, key, now, rate[1])
            if count <= rate[0]:
                return Step(False, position, rule.hits, count)
        rule.hits += 1
        rule.position += 1
        return Step(True, position, rule.hits, count)

    async def read(self, uid: str, rules: int) -> tuple[int, list[Tally]]:
        scenario = self._scenarios.get(uid) or _Scenario()
        tallies = []
        for index in range(rules):
            rule = scenario.rules.get(index) or _Rule()
            tallies.append(Tally(rule.matched, rule.hits, rule.position))
        return scenario.requests, tallies

    async def forget(self, uids: Sequence[str]) -> None:
        for uid in uids:
            self._scenarios.pop(uid, None)

    def windows(self, uid: str, index: int) -> OrderedDict[str, deque[float]]:
        """A rule's rate-limit windows (for the bound's test)."""
        return self._get(uid).rules.setdefault(index, _Rule()).windows


def _count(windows: OrderedDict[str, deque[float]], key: str, now: float, per: float) -> int:
    window = windows.get(key)
    if window is None:
        if len(windows) >= MAX_RATE_KEYS:
            windows.popitem(last=False)  # bounded: forget the oldest key
        window = windows[key] = deque()
    while window and window[0] <= now - per:
        window.popleft()
    window.append(now)
    return len(window)
