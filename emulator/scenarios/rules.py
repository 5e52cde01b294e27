"""One scenario rule: what it matches, what it does, and how long it lives.

Built from an already schema-checked rule document by :func:`build_rule`, which raises
``ValueError(<pointer inside the rule>, <problem>)`` for what a schema cannot say (an
undocumented code, a bad regular expression). State — hits, position in a sequence, draws,
rate-limit windows — lives in a counters store (:mod:`emulator.scenarios.counters`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.errors import CATALOGUE
from emulator.scenarios.counters import Plan, Step, Tally
from emulator.scenarios.effects import (
    FAULT_KINDS,
    Delay,
    Effect,
    ErrorEffect,
    JobEffect,
    Pass,
    RateLimit,
    TransportFault,
)
from emulator.scenarios.facts import Facts
from emulator.state.tasks import JobPlan

_FACTS = ("action", "secret_id", "region", "signature_method", "image_sha256", "host")


@dataclass(frozen=True, slots=True)
class Ordinal:
    """Which requests (1-based, counted per scenario since loading) a rule may take."""

    values: frozenset[int] = frozenset()
    start: int = 1
    stop: int | None = None
    every: int = 1

    def accepts(self, n: int) -> bool:
        if self.values:
            return n in self.values
        return n >= self.start and (self.stop is None or n <= self.stop) and \
            (n - self.start) % self.every == 0


@dataclass(frozen=True, slots=True)
class Match:
    """All given conditions must hold; an empty match takes every request."""

    facts: tuple[tuple[str, frozenset[str]], ...] = ()
    options: tuple[tuple[str, bool], ...] = ()
    url_pattern: re.Pattern[str] | None = None
    headers: tuple[tuple[str, frozenset[str]], ...] = ()
    ordinal: Ordinal | None = None

    @property
    def needs_image(self) -> bool:
        return any(name == "image_sha256" for name, _ in self.facts)

    def accepts(self, facts: Facts, ordinal: int) -> bool:
        return (all(getattr(facts, name) in allowed for name, allowed in self.facts)
                and all(facts.options.get(k, False) is v for k, v in self.options)
                and (self.url_pattern is None
                     or (facts.url is not None and self.url_pattern.search(facts.url) is not None))
                and all(facts.headers.get(k) in allowed for k, allowed in self.headers)
                and (self.ordinal is None or self.ordinal.accepts(ordinal)))


class Rule:
    """A match, one effect or an ordered sequence, and a lifetime. Holds no live state: its
    counters live in a :class:`~emulator.scenarios.counters.Counters` store."""

    def __init__(self, name: str, match: Match, effects: tuple[Effect, ...], *,
                 sequence: bool = False, cycle: bool = False, times: int | None = None,
                 after: float = 0.0, until: float | None = None,
                 probability: float | None = None, seed: int | str = 0,
                 document: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.match = match
        self.effects = effects
        self.sequence = sequence
        self.cycle = cycle
        self.times = times
        self.after = after
        self.until = until
        self.probability = probability
        self.document = document or {}
        self.strict = bool(self.document.get("strict", False))
        self.seed = str(seed)
        self.plan = Plan(times=times, bound=len(effects) if sequence and not cycle else None,
                         probability=probability, seed=self.seed,
                         rates=tuple((e.limit, e.per_seconds) if isinstance(e, RateLimit)
                                     else None for e in effects))

    def admits(self, facts: Facts, ordinal: int, elapsed: float) -> bool:
        """Whether the rule's match and window take the request (before its counters)."""
        return self.match.accepts(facts, ordinal) and not (
            (self.after and elapsed < self.after)
            or (self.until is not None and elapsed >= self.until))

    def effect_of(self, step: Step) -> Effect:
        """The effect of a step that acts: a tripped rate limit becomes its error; a delay is
        drawn from the rule's seed and the hit's number."""
        effect = self.effects[step.position]
        if isinstance(effect, RateLimit):
            error = effect.error(step.count)
            return ErrorEffect(error.code, details=tuple(error.details.items()))
        if isinstance(effect, Delay):
            return Delay(seconds=effect.sample(random.Random(f"{self.seed}/delay/{step.hit}")))
        return effect

    def remaining(self, tally: Tally) -> int | None:
        """How many more times the rule can act (None: unbounded)."""
        bounds = [] if self.times is None else [self.times - tally.hits]
        if self.sequence and not self.cycle:
            bounds.append(len(self.effects) - tally.position)
        return max(min(bounds), 0) if bounds else None

    def describe(self, tally: Tally) -> dict[str, Any]:
        """The rule as written, with its counters."""
        return {**self.document, "name": self.name, "matched": tally.matched,
                "hits": tally.hits, "remaining": self.remaining(tally)}


def build_rule(doc: Mapping[str, Any], index: int, default_seed: str) -> Rule:
    """A :class:`Rule` from a schema-valid document, or ``ValueError(pointer, problem)``."""
    name = doc.get("name", f"rule-{index}")
    if ("sequence" in doc) == ("effect" in doc):
        raise ValueError("", "needs exactly one of `effect` and `sequence`")
    if "sequence" in doc:
        effects = tuple(_effect(e, f"/sequence/{i}") for i, e in enumerate(doc["sequence"]))
    else:
        effects = (_effect(doc["effect"], "/effect"),)
    window = doc.get("window", {})
    after, until = float(window.get("after", 0)), window.get("until")
    if until is not None and until <= after:
        raise ValueError("/window/until", "must be later than `after`")
    return Rule(name, _match(doc.get("match", {})), effects, sequence="sequence" in doc,
                cycle=doc.get("cycle", False), times=doc.get("times"), after=after,
                until=None if until is None else float(until),
                probability=doc.get("probability"),
                seed=doc.get("seed", f"{default_seed}/{index}/{name}"), document=doc)


def _match(doc: Mapping[str, Any]) -> Match:
    pattern = None
    if "url_pattern" in doc:
        try:
            pattern = re.compile(doc["url_pattern"])
        except re.error as exc:
            raise ValueError("/match/url_pattern", f"not a regular expression ({exc})") from exc
    ordinal = doc.get("ordinal")
    if isinstance(ordinal, int):
        ordinal = [ordinal]
    return Match(
        facts=tuple((name, _set(doc[name])) for name in _FACTS if name in doc),
        options=tuple(doc.get("options", {}).items()),
        url_pattern=pattern,
        headers=tuple((k.lower(), _set(v)) for k, v in doc.get("headers", {}).items()),
        ordinal=None if ordinal is None else (
            Ordinal(values=frozenset(ordinal)) if isinstance(ordinal, list) else
            Ordinal(start=ordinal.get("from", 1), stop=ordinal.get("to"),
                    every=ordinal.get("every", 1))))


def _set(value: str | list[str]) -> frozenset[str]:
    return frozenset([value] if isinstance(value, str) else value)


def _effect(doc: str | Mapping[str, Any], where: str) -> Effect:
    """``"reset"`` or ``{"reset": {}}``, ``{"error": {"code": ...}}``, ``{"delay": {...}}`` …"""
    args: Mapping[str, Any] = {}
    if isinstance(doc, str):
        kind = doc
    else:
        ((kind, args),) = doc.items()
    where = f"{where}/{kind}"
    if kind == "error":
        if args["code"] not in CATALOGUE:
            raise ValueError(f"{where}/code", f"{args['code']!r} is not a documented error code")
        details = tuple(sorted((k, str(v)) for k, v in args.get("details", {}).items()))
        return ErrorEffect(args["code"], args.get("message"), details)
    if kind == "delay":
        distribution = args.get("distribution", "fixed")
        if distribution == "uniform" and args["high"] < args["low"]:
            raise ValueError(f"{where}/high", "must not be below `low`")
        return Delay(kind=distribution, seconds=args.get("seconds", 0.0),
                     low=args.get("low", 0.0), high=args.get("high", 0.0),
                     median=args.get("median", 1.0), sigma=args.get("sigma", 0.0),
                     cap=args.get("cap", 60.0))
    if kind == "rate_limit":
        return RateLimit(args["limit"], args.get("per_seconds", 1.0))
    if kind == "pass":
        return Pass()
    if kind == "job":
        stuck = args.get("stuck", {})
        return JobEffect(JobPlan(fail_at=args.get("fail_at"),
                                 error_msg=args.get("error_msg", "video error"),
                                 stuck_state=stuck.get("state"),
                                 stuck_seconds=float(stuck.get("seconds", 0)),
                                 corrupt_md5=args.get("corrupt_md5", False),
                                 url_ttl=args.get("url_ttl")))
    fault = next(k for k in FAULT_KINDS if k == kind)
    return TransportFault(fault, status=args.get("status", 502),
                          max_seconds=args.get("max_seconds", 120.0))
