"""Hostile input from loopback with public keys or none: each case once turned into a stall, a
bloated journal or an ``InternalError`` (issue 10, items 1 admin, 2, 4, 5, 7, 9)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from tests.helpers import AdminApi, assert_envelope, post_raw, tc3_headers

TOKEN = "drill-token"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(Settings(port=0, workers=1, admin_token=TOKEN, read_timeout=1.0)) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh(emu: EmulatorServer) -> Iterator[None]:
    yield
    AdminApi(emu).reset()


def admin(emu: EmulatorServer, method: str, path: str, body: Any = None,
          raw: bytes | None = None) -> requests.Response:
    return AdminApi(emu)(method, path, body, raw)


def journal(emu: EmulatorServer) -> list[dict[str, Any]]:
    return AdminApi(emu).journal()


def exchange(emu: EmulatorServer, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, read until the server closes (bounded by ``timeout``)."""
    with socket.create_connection((emu.host, emu.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def raw_request(emu: EmulatorServer, extra: dict[str, bytes], body: bytes = b'{"Image":"x"}'
                ) -> dict[str, Any]:
    """A signed request with some header values replaced by raw (possibly non-UTF-8) bytes."""
    headers = {k: v.encode() for k, v in tc3_headers(emu.endpoint, body).items()}
    headers.update(extra)
    head = b"".join(k.encode() + b": " + v + b"\r\n" for k, v in headers.items())
    reply = exchange(emu, b"POST / HTTP/1.1\r\n" + head + b"Content-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % len(body) + body)
    status, _, rest = reply.partition(b"\r\n")
    assert status == b"HTTP/1.1 200 OK", reply[:200]
    head_block, _, payload = rest.partition(b"\r\n\r\n")
    assert b"\r\nContent-Type: application/json\r\n" in b"\r\n" + head_block + b"\r\n"
    return json.loads(payload)["Response"]  # type: ignore[no-any-return]


# -- item 7: client bytes are client mistakes, never InternalError ------------------------------

@pytest.mark.parametrize(("header", "value", "code"), [
    ("X-Emulator-Scenario", b"\xff\xfe", "InvalidParameter"),
    ("X-Emulator-Scenario", b"a" * 300, "InvalidParameter"),
    ("Content-Type", b"application/\xffjson", "InvalidParameter"),
    ("Host", b"127.0.0.1\xff", "AuthFailure.SignatureFailure"),
])
def test_undecodable_or_overlong_header_bytes_get_their_documented_code(
        emu: EmulatorServer, header: str, value: bytes, code: str) -> None:
    reply = raw_request(emu, {header: value})
    assert reply["Error"]["Code"] == code
    assert "\ufffd" in reply["Error"]["Message"] or len(value) > 255 or header == "Host"
    assert [e["code"] for e in journal(emu)] == [code]


def test_non_utf8_admin_token_is_a_401(emu: EmulatorServer) -> None:
    reply = exchange(emu, b"GET /_emulator/requests HTTP/1.1\r\nHost: x\r\n"
                          b"X-Emulator-Token: \xff\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 401 ")


def test_lone_surrogates_in_the_json_body_are_answered(emu: EmulatorServer) -> None:
    body = b'{"Url": "http://\\udcff.example/a.jpg", "SegmentationOptions": {"\\ud800": true}}'
    resp = post_raw(emu.url, body, tc3_headers(emu.endpoint, body))
    assert assert_envelope(resp)["Error"]["Code"] != "InternalError"
    assert admin(emu, "GET", "requests").status_code == 200


# -- item 2: what the journal keeps is bounded before authentication --------------------------

def test_journal_entry_is_bounded_for_a_hostile_unsigned_body(emu: EmulatorServer) -> None:
    options = {("Opt" * 200_000) + str(i): True for i in range(5)}
    options["Head"] = True
    body = json.dumps({"SegmentationOptions": options, "Url": "http://x/" + "u" * 2_000_000,
                       "Image": ""}).encode()
    headers = {"Content-Type": "application/json", "X-TC-Action": "A" * 60_000,
               "X-TC-Region": "r" * 60_000, "Authorization": "Credential=" + "k" * 60_000 + "/"}
    resp = post_raw(emu.url, body, headers)
    assert assert_envelope(resp)["Error"]["Code"].startswith("AuthFailure")
    (entry,) = journal(emu)
    assert entry["options"] == ["Head"]  # only real option names
    assert len(json.dumps(entry)) < 4096, {k: len(str(v)) for k, v in entry.items()}


# -- item 4: no client string longer than its documented limit reaches a regex ----------------

def test_url_fact_is_clipped_before_scenario_regexes(emu: EmulatorServer) -> None:
    from emulator.scenarios.facts import MAX_URL_CHARS, gather
    from emulator.wire.request import RawRequest

    body = json.dumps({"Url": "cos." * 40_000}).encode()
    facts = gather(RawRequest("POST", "/", "", {"content-type": "application/json"}, body))
    assert facts.url is not None and len(facts.url) <= MAX_URL_CHARS + 1
    scenario = {"name": "cos", "rules": [{"match": {"url_pattern": r"cos\..*\.myqcloud\.com"},
                                          "effect": {"error": {"code": "FailedOperation"}}}]}
    assert admin(emu, "PUT", "scenarios", scenario).status_code == 201
    resp = post_raw(emu.url, body, {"Content-Type": "application/json"})
    assert assert_envelope(resp)["Error"]["Code"].startswith("AuthFailure")


def test_credential_fact_reads_a_bounded_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from emulator.scenarios import facts as facts_module
    from emulator.wire.request import RawRequest

    seen: list[int] = []
    real = facts_module._CREDENTIAL

    class Spy:
        def search(self, text: str) -> Any:
            seen.append(len(text))
            return real.search(text)

    monkeypatch.setattr(facts_module, "_CREDENTIAL", Spy())
    header = "Credential=" * 5_800
    facts_module.gather(RawRequest("POST", "/", "", {"authorization": header}, b"{}"))
    assert seen and max(seen) <= facts_module.MAX_AUTHORIZATION_CHARS


# -- item 5: scenarios and rules are bounded --------------------------------------------------

def test_too_many_rules_is_a_400_naming_the_limit(emu: EmulatorServer) -> None:
    from emulator.scenarios.loading import MAX_RULES

    rules = [{"effect": "pass"}] * (MAX_RULES + 1)
    resp = admin(emu, "PUT", "scenarios", {"name": "big", "rules": rules})
    assert resp.status_code == 400 and str(MAX_RULES) in resp.json()["error"]
    assert admin(emu, "PUT", "scenarios", {"name": "ok", "rules": rules[:MAX_RULES]}
                 ).status_code == 201


def test_too_many_scenarios_is_a_400_naming_the_limit(emu: EmulatorServer) -> None:
    from emulator.scenarios.loading import MAX_SCENARIOS

    for i in range(MAX_SCENARIOS):
        assert admin(emu, "PUT", "scenarios", {"name": f"s{i}", "rules": []}).status_code == 201
    resp = admin(emu, "PUT", "scenarios", {"name": "one-more", "rules": []})
    assert resp.status_code == 400 and str(MAX_SCENARIOS) in resp.json()["error"]
    assert admin(emu, "PUT", "scenarios", {"name": "s0", "rules": []}).status_code == 200


def test_rule_state_is_a_few_integers_even_for_rules_that_draw() -> None:
    """A drawing rule keeps no generator (~2.5 KB each before): draw n is a hash of its seed
    and n, so its live state is its counters."""
    import asyncio
    import random

    from emulator.scenarios.facts import Facts
    from emulator.scenarios.loading import parse
    from emulator.scenarios.store import ScenarioStore

    scenario = parse({"name": "n", "rules": [{"effect": "pass"},
                                             {"probability": 0.5, "effect": "pass"}]}, "t")
    store = ScenarioStore([scenario])
    for _ in range(20):
        asyncio.run(store.decide(Facts(), 0.0))
    state = store.counters._scenarios  # type: ignore[attr-defined]
    assert len(state) == 1
    held = [vars(r) if hasattr(r, "__dict__") else {s: getattr(r, s) for s in r.__slots__}
            for s in state.values() for r in s.rules.values()]
    assert held and not any(isinstance(v, random.Random) for r in held for v in r.values())
    assert not any(isinstance(v, random.Random) for rule in scenario.rules
                   for v in vars(rule).values())


# -- item 9: non-finite numbers are refused wherever JSON is read ------------------------------

@pytest.mark.parametrize("limit", ["inf", "nan", "1e400", "-inf"])
def test_requests_limit_must_be_finite(emu: EmulatorServer, limit: str) -> None:
    resp = admin(emu, "GET", f"requests?limit={limit}")
    assert resp.status_code == 400 and "limit" in resp.json()["error"]


@pytest.mark.parametrize("raw", [b'{"set": NaN}', b'{"set": Infinity}', b'{"offset": -Infinity}',
                                 b'{"set": 1e400}', b'{"set": 1e300}', b'{"offset": 1e300}'])
def test_clock_refuses_non_finite_and_out_of_range_times(emu: EmulatorServer, raw: bytes) -> None:
    resp = admin(emu, "POST", "clock", raw=raw)
    assert resp.status_code == 400, resp.text
    key = "offset" if b"offset" in raw else "set"
    assert f"/{key}" in resp.json()["error"] or f'"{key}"' in resp.json()["error"]
    clock = admin(emu, "GET", "clock")
    assert json.loads(clock.text, parse_constant=lambda c: pytest.fail(c))["offset"] == 0


def test_scenario_files_refuse_non_finite_numbers(emu: EmulatorServer) -> None:
    raw = b'{"name": "n", "rules": [{"probability": NaN, "effect": "pass"}]}'
    resp = admin(emu, "PUT", "scenarios", raw=raw)
    assert resp.status_code == 400 and "/rules/0/probability" in resp.json()["error"]


def test_api_body_with_nan_is_invalid_json(emu: EmulatorServer) -> None:
    body = b'{"Image": "x", "SegmentationOptions": {"Head": NaN}}'
    resp = post_raw(emu.url, body, tc3_headers(emu.endpoint, body))
    error = assert_envelope(resp)["Error"]
    assert error["Code"] == "InvalidParameter" and "JSON" in error["Message"]


# -- item 1 (admin half): admin bodies are bounded in time -------------------------------------

def test_trickled_admin_body_is_cut_off_by_the_read_timeout(emu: EmulatorServer) -> None:
    reply = exchange(emu, b"PUT /_emulator/scenarios HTTP/1.1\r\nHost: x\r\n"
                          b"X-Emulator-Token: " + TOKEN.encode() + b"\r\n"
                          b"Content-Length: 1000\r\n\r\n{\"name\"")
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:100]


def test_config_files_refuse_non_finite_numbers(tmp_path: Any) -> None:
    from emulator.inputs.fetch import UrlMap
    from emulator.wire.credentials import Credentials, CredentialsError

    creds = tmp_path / "credentials.json"
    creds.write_text('{"accounts": [{"secret_id": "AKID1", "secret_key": "k", "x": NaN}]}')
    with pytest.raises(CredentialsError, match="not a finite number"):
        Credentials.load(creds)
    urls = tmp_path / "urls.json"
    urls.write_text('{"http://a/b.jpg": Infinity}')
    with pytest.raises(ValueError, match="not a finite number"):
        UrlMap.load(urls)


def test_a_trickled_body_of_another_method_is_bounded_too(emu: EmulatorServer) -> None:
    reply = exchange(emu, b"OPTIONS / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
    assert reply.startswith(b"HTTP/1.1 200 OK") and b"UnsupportedProtocol" in reply
