"""Scenarios without a server: loading and its errors, matching, lifetimes, seeded randomness."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emulator.errors import CATALOGUE
from emulator.resources import fixture_path
from emulator.scenarios.effects import Delay, ErrorEffect, TransportFault
from emulator.scenarios.facts import Facts, gather
from emulator.scenarios.loading import (
    ScenarioError,
    UnknownScenario,
    bundled_names,
    load_bundled,
    load_file,
    load_paths,
    parse,
)
from emulator.scenarios.store import Decision
from emulator.scenarios.store import ScenarioStore as AsyncStore
from emulator.wire.request import RawRequest

ROOT = Path(__file__).resolve().parents[1]
SEGMENT = "SegmentCustomizedPortraitPic"
FACTS = Facts(action=SEGMENT, secret_id="AKIDA", region="ap-guangzhou",
              signature_method="TC3-HMAC-SHA256", options={"Head": True},
              url="https://example.com/a.jpg", image_sha256="ab" * 32,
              headers={"x-test": "yes"})
ERROR = {"error": {"code": "InternalError"}}


class ScenarioStore(AsyncStore):
    """The store, its async calls run to completion (these tests have no event loop)."""

    def decide(self, *args: Any, **kwargs: Any) -> Decision:  # type: ignore[override]
        return asyncio.run(super().decide(*args, **kwargs))

    def describe(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return asyncio.run(super().describe(*args, **kwargs))

    def requests(self, name: str) -> int:
        """How many requests the active scenario ``name`` has seen."""
        scenario = self.active[name]
        return asyncio.run(self.counters.read(scenario.uid, 0))[0]


def store(*rules: dict[str, Any], seed: int | None = None) -> ScenarioStore:
    doc: dict[str, Any] = {"name": "t", "rules": list(rules)}
    if seed is not None:
        doc["seed"] = seed
    return ScenarioStore([parse(doc, "t.json")])


def outcomes(st: ScenarioStore, n: int, facts: Facts = FACTS, now: float = 0.0) -> list[str]:
    return [_name(st.decide(facts, now)) for _ in range(n)]


def _name(decision: Decision) -> str:
    effect = decision.effect
    if isinstance(effect, ErrorEffect):
        return effect.code
    if isinstance(effect, TransportFault):
        return effect.label
    return f"delay {decision.delay:.3f}" if decision.delay else "normal"


# -- loading ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("document", "pointer", "words"), [
    ({"rules": []}, "/", "'name' is a required property"),
    ({"name": "bad name", "rules": []}, "/name", "does not match"),
    ({"name": "t", "rules": [{"effect": {"error": {}}}]}, "/rules/0/effect/error", "'code'"),
    ({"name": "t", "rules": [{"effect": ERROR}, {"effect": {"error": {"code": "Nope"}}}]},
     "/rules/1/effect/error/code", "not a documented error code"),
    ({"name": "t", "rules": [{"effect": {"gateway": {"status": 500}}}]},
     "/rules/0/effect/gateway/status", "502"),
    ({"name": "t", "rules": [{"effect": {"teleport": {}}}]}, "/rules/0/effect",
     "'teleport' was unexpected"),
    ({"name": "t", "rules": [{"effect": "teleport"}]}, "/rules/0/effect", "is not one of"),
    ({"name": "t", "rules": [{"effect": {"reset": {}, "close": {}}}]}, "/rules/0/effect",
     "too many properties"),
    ({"name": "t", "rules": [{"effect": {"reset": {"after": 1}}}]}, "/rules/0/effect/reset",
     "'after' was unexpected"),
    ({"name": "t", "rules": [{"match": {"url_pattern": "("}, "effect": ERROR}]},
     "/rules/0/match/url_pattern", "not a regular expression"),
    ({"name": "t", "rules": [{"match": {"colour": "red"}, "effect": ERROR}]}, "/rules/0/match",
     "'colour' was unexpected"),
    ({"name": "t", "rules": [{"match": {}}]}, "/rules/0", "exactly one of `effect` and"),
    ({"name": "t", "rules": [{"effect": ERROR, "sequence": [ERROR]}]}, "/rules/0",
     "exactly one of"),
    ({"name": "t", "rules": [{"effect": ERROR, "window": {"after": 5, "until": 2}}]},
     "/rules/0/window/until", "later"),
    ({"name": "t", "rules": [{"sequence": [ERROR, {"delay": {"distribution": "uniform",
                                                    "low": 2, "high": 1}}]}]},
     "/rules/0/sequence/1/delay/high", "below"),
    ({"name": "t", "rules": [{"effect": {"delay": {"distribution": "lognormal"}}}]},
     "/rules/0/effect/delay", "'median'"),
])
def test_invalid_files_name_file_and_pointer(tmp_path: Path, document: dict[str, Any],
                                             pointer: str, words: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    assert str(info.value).startswith(f"{path}: at {pointer}: "), info.value
    assert words in str(info.value)


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ScenarioError, match=r"broken\.json: at /: not JSON"):
        load_file(tmp_path / "broken.json")
    with pytest.raises(ScenarioError, match=r"missing\.json"):
        load_file(tmp_path / "missing.json")


def test_folders_load_recursively_and_names_must_be_unique(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.json").write_text(json.dumps({"name": "one", "rules": []}))
    (tmp_path / "two.json").write_text(json.dumps({"name": "two", "rules": []}))
    assert [s.name for s in load_paths([tmp_path])] == ["one", "two"]
    (tmp_path / "dup.json").write_text(json.dumps({"name": "one", "rules": []}))
    with pytest.raises(ScenarioError, match=r"dup\.json: at /name: scenario 'one' is also"):
        load_paths([tmp_path])


def test_bundled_scenarios_are_named_by_their_path() -> None:
    names = bundled_names()
    assert len([n for n in names if n.startswith("errors/")]) == len(CATALOGUE) == 73
    for name in names:
        scenario = load_bundled(name)
        assert scenario is not None and scenario.name == name
    assert load_bundled("drills/nope") is None
    assert load_bundled("../credentials") is None


def test_error_scenarios_are_in_sync_with_the_catalogue() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_error_scenarios.py"),
                          "--check"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    folder = fixture_path("scenarios/errors")
    assert {p.stem for p in folder.glob("*.json")} == set(CATALOGUE)


def test_make_error_scenarios_check_reports_drift(tmp_path: Path) -> None:
    script = str(ROOT / "scripts" / "make_error_scenarios.py")
    subprocess.run([sys.executable, script, "--out-dir", str(tmp_path)], check=True,
                   capture_output=True, timeout=60)
    (tmp_path / "InternalError.json").write_text("{}")
    (tmp_path / "Retired.json").write_text("{}")
    out = subprocess.run([sys.executable, script, "--out-dir", str(tmp_path), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "InternalError.json: missing or out of date" in out.stderr
    assert "Retired.json: not in the catalogue" in out.stderr


# -- matching -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("match", "taken"), [
    ({}, True),
    ({"action": SEGMENT}, True),
    ({"action": ["DetectBody", SEGMENT]}, True),
    ({"action": "DetectBody"}, False),
    ({"secret_id": "AKIDA"}, True),
    ({"secret_id": "AKIDB"}, False),
    ({"region": ["ap-beijing", "ap-guangzhou"]}, True),
    ({"region": "ap-shanghai"}, False),
    ({"signature_method": "TC3-HMAC-SHA256"}, True),
    ({"signature_method": ["HmacSHA1", "HmacSHA256"]}, False),
    ({"options": {"Head": True}}, True),
    ({"options": {"Head": True, "Hair": False}}, True),
    ({"options": {"Hair": True}}, False),
    ({"image_sha256": "ab" * 32}, True),
    ({"image_sha256": ["cd" * 32]}, False),
    ({"url_pattern": r"example\.com/.*\.jpg$"}, True),
    ({"url_pattern": "^http://"}, False),
    ({"headers": {"X-Test": "yes"}}, True),
    ({"headers": {"x-test": ["no", "maybe"]}}, False),
    ({"headers": {"X-Absent": "yes"}}, False),
    ({"action": SEGMENT, "region": "ap-beijing"}, False),
])
def test_every_fact_can_be_matched(match: dict[str, Any], taken: bool) -> None:
    st = store({"match": match, "effect": ERROR})
    assert outcomes(st, 1) == (["InternalError"] if taken else ["normal"])


def test_ordinal_counts_requests_per_scenario() -> None:
    st = store({"match": {"ordinal": [2, 5]}, "effect": ERROR},
               {"match": {"ordinal": {"from": 7, "every": 2}}, "effect": "close"},
               {"match": {"ordinal": 3}, "effect": "reset"})
    assert outcomes(st, 10) == ["normal", "InternalError", "transport.reset", "normal",
                                "InternalError", "normal", "transport.close", "normal",
                                "transport.close", "normal"]


def test_unmatched_requests_and_empty_scenarios_are_normal() -> None:
    assert _name(ScenarioStore().decide(FACTS, 0.0)) == "normal"
    assert outcomes(store(), 2) == ["normal", "normal"]


def test_url_and_options_unknown_do_not_match() -> None:
    st = store({"match": {"url_pattern": "."}, "effect": ERROR})
    assert outcomes(st, 1, Facts(action=SEGMENT)) == ["normal"]


# -- lifetimes ----------------------------------------------------------------------------------

def test_times_then_fall_through_to_the_next_rule() -> None:
    st = store({"effect": ERROR, "times": 2}, {"effect": {"gateway": {"status": 503}}})
    assert outcomes(st, 4) == ["InternalError", "InternalError", "transport.gateway_503",
                               "transport.gateway_503"]


def test_sequence_fail_fail_succeed_then_normal() -> None:
    st = store({"sequence": [ERROR, {"error": {"code": "RequestLimitExceeded"}},
                             "pass"]},
               {"effect": "reset"})
    # ``pass`` ends evaluation (the reset rule is not reached); then the rule falls through.
    assert outcomes(st, 5) == ["InternalError", "RequestLimitExceeded", "normal",
                               "transport.reset", "transport.reset"]


def test_sequence_cycle_and_times_bound_it() -> None:
    st = store({"sequence": [ERROR, "pass"], "cycle": True, "times": 5})
    assert outcomes(st, 7) == ["InternalError", "normal"] * 2 + ["InternalError", "normal",
                                                                  "normal"]


def test_window_after_loading() -> None:
    st = store({"effect": ERROR, "window": {"after": 10, "until": 20}})
    assert [_name(st.decide(FACTS, t)) for t in (0, 9.9, 10, 19.9, 20)] == [
        "normal", "normal", "InternalError", "InternalError", "normal"]


def test_delays_add_up_and_evaluation_goes_on() -> None:
    st = store({"effect": {"delay": {"seconds": 0.25}}},
               {"effect": {"delay": {"seconds": 0.5}}, "times": 1},
               {"match": {"ordinal": 2}, "effect": ERROR})
    first, second = st.decide(FACTS, 0.0), st.decide(FACTS, 0.0)
    assert (first.delay, first.effect, first.rules) == (0.75, None, ["t#rule-0", "t#rule-1"])
    assert (second.delay, _name(second)) == (0.25, "InternalError")


def test_seeded_probability_is_reproducible() -> None:
    rule = {"effect": ERROR, "probability": 0.3, "seed": 1234}
    runs = [outcomes(store(rule), 200) for _ in range(2)]
    assert runs[0] == runs[1]
    assert 40 <= runs[0].count("InternalError") <= 80
    other = outcomes(store({**rule, "seed": 99}), 200)
    assert other != runs[0]
    # Without an explicit seed, the scenario's seed (default 0) and the rule decide.
    assert outcomes(store({"effect": ERROR, "probability": 0.5}), 50) == \
        outcomes(store({"effect": ERROR, "probability": 0.5}), 50)
    assert outcomes(store({"effect": ERROR, "probability": 0.5}, seed=1), 50) != \
        outcomes(store({"effect": ERROR, "probability": 0.5}, seed=2), 50)


def test_probability_in_a_fresh_process_gives_the_same_draws() -> None:
    code = ("import asyncio; from emulator.scenarios.loading import parse; "
            "from emulator.scenarios.store import ScenarioStore; "
            "from emulator.scenarios.facts import Facts; "
            "st = ScenarioStore([parse({'name': 'p', 'rules': [{'effect': 'reset', "
            "'probability': 0.5}]}, 'x')]); print(''.join('x' if "
            "asyncio.run(st.decide(Facts(), 0)).effect else '.' for _ in range(40)))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert len(outs) == 1


@pytest.mark.parametrize("delay", [
    {"delay": {"distribution": "uniform", "low": 0.1, "high": 0.3}},
    {"delay": {"distribution": "lognormal", "median": 0.2, "sigma": 0.8, "cap": 0.5}},
])
def test_seeded_delay_distributions(delay: dict[str, Any]) -> None:
    draws = [[st.decide(FACTS, 0).delay for _ in range(100)]
             for st in (store({"effect": delay, "seed": 5}), store({"effect": delay, "seed": 5}))]
    assert draws[0] == draws[1]
    assert len(set(draws[0])) > 50
    if delay["delay"]["distribution"] == "uniform":
        assert all(0.1 <= d <= 0.3 for d in draws[0])
    else:
        assert all(0 < d <= 0.5 for d in draws[0]) and max(draws[0]) == 0.5


def test_rate_limit_per_secret_id_with_the_documented_message() -> None:
    st = store({"effect": {"rate_limit": {"limit": 2, "per_seconds": 1}}})
    other = Facts(secret_id="AKIDB")
    at = [st.decide(FACTS, t) for t in (0.0, 0.1, 0.2, 0.3)] + [st.decide(other, 0.4),
                                                                 st.decide(FACTS, 1.35)]
    assert [_name(d) for d in at] == ["normal", "normal", "RequestLimitExceeded",
                                      "RequestLimitExceeded", "normal", "normal"]
    effect = at[3].effect
    assert isinstance(effect, ErrorEffect)
    assert effect.error().message("en-US") == (
        "Your current request times equals to `4` in a second, which exceeds the frequency "
        "limit `2` for a second. Please reduce the frequency of calls.")
    assert effect.error().message("zh-CN") == \
        "您当前每秒请求 `4` 次，超过了每秒频率上限 `2`，请稍后重试。"


def test_error_message_override_and_details() -> None:
    st = store({"sequence": [{"error": {"code": "InternalError", "message": "boom"}},
                             {"error": {"code": "MissingParameter",
                              "details": {"param": "Region"}}}]})
    first, second = (st.decide(FACTS, 0).effect for _ in range(2))
    assert isinstance(first, ErrorEffect) and isinstance(second, ErrorEffect)
    assert first.error().message("zh-CN") == "boom"
    assert second.error().message("zh-CN") == "缺少必要参数`Region`。"


# -- the store ----------------------------------------------------------------------------------

def test_put_replace_delete_reset() -> None:
    start = parse({"name": "start", "rules": [{"effect": ERROR, "times": 1}]}, "s")
    st = ScenarioStore([start])
    assert outcomes(st, 2) == ["InternalError", "normal"]
    added = parse({"name": "added", "rules": [{"effect": "close"}]}, "a")
    assert st.put(added) is False
    assert st.put(parse({"name": "added", "rules": [{"effect": "reset"}]}, "a"))
    assert outcomes(st, 1) == ["transport.reset"]
    assert st.delete("added") and not st.delete("added")
    st.reset(100.0)
    assert list(st.active) == ["start"] and st.active["start"].loaded_at == 100.0
    assert outcomes(st, 2) == ["InternalError", "normal"]
    assert st.clear() == ["start"] and outcomes(st, 1) == ["normal"]


def test_header_applies_a_bundled_scenario_to_that_request_only() -> None:
    st = ScenarioStore()
    decision = st.decide(FACTS, 0.0, "errors/InternalError")
    assert _name(decision) == "InternalError"
    assert decision.rules == ["errors/InternalError#InternalError"]
    assert _name(st.decide(FACTS, 0.0)) == "normal"
    # Its state lives on among the requests that name it: times 1 is used up.
    assert _name(st.decide(FACTS, 0.0, "errors/InternalError")) == "normal"
    assert [s["name"] for s in st.describe()["per_request"]] == ["errors/InternalError"]
    st.reset(0.0)
    assert _name(st.decide(FACTS, 0.0, "errors/InternalError")) == "InternalError"
    with pytest.raises(UnknownScenario, match="`nope` is neither loaded nor bundled"):
        st.decide(FACTS, 0.0, "nope")


def test_header_scenario_first_then_the_active_ones() -> None:
    st = store({"effect": {"delay": {"seconds": 0.5}}})
    st.put(parse({"name": "named", "rules": [{"effect": {"delay": {"seconds": 1}}}]},
                 "n"))
    decision = st.decide(FACTS, 0.0, "named")
    assert decision.delay == 1.5 and decision.rules == ["named#rule-0", "t#rule-0"]
    assert st.requests("named") == 1


def test_describe_shows_rules_with_hit_counts() -> None:
    st = store({"name": "boom", "match": {"region": "ap-beijing"}, "effect": ERROR,
                "times": 3}, {"effect": "pass"})
    outcomes(st, 2)
    outcomes(st, 1, Facts(region="ap-beijing"))
    (described,) = st.describe()["scenarios"]
    assert described["requests"] == 3
    assert [(r["name"], r["matched"], r["hits"], r["remaining"]) for r in described["rules"]] \
        == [("boom", 1, 1, 2), ("rule-1", 2, 2, None)]


def test_delay_effects_are_small_named_objects() -> None:
    assert Delay(seconds=2.0).sample(__import__("random").Random(0)) == 2.0
    assert TransportFault("gateway", status=504).label == "transport.gateway_504"
    assert TransportFault("hang").label == "transport.hang"


# -- facts --------------------------------------------------------------------------------------

def test_facts_from_a_v3_json_request() -> None:
    image = fixture_path("images/portrait.png").read_bytes()
    import base64
    import hashlib

    body = json.dumps({"Image": base64.b64encode(image).decode(),
                       "SegmentationOptions": {"Head": True, "Hair": False, "Body": "yes"}})
    raw = RawRequest("POST", "/", "", {
        "content-type": "application/json", "x-tc-action": SEGMENT, "x-tc-region": "ap-beijing",
        "authorization": "TC3-HMAC-SHA256 Credential=AKIDX/2024-01-01/bda/tc3_request, "
                         "SignedHeaders=content-type;host, Signature=abc"}, body.encode())
    facts = gather(raw)
    assert (facts.action, facts.region, facts.secret_id, facts.signature_method) == (
        SEGMENT, "ap-beijing", "AKIDX", "TC3-HMAC-SHA256")
    assert dict(facts.options) == {"Head": True, "Hair": False} and facts.selected == ("Head",)
    assert facts.image_sha256 == hashlib.sha256(image).hexdigest()
    assert facts.image_bytes == len(image)
    assert (facts.image_width, facts.image_height) > (0, 0)


def test_facts_from_a_v1_form_and_from_garbage() -> None:
    form = ("Action=SegmentCustomizedPortraitPic&Region=ap-shanghai&SecretId=AKIDV1&"
            "SignatureMethod=HmacSHA256&SegmentationOptions.Head=true&"
            "Url=https%3A%2F%2Fexample.com%2Fx.jpg")
    raw = RawRequest("POST", "/", "", {"content-type": "application/x-www-form-urlencoded"},
                     form.encode())
    facts = gather(raw)
    assert (facts.action, facts.region, facts.secret_id, facts.signature_method, facts.url) == (
        SEGMENT, "ap-shanghai", "AKIDV1", "HmacSHA256", "https://example.com/x.jpg")
    assert facts.selected == ("Head",)
    junk = gather(RawRequest("POST", "/", "", {"content-type": "text/plain"}, b"\xff{["))
    assert (junk.action, junk.signature_method, junk.image_sha256) == (None, None, None)
    bad_image = gather(RawRequest("POST", "/", "", {"content-type": "application/json"},
                                  b'{"Image": "!!!", "SegmentationOptions": 3}'))
    assert bad_image.image_sha256 is None and dict(bad_image.options) == {}
