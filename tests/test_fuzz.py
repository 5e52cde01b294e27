"""Hypothesis fuzzing of the HTTP surface against a real server on loopback.

Property: every reply is HTTP 200 with ``Content-Type: application/json`` exactly, the Tencent
envelope, a RequestId, and either success or a documented code — never a 4xx/5xx, an HTML page,
a traceback or a dropped connection. ``BDA_FUZZ_EXAMPLES`` scales the run (``make fuzz``).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.serve.server import EmulatorServer
from emulator.wire import auth
from tests.helpers import SECRET_ID, SECRET_KEY, check_reply, parse_raw, tc3_headers

EXAMPLES = int(os.environ.get("BDA_FUZZ_EXAMPLES", "500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def send(server: EmulatorServer, method: str, target: str, headers: dict[str, str],
         body: bytes) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


_header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12)
_options = st.dictionaries(st.sampled_from(["Head", "Body", "Hair", "Background", "Nose", "X"]),
                           st.booleans() | st.text(max_size=5) | st.none(), max_size=4)
_params = st.fixed_dictionaries({}, optional={
    "SegmentationOptions": _options | _json_values,
    "Image": st.text(max_size=40) | st.binary(max_size=60).map(
        lambda b: base64.b64encode(b).decode()) | _json_values,
    "Url": st.sampled_from(["", "ftp://x", "http://127.0.0.1:1/x.png", "not a url",
                            "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"]),
    "Extra": _json_values,
})


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
                               "TRACE", "FOO"]),
       path=st.sampled_from(["/", "/x", "//", "/?a=b", "/_emulator", "/%ff"]),
       extra=st.dictionaries(st.sampled_from(["X-TC-Action", "X-TC-Version", "X-TC-Region",
                                              "X-TC-Timestamp", "Authorization", "X-TC-Token",
                                              "X-TC-Language", "Content-Type",
                                              "X-TC-Content-SHA256"]), _header_text, max_size=5),
       body=st.binary(max_size=300))
def test_arbitrary_requests_keep_the_contract(server: EmulatorServer, method: str, path: str,
                                              extra: dict[str, str], body: bytes) -> None:
    headers = {"Host": server.endpoint, **extra}
    check_reply(*send(server, method, path, headers, body), method)


@FUZZ
@given(params=_params, raw=st.booleans(), junk=st.binary(max_size=40),
       language=st.sampled_from(["zh-CN", "en-US", "fr"]))
def test_signed_json_bodies_keep_the_contract(server: EmulatorServer, params: dict[str, Any],
                                              raw: bool, junk: bytes, language: str) -> None:
    body = junk if raw else json.dumps(params).encode()
    headers = {**tc3_headers(server.endpoint, body), "X-TC-Language": language}
    check_reply(*send(server, "POST", "/", headers, body), "POST")


@FUZZ
@given(params=st.dictionaries(st.text(min_size=1, max_size=30), st.text(max_size=30),
                              max_size=6),
       signed=st.booleans(), method=st.sampled_from(["GET", "POST"]),
       nonce=st.integers(min_value=-5, max_value=2**64) | st.text(max_size=5))
def test_v1_forms_and_queries_keep_the_contract(server: EmulatorServer, params: dict[str, str],
                                                signed: bool, method: str,
                                                nonce: int | str) -> None:
    from urllib.parse import urlencode

    common = {"Action": "SegmentCustomizedPortraitPic", "Version": "2020-03-24",
              "Region": "ap-guangzhou", "Timestamp": str(int(time.time())),
              "Nonce": str(nonce), "SecretId": SECRET_ID}
    merged = {**params, **common}
    if signed:
        sts = auth.v1_string_to_sign(method, server.endpoint, merged.items())
        merged["Signature"] = auth.v1_signature(SECRET_KEY, sts)
    encoded = urlencode(merged)
    headers = {"Host": server.endpoint, "Content-Type": "application/x-www-form-urlencoded"}
    if method == "GET":
        check_reply(*send(server, "GET", "/?" + encoded, headers, b""), "GET")
    else:
        check_reply(*send(server, "POST", "/", headers, encoded.encode()), "POST")


def _raw_exchange(server: EmulatorServer, data: bytes) -> bytes:
    """Send ``data``; read until the server closes, or until it waits for more (1 s quiet)."""
    chunks: list[bytes] = []
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(data)
        sock.settimeout(1.0)
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70000 + b"\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
])
def test_unparsable_http_gets_the_envelope(server: EmulatorServer, data: bytes) -> None:
    status, headers, body = parse_raw(_raw_exchange(server, data))
    check_reply(status, headers, body, "POST")


@FUZZ
@given(data=st.binary(min_size=1, max_size=200))
def test_random_bytes_get_the_envelope_or_nothing(server: EmulatorServer, data: bytes) -> None:
    reply = _raw_exchange(server, data)
    if reply:  # an incomplete request may legitimately wait for more and see the close
        check_reply(*parse_raw(reply), "POST")


# ---- the admin API: its own documented shape (JSON, ordinary status codes) -------------------

ADMIN_PATHS = ["scenarios", "scenarios/x", "scenarios/errors/InternalError", "reset", "requests",
               "requests?since=abc", "requests?code=OK&secret_id=%ff", "coverage", "clock",
               "health", "nope", "scenarios/" + "a" * 300]


@FUZZ
@given(method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH"]),
       path=st.sampled_from(ADMIN_PATHS),
       body=st.one_of(st.binary(max_size=200), _json_values.map(
           lambda v: json.dumps(v).encode())))
def test_admin_api_answers_json_with_plain_status_codes(server: EmulatorServer, method: str,
                                                        path: str, body: bytes) -> None:
    try:
        status, headers, reply = send(server, method, f"/_emulator/{path}",
                                      {"Host": server.endpoint,
                                       "Content-Type": "application/json"}, body)
    finally:  # whatever the fuzzer loaded or changed, later tests start clean
        send(server, "POST", "/_emulator/reset", {"Host": server.endpoint}, b"")
    assert status in (200, 201, 400, 404, 405, 413), (status, reply[:200])
    assert headers.get("content-type", "").startswith("application/json")
    data = json.loads(reply)
    assert isinstance(data, dict)
    if status >= 400:
        assert isinstance(data.get("error"), str) and data["error"]


# ---- regressions found by the fuzzers ---------------------------------------------------------

@pytest.mark.parametrize("nonce", ["¹", "١٢٣", "1e3", "-1", " 1"])
def test_regression_unicode_digit_nonce_is_a_type_error(server: EmulatorServer,
                                                        nonce: str) -> None:
    """``'¹'.isdigit()`` is True but ``int('¹')`` fails: once an InternalError (found by
    test_v1_forms_and_queries_keep_the_contract)."""
    from urllib.parse import urlencode

    params = {"Action": "SegmentCustomizedPortraitPic", "Version": "2020-03-24",
              "Region": "ap-guangzhou", "Timestamp": str(int(time.time())), "Nonce": nonce,
              "SecretId": SECRET_ID, "Signature": "x"}
    status, headers, body = send(server, "GET", "/?" + urlencode(params),
                                 {"Host": server.endpoint}, b"")
    check_reply(status, headers, body, "GET")
    assert json.loads(body)["Response"]["Error"]["Code"] == "InvalidParameter"
