"""Loading scenarios: named, ordered rules that make chosen requests fail, slow down or break.

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

Bundled scenarios are named by their path under ``fixtures/scenarios`` without ``.json``
(``drills/flaky-10``). Randomness is a per-rule sequence of draws seeded from the file
(:func:`emulator.scenarios.counters.draw`), so the same scenario meets the same sequence of
requests with the same draws. This module does no I/O
beyond reading files and holds no global state (:mod:`emulator.scenarios.store` holds it).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from emulator import strictjson
from emulator.configerror import ConfigError
from emulator.resources import fixture_path, schema_path
from emulator.scenarios.counters import Tally
from emulator.scenarios.rules import Rule, build_rule
from emulator.strictjson import NonFiniteNumber, pointer

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
#: Longest scenario name (the schema's ``maxLength``): a longer header names nothing.
MAX_NAME_CHARS = 200
#: Rules in one scenario (the schema's ``maxItems``), checked before anything else is read.
MAX_RULES = 100
#: Scenarios active at once, and per-request (``X-Emulator-Scenario``) ones kept at once.
MAX_SCENARIOS = 100


class ScenarioError(ConfigError):
    """A scenario that cannot be used; the message names its source and JSON pointer."""


class UnknownScenario(ScenarioError):
    """``X-Emulator-Scenario`` names neither a loaded nor a bundled scenario."""


class ScenarioLimit(ScenarioError):
    """Adding the scenario would pass ``MAX_SCENARIOS``."""


@dataclass(slots=True)
class Scenario:
    """A loaded scenario. Its live state (request ordinal, rule counters) is kept by a
    counters store under ``uid``, which names this loading: loading it again starts afresh."""

    name: str
    description: str
    rules: list[Rule]
    document: Mapping[str, Any]
    source: str
    loaded_at: float = 0.0
    uid: str = field(default_factory=lambda: secrets.token_hex(8))

    def fresh(self, now: float) -> Scenario:
        """The same scenario with its state as at loading, loaded at ``now``."""
        return parse(self.document, self.source, now)

    @property
    def strict(self) -> bool:
        """Whether every rule's plan must be used up (``"strict": true`` in the document)."""
        return bool(self.document.get("strict", False))

    def pending(self, tallies: Sequence[Tally]) -> list[dict[str, Any]]:
        """What strict rules have left: sequence steps or ``times`` never consumed."""
        left = []
        for rule, tally in zip(self.rules, tallies, strict=True):
            if not (self.strict or rule.strict):
                continue
            if rule.sequence and not rule.cycle and tally.position < len(rule.effects):
                left.append({"scenario": self.name, "rule": rule.name, "kind": "steps",
                             "unused": len(rule.effects) - tally.position,
                             "of": len(rule.effects)})
            elif rule.times is not None and tally.hits < rule.times:
                left.append({"scenario": self.name, "rule": rule.name, "kind": "times",
                             "unused": rule.times - tally.hits, "of": rule.times})
        return left

    def describe(self, requests: int, tallies: Sequence[Tally]) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "source": self.source,
                "loaded_at": self.loaded_at, "requests": requests, "strict": self.strict,
                "rules": [rule.describe(t) for rule, t in zip(self.rules, tallies, strict=True)],
                "pending": self.pending(tallies)}


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(schema_path("scenario.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def parse(document: Any, source: str, now: float = 0.0, uid: str | None = None) -> Scenario:
    """Validate ``document`` (schema, then codes and patterns) and build the scenario
    (``uid``: the loading it continues, as another process made it)."""
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
    scenario = Scenario(document["name"], document.get("description", ""), rules, document,
                        source, loaded_at=now)
    if uid is not None:
        scenario.uid = uid
    return scenario


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
