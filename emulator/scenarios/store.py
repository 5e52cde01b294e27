"""The active scenarios and their decision for one request.

``X-Emulator-Scenario: <name>`` runs one request past a loaded or bundled scenario before the
active ones; its state (counters, sequence position, draws) lives on among the requests that
name it until a reset. Rules are tried in order: delays add up and evaluation goes on; the
first error, transport fault, tripped rate limit or ``pass`` ends it. Time is the emulator's
clock, passed in.
"""

from __future__ import annotations

import contextlib
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


class ScenarioStore:
    """The active scenarios, those named per request, and the start state to reset to."""

    def __init__(self, start: Sequence[Scenario] = (), now: float = 0.0) -> None:
        self._start = list(start)
        self.active: dict[str, Scenario] = {}
        self.per_request: dict[str, Scenario] = {}
        self.reset(now)

    def reset(self, now: float) -> None:
        """Back to the scenarios loaded at start, with fresh counters."""
        self.active = {s.name: s.fresh(now) for s in self._start}
        self.per_request.clear()

    def put(self, scenario: Scenario) -> bool:
        """Add or replace by name; True when it replaced one. ``ScenarioLimit`` when full."""
        replaced = scenario.name in self.active
        if not replaced and len(self.active) >= MAX_SCENARIOS:
            raise ScenarioLimit(f"{MAX_SCENARIOS} scenarios are active, the most allowed; "
                                "delete one first")
        self.active[scenario.name] = scenario
        self.per_request.pop(scenario.name, None)
        return replaced

    def delete(self, name: str) -> bool:
        self.per_request.pop(name, None)
        return self.active.pop(name, None) is not None

    def clear(self) -> list[str]:
        names = list(self.active)
        self.active.clear()
        self.per_request.clear()
        return names

    def named(self, name: str, now: float) -> Scenario:
        """The scenario an ``X-Emulator-Scenario`` header names; its state lives on."""
        scenario = self.active.get(name) or self.per_request.get(name)
        if scenario is None:
            scenario = load_bundled(name, now)
            if scenario is None:
                raise UnknownScenario(unknown_reasons(name)["reason"])
            if len(self.per_request) >= MAX_SCENARIOS:  # bundled names bound it; be explicit
                del self.per_request[next(iter(self.per_request))]
            self.per_request[name] = scenario
        return scenario

    def needs_image(self, header: str | None, now: float) -> bool:
        """Whether matching needs the image's sha256 (decoding megabytes otherwise skipped)."""
        scenarios = list(self.active.values())
        if header:
            with contextlib.suppress(ScenarioError):  # decide() reports an unknown name
                scenarios.append(self.named(header, now))
        return any(rule.match.needs_image for scenario in scenarios for rule in scenario.rules)

    def decide(self, facts: Facts, now: float, header: str | None = None) -> Decision:
        """Run the request past the named scenario (if any), then the active ones."""
        chosen = [self.named(header, now)] if header else []
        chosen += [s for s in self.active.values() if not chosen or s is not chosen[0]]
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

    def describe(self) -> dict[str, Any]:
        return {"scenarios": [s.describe() for s in self.active.values()],
                "per_request": [s.describe() for s in self.per_request.values()
                                if s.name not in self.active]}

