"""The active scenarios and their decision for one request.

``X-Emulator-Scenario: <name>`` runs one request past a loaded or bundled scenario before the
active ones; its state (counters, sequence position, draws) lives on among the requests that
name it until a reset. Rules are tried in order: delays add up and evaluation goes on; the
first error, transport fault, tripped rate limit or ``pass`` ends it. Time is the emulator's
clock, passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.scenarios.effects import Delay, Effect, Pass
from emulator.scenarios.facts import Facts
from emulator.scenarios.loading import (
    MAX_SCENARIOS,
    Scenario,
    ScenarioError,
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


#: Scenarios held at once over every account's namespace (each one's own cap: MAX_SCENARIOS).
MAX_SCENARIOS_TOTAL = 1000


@dataclass(slots=True)
class _Space:
    """One namespace: the global one (``None``) or an account's."""

    active: dict[str, Scenario] = field(default_factory=dict)
    per_request: dict[str, Scenario] = field(default_factory=dict)


class ScenarioStore:
    """The active scenarios per namespace, those named per request, and the start state.

    The global namespace holds the scenarios loaded at start and those put without an
    account; they see every request. An account's namespace (``account=<SecretId>``: a test's
    own account) holds scenarios that see only that account's requests, with their own
    counters, sequences and per-request state, so parallel test suites do not meet.
    """

    def __init__(self, start: Sequence[Scenario] = (), now: float = 0.0) -> None:
        self._start = list(start)
        self._spaces: dict[str | None, _Space] = {}
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

    def reset(self, now: float, account: str | None = None) -> None:
        """Back to the start: the scenarios loaded at start with fresh counters, no account's
        scenarios (``account``: only that namespace is emptied)."""
        if account is not None:
            self._spaces.pop(account, None)
            return
        self._spaces = {None: _Space({s.name: s.fresh(now) for s in self._start})}

    def put(self, scenario: Scenario, account: str | None = None) -> bool:
        """Add or replace by name; True when it replaced one. ``ScenarioLimit`` when full."""
        space = self._space(account)
        replaced = scenario.name in space.active
        if not replaced and (len(space.active) >= MAX_SCENARIOS
                             or self._total() >= MAX_SCENARIOS_TOTAL):
            raise ScenarioLimit(f"{MAX_SCENARIOS} scenarios are active, the most allowed; "
                                "delete one first")
        space.active[scenario.name] = scenario
        space.per_request.pop(scenario.name, None)
        return replaced

    def delete(self, name: str, account: str | None = None) -> bool:
        space = self._space(account)
        space.per_request.pop(name, None)
        return space.active.pop(name, None) is not None

    def clear(self, account: str | None = None) -> list[str]:
        space = self._space(account)
        names = list(space.active)
        space.active.clear()
        space.per_request.clear()
        return names

    def named(self, name: str, now: float, account: str | None = None) -> Scenario:
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
                del space.per_request[next(iter(space.per_request))]
            space.per_request[name] = scenario
        return scenario

    def _chosen(self, account: str | None, header: str | None, now: float) -> list[Scenario]:
        chosen = [self.named(header, now, account)] if header else []
        pools = [self.active.values()]
        if account is not None and account in self._spaces:
            pools.append(self._spaces[account].active.values())
        for pool in pools:
            chosen += [s for s in pool if not chosen or s is not chosen[0]]
        return chosen

    def needs_image(self, header: str | None, now: float, account: str | None = None) -> bool:
        """Whether matching needs the image's sha256 (decoding megabytes otherwise skipped)."""
        try:
            scenarios = self._chosen(account, header, now)
        except ScenarioError:  # decide() reports an unknown name
            scenarios = self._chosen(account, None, now)
        return any(rule.match.needs_image for scenario in scenarios for rule in scenario.rules)

    def decide(self, facts: Facts, now: float, header: str | None = None,
               account: str | None = None) -> Decision:
        """Run the request past the named scenario (if any), the global ones, then those of
        ``account``'s namespace (the request's own account, when it is a known one)."""
        chosen = self._chosen(account, header, now)
        for scenario in chosen:
            scenario.requests += 1
        decision = Decision()
        for scenario in chosen:
            for rule in scenario.rules:
                effect = rule.evaluate(facts, scenario.requests, now - scenario.loaded_at, now)
                if effect is None:
                    continue
                decision.rules.append(f"{scenario.name}#{rule.name}")
                if isinstance(effect, Delay):
                    decision.delay += effect.seconds
                    continue
                decision.effect = None if isinstance(effect, Pass) else effect
                return decision
        return decision

    def describe(self, account: str | None = None) -> dict[str, Any]:
        """A namespace's scenarios with their counters and, for strict ones, what is left."""
        space = self._space(account) if account is None or account in self._spaces else _Space()
        return {"scenarios": [s.describe() for s in space.active.values()],
                "per_request": [s.describe() for s in space.per_request.values()
                                if s.name not in space.active],
                "pending": [p for s in space.active.values() for p in s.pending()]}

    def forget(self, account: str) -> None:
        """Drop an account's namespace (its account was deleted)."""
        self._spaces.pop(account, None)
