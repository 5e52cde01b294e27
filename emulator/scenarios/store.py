"""The active scenarios and their decision for one request.

``X-Emulator-Scenario: <name>`` runs one request past a loaded or bundled scenario before the
active ones; its state (counters, sequence position, draws) lives on among the requests that
name it until a reset. Rules are tried in order: delays add up and evaluation goes on; the
first error, transport fault, tripped rate limit or ``pass`` ends it. Time is the emulator's
clock, passed in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from emulator.scenarios.counters import Counters, MemoryCounters
from emulator.scenarios.effects import Delay, Effect, Pass
from emulator.scenarios.facts import Facts
from emulator.scenarios.loading import (
    MAX_SCENARIOS,
    Scenario,
    ScenarioLimit,
    UnknownScenario,
    load_bundled,
)
from emulator.text import clip


def unknown_reasons(name: str) -> dict[str, str]:
    """What an ``InvalidParameter`` reply says of an unknown ``X-Emulator-Scenario``, in both
    languages (``reason``: en-US, ``reason_zh``: zh-CN), naming it."""
    shown = clip(name, 100)
    return {"reason": f"X-Emulator-Scenario `{shown}` is neither loaded nor bundled",
            "reason_zh": f"X-Emulator-Scenario `{shown}` 既不是已加载的场景，也不是内置场景。"}


@dataclass(slots=True)
class Decision:
    """What the scenarios want done with one request."""

    delay: float = 0.0
    effect: Effect | None = None
    rules: list[str] = field(default_factory=list)


@lru_cache(maxsize=64)
def load_bundled_cached(name: str) -> Scenario | None:
    """A bundled scenario's definition (for what it matches on, never for its state)."""
    return load_bundled(name)


#: Scenarios held at once over every account's namespace (each one's own cap: MAX_SCENARIOS).
MAX_SCENARIOS_TOTAL = 1000


@dataclass(slots=True)
class _Space:
    """One namespace: the global one (``None``) or an account's."""

    active: dict[str, Scenario] = field(default_factory=dict)
    per_request: dict[str, Scenario] = field(default_factory=dict)


#: How a store hears of a scenario first named by a request: it returns the loading to use
#: (a shared store answers with the one another process adopted first).
Adopt = Callable[[str | None, Scenario], Awaitable[Scenario]]


async def _keep(account: str | None, scenario: Scenario) -> Scenario:
    return scenario


class ScenarioStore:
    """The active scenarios per namespace, those named per request, and the start state.

    The global namespace holds the scenarios loaded at start and those put without an
    account; they see every request. An account's namespace (``account=<SecretId>``: a test's
    own account) holds scenarios that see only that account's requests, with their own
    counters, sequences and per-request state, so parallel test suites do not meet.

    The definitions live here; their counters live in ``counters`` (this process's, or a
    shared store's), keyed by each loading's ``uid``.
    """

    def __init__(self, start: Sequence[Scenario] = (), now: float = 0.0,
                 counters: Counters | None = None) -> None:
        self._start = list(start)
        self._spaces: dict[str | None, _Space] = {}
        self.counters: Counters = counters or MemoryCounters()
        self.adopt: Adopt = _keep
        self._dropped: list[str] = []
        self.reset(now)

    @property
    def active(self) -> dict[str, Scenario]:
        """The global namespace's active scenarios."""
        return self._space(None).active

    def _space(self, account: str | None) -> _Space:
        space = self._spaces.get(account)
        if space is None:
            space = self._spaces[account] = _Space()
        return space

    def _total(self) -> int:
        return sum(len(s.active) + len(s.per_request) for s in self._spaces.values())

    def _drop(self, scenarios: Iterable[Scenario]) -> None:
        self._dropped += [s.uid for s in scenarios]

    async def flush(self) -> None:
        """Let the counters forget the loadings dropped since the last call."""
        dropped, self._dropped = self._dropped, []
        if dropped:
            await self.counters.forget(dropped)

    def reset(self, now: float, account: str | None = None) -> None:
        """Back to the start: the scenarios loaded at start with fresh counters, no account's
        scenarios (``account``: only that namespace is emptied)."""
        if account is not None:
            space = self._spaces.pop(account, None)
            if space is not None:
                self._drop([*space.active.values(), *space.per_request.values()])
            return
        for space in self._spaces.values():
            self._drop([*space.active.values(), *space.per_request.values()])
        self._spaces = {None: _Space({s.name: s.fresh(now) for s in self._start})}

    def put(self, scenario: Scenario, account: str | None = None) -> bool:
        """Add or replace by name; True when it replaced one. ``ScenarioLimit`` when full."""
        space = self._space(account)
        replaced = scenario.name in space.active
        if not replaced and (len(space.active) >= MAX_SCENARIOS
                             or self._total() >= MAX_SCENARIOS_TOTAL):
            raise ScenarioLimit(f"{MAX_SCENARIOS} scenarios are active, the most allowed; "
                                "delete one first")
        old = [s for s in (space.active.get(scenario.name),
                           space.per_request.pop(scenario.name, None)) if s is not None]
        self._drop(s for s in old if s.uid != scenario.uid)
        space.active[scenario.name] = scenario
        return replaced

    def delete(self, name: str, account: str | None = None) -> bool:
        space = self._space(account)
        request = space.per_request.pop(name, None)
        active = space.active.pop(name, None)
        self._drop(s for s in (request, active) if s is not None)
        return active is not None

    def clear(self, account: str | None = None) -> list[str]:
        space = self._space(account)
        names = list(space.active)
        self._drop([*space.active.values(), *space.per_request.values()])
        space.active.clear()
        space.per_request.clear()
        return names

    async def named(self, name: str, now: float, account: str | None = None) -> Scenario:
        """The scenario an ``X-Emulator-Scenario`` header names; its state lives on (in the
        requesting account's namespace)."""
        space = self._space(account)
        scenario = (space.active.get(name) or space.per_request.get(name)
                    or self.active.get(name))
        if scenario is None:
            scenario = load_bundled(name, now)
            if scenario is None:
                raise UnknownScenario(unknown_reasons(name)["reason"])
            if len(space.per_request) >= MAX_SCENARIOS or self._total() >= MAX_SCENARIOS_TOTAL:
                if not space.per_request:
                    raise ScenarioLimit(f"{MAX_SCENARIOS_TOTAL} scenarios are held")
                self._drop([space.per_request.pop(next(iter(space.per_request)))])
            scenario = await self.adopt(account, scenario)
            space.per_request[name] = scenario
        return scenario

    def mirror(self, spaces: dict[str | None, tuple[list[Scenario], list[Scenario]]]) -> None:
        """Hold what a shared store holds: per namespace, its active and per-request
        scenarios (their counters are the shared store's)."""
        self._spaces = {name: _Space({s.name: s for s in active}, {s.name: s for s in named})
                        for name, (active, named) in spaces.items()}
        self._spaces.setdefault(None, _Space())

    def held(self, account: str | None) -> tuple[list[Scenario], list[Scenario]]:
        """A namespace's active and per-request scenarios."""
        space = self._spaces.get(account) or _Space()
        return list(space.active.values()), list(space.per_request.values())

    async def _chosen(self, account: str | None, header: str | None,
                      now: float) -> list[Scenario]:
        chosen = [await self.named(header, now, account)] if header else []
        pools = [self.active.values()]
        if account is not None and account in self._spaces:
            pools.append(self._spaces[account].active.values())
        for pool in pools:
            chosen += [s for s in pool if not chosen or s is not chosen[0]]
        return chosen

    def needs_image(self, header: str | None, account: str | None = None) -> bool:
        """Whether matching needs the image's sha256 (decoding megabytes otherwise skipped):
        a header naming a scenario is assumed to (bundled ones are read only when named)."""
        space = self._spaces.get(account) if account is not None else None
        named = None
        if header:
            named = ((space.active.get(header) or space.per_request.get(header)) if space
                     else None) or self.active.get(header) or load_bundled_cached(header)
        pools: list[Iterable[Scenario]] = [self.active.values()]
        if space is not None:
            pools.append(space.active.values())
        if named is not None:
            pools.append([named])
        return any(rule.match.needs_image for pool in pools for scenario in pool
                   for rule in scenario.rules)

    def quiet(self, account: str | None = None) -> bool:
        """Whether no scenario could act on a request of ``account`` naming none."""
        space = self._spaces.get(account) if account is not None else None
        return not self.active and not (space is not None and space.active)

    async def decide(self, facts: Facts, now: float, header: str | None = None,
                     account: str | None = None) -> Decision:
        """Run the request past the named scenario (if any), the global ones, then those of
        ``account``'s namespace (the request's own account, when it is a known one)."""
        chosen = await self._chosen(account, header, now)
        decision = Decision()
        if not chosen:
            return decision
        ordinals = await self.counters.begin([s.uid for s in chosen])
        key = facts.secret_id or ""
        for scenario, ordinal in zip(chosen, ordinals, strict=True):
            for index, rule in enumerate(scenario.rules):
                if not rule.admits(facts, ordinal, now - scenario.loaded_at):
                    continue
                step = await self.counters.step(scenario.uid, index, rule.plan, key, now)
                if not step.acts:
                    continue
                effect = rule.effect_of(step)
                decision.rules.append(f"{scenario.name}#{rule.name}")
                if isinstance(effect, Delay):
                    decision.delay += effect.seconds
                    continue
                decision.effect = None if isinstance(effect, Pass) else effect
                return decision
        return decision

    async def describe(self, account: str | None = None) -> dict[str, Any]:
        """A namespace's scenarios with their counters and, for strict ones, what is left."""
        active, per_request = self.held(account)
        shown = [s for s in per_request if s.name not in {a.name for a in active}]
        described = {}
        pending = []
        for scenario in [*active, *shown]:
            requests, tallies = await self.counters.read(scenario.uid, len(scenario.rules))
            described[scenario.uid] = scenario.describe(requests, tallies)
            if scenario in active:
                pending += scenario.pending(tallies)
        return {"scenarios": [described[s.uid] for s in active],
                "per_request": [described[s.uid] for s in shown],
                "pending": pending}

    def forget(self, account: str) -> None:
        """Drop an account's namespace (its account was deleted)."""
        self.reset(0.0, account)
