"""Scenarios: named, ordered rules that make chosen requests fail, slow down or break.

A scenario file is JSON checked against ``schemas/scenario.schema.json``; a bad file fails with
its path and the JSON pointer of the problem. Each rule has a *match* (all given facts must
hold), an *effect* or an ordered *sequence* of effects, and a *lifetime* (``times``, a
``window`` of seconds after loading, a seeded ``probability``). Rules are tried in order:
delays add up and evaluation goes on; the first error, transport fault, tripped rate limit or
``pass`` ends it. A request no rule takes is processed normally.

Effects are named by one key: ``{"error": {"code": ..., "message"?, "details"?}}``,
``{"delay": {"seconds"} | {"distribution": "uniform"|"lognormal", ...}}``,
``{"rate_limit": {"limit", "per_seconds"?}}``, ``{"gateway": {"status": 502|503|504}}``,
``{"hang": {"max_seconds"?}}``, and ``"pass"``, ``"reset"``, ``"close"``, ``"truncated"``,
``"malformed_json"``, ``"hang"`` alone.

``X-Emulator-Scenario: <name>`` runs one request past a loaded or bundled scenario before the
active ones; its state (counters, sequence position, draws) lives on among the requests that
name it until a reset. Randomness is a per-rule ``random.Random`` seeded from the file, so the
same scenario meets the same sequence of requests with the same draws. Time is the emulator's
clock, passed in: this module does no I/O beyond reading files and holds no global state.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from emulator import strictjson
from emulator.facts import Facts
from emulator.faults import Delay, Effect, Pass
from emulator.resources import fixture_path, schema_path
from emulator.rules import Rule, build_rule
from emulator.strictjson import NonFiniteNumber, pointer
from emulator.text import clip

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
#: Longest scenario name (the schema's ``maxLength``): a longer header names nothing.
MAX_NAME_CHARS = 200
#: Rules in one scenario (the schema's ``maxItems``), checked before anything else is read.
MAX_RULES = 100
#: Scenarios active at once, and per-request (``X-Emulator-Scenario``) ones kept at once.
MAX_SCENARIOS = 100


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names its source and JSON pointer."""


class UnknownScenario(ScenarioError):
    """``X-Emulator-Scenario`` names neither a loaded nor a bundled scenario."""


class ScenarioLimit(ScenarioError):
    """Adding the scenario would pass ``MAX_SCENARIOS``."""


@dataclass(slots=True)
class Scenario:
    """A loaded scenario and its live state (rule counters, request ordinal)."""

    name: str
    description: str
    rules: list[Rule]
    document: Mapping[str, Any]
    source: str
    loaded_at: float = 0.0
    requests: int = 0

    def fresh(self, now: float) -> Scenario:
        """The same scenario with its state as at loading, loaded at ``now``."""
        return parse(self.document, self.source, now)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "source": self.source,
                "loaded_at": self.loaded_at, "requests": self.requests,
                "rules": [rule.describe() for rule in self.rules]}


@dataclass(slots=True)
class Decision:
    """What the scenarios want done with one request."""

    delay: float = 0.0
    effect: Effect | None = None
    rules: list[str] = field(default_factory=list)


# -- loading ------------------------------------------------------------------------------------

@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(schema_path("scenario.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def parse(document: Any, source: str, now: float = 0.0) -> Scenario:
    """Validate ``document`` (schema, then codes and patterns) and build the scenario."""
    import jsonschema

    rules = document.get("rules") if isinstance(document, dict) else None
    if isinstance(rules, list) and len(rules) > MAX_RULES:  # before validating every rule
        raise ScenarioError(f"{source}: at /rules: {len(rules)} rules; a scenario may have "
                            f"{MAX_RULES} at most")
    error = jsonschema.exceptions.best_match(_validator().iter_errors(document))
    if error is not None:
        raise ScenarioError(f"{source}: at {pointer(list(error.absolute_path))}: {error.message}")
    seed = document.get("seed", 0)
    rules = []
    for index, rule in enumerate(document["rules"]):
        try:
            rules.append(build_rule(rule, index, f"{seed}/{document['name']}"))
        except ValueError as exc:
            where, message = exc.args
            raise ScenarioError(f"{source}: at {pointer(['rules', index])}{where}: "
                                f"{message}") from exc
    return Scenario(document["name"], document.get("description", ""), rules, document,
                    source, loaded_at=now)


def load_text(text: str | bytes, source: str, now: float = 0.0) -> Scenario:
    """A scenario from JSON text."""
    try:
        document = strictjson.loads(text)
    except NonFiniteNumber as exc:
        raise ScenarioError(f"{source}: {exc}") from exc
    except (ValueError, RecursionError) as exc:
        raise ScenarioError(f"{source}: at /: not JSON ({exc})") from exc
    return parse(document, source, now)


def load_file(path: Path, now: float = 0.0) -> Scenario:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: {exc.strerror or exc}") from exc
    return load_text(text, str(path), now)


def load_paths(paths: Iterable[Path], now: float = 0.0) -> list[Scenario]:
    """Files, and folders (every ``*.json`` below, sorted); names must be unique."""
    found: dict[str, Scenario] = {}
    for path in paths:
        files = sorted(Path(path).rglob("*.json")) if Path(path).is_dir() else [Path(path)]
        for file in files:
            scenario = load_file(file, now)
            if scenario.name in found:
                raise ScenarioError(f"{file}: at /name: scenario {scenario.name!r} is also "
                                    f"defined in {found[scenario.name].source}")
            found[scenario.name] = scenario
    if len(found) > MAX_SCENARIOS:
        raise ScenarioError(f"{len(found)} scenarios to load; {MAX_SCENARIOS} may be active")
    return list(found.values())


def bundled_root() -> Path:
    return fixture_path("scenarios")


def bundled_names() -> list[str]:
    """Every bundled scenario, named by its path under ``fixtures/scenarios`` without .json."""
    root = bundled_root()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.json"))


def load_bundled(name: str, now: float = 0.0) -> Scenario | None:
    """The bundled scenario ``name`` (e.g. ``drills/flaky-10``), or None."""
    if len(name) > MAX_NAME_CHARS or not NAME.fullmatch(name):
        return None
    path = bundled_root() / f"{name}.json"
    return load_file(path, now) if path.is_file() else None


# -- deciding -----------------------------------------------------------------------------------

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
                raise UnknownScenario(f"X-Emulator-Scenario `{clip(name, 100)}` is neither "
                                      "loaded nor bundled")
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

