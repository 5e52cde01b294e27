"""The records a scenario-counter store reads and writes (:mod:`emulator.scenarios.counters`
defines what they mean; :mod:`emulator.state.redis_counters` keeps them in Redis)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Plan", "Step", "Tally"]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a step must know of its rule (primitives only: a store needs no rule objects)."""

    times: int | None
    bound: int | None  # a non-cycling sequence's length
    probability: float | None
    seed: str
    rates: tuple[tuple[int, float] | None, ...]  # per effect: a rate limit's (limit, per)


@dataclass(frozen=True, slots=True)
class Step:
    """A step's result: whether the rule acts, with which effect, its hit and window count."""

    acts: bool
    position: int = 0
    hit: int = 0
    count: int = 0


@dataclass(frozen=True, slots=True)
class Tally:
    """A rule's counters as ``describe`` shows them."""

    matched: int = 0
    hits: int = 0
    position: int = 0
