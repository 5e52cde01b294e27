"""Signature algorithms: the official test vectors, and the official SDK's signer as oracle."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tencentcloud.common import credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.sign import Sign

from emulator.errors import ApiError
from emulator.wire import auth
from tests.helpers import bda

PAYLOAD = (b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], '
           b'"Name": "instance-name"}]}')
CT = "application/json; charset=utf-8"
HOST = "cvm.tencentcloudapi.com"


def _vector_signature(secret_key: str, extra: list[tuple[str, str]]) -> str:
    headers = [("content-type", CT), ("host", HOST), *extra]
    canonical = auth.tc3_canonical_request("POST", "", headers, auth.sha256_hex(PAYLOAD))
    sts = auth.tc3_string_to_sign("1551113065", "2019-02-25", "cvm", canonical)
    return auth.tc3_signature(secret_key, "2019-02-25", "cvm", sts)


def test_payload_hash_vector() -> None:
    assert auth.sha256_hex(PAYLOAD) == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")


@pytest.mark.parametrize(("key", "expected"), [
    ("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
     "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"),
    ("Gu5t9xGARNpq86cd98joQYCN3*******",
     "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"),
])
def test_tc3_vectors_a(key: str, expected: str) -> None:
    assert _vector_signature(key, []) == expected


def test_tc3_vector_b_signs_x_tc_action() -> None:
    sig = _vector_signature("*" * 32, [("x-tc-action", "DescribeInstances")])
    assert sig == "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    assert auth.tc3_signing_key("*" * 32, "2019-02-25", "cvm").hex() == (
        "b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af")


def test_tc3_vector_verifies_from_header() -> None:
    header = ("TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
              "tc3_request, SignedHeaders=content-type;host, Signature="
              "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")
    parsed = auth.parse_tc3_authorization(header)
    assert parsed.service == "cvm" and parsed.date == "2019-02-25"
    headers = {"content-type": CT, "host": HOST}
    assert auth.verify_tc3(auth=parsed, secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
                           method="POST", query="", headers=headers, body=PAYLOAD,
                           timestamp="1551113065")
    assert not auth.verify_tc3(auth=parsed, secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLF",
                               method="POST", query="", headers=headers, body=PAYLOAD,
                               timestamp="1551113065")


V1_PARAMS = {"Action": "DescribeInstances", "InstanceIds.0": "ins-09dx96dg", "Limit": "20",
             "Nonce": "11886", "Offset": "0", "Region": "ap-guangzhou",
             "Timestamp": "1465185768", "Version": "2017-03-12"}


@pytest.mark.parametrize(("sid", "key", "method", "verb", "expected"), [
    ("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******", "HmacSHA1",
     "GET", "zmmjn35mikh6pM3V7sUEuX4wyYM="),
    ("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "HmacSHA1",
     "GET", "EliP9YW3pW28FpsEdkXt/+WcGeI="),
    ("AKID" + "*" * 32, "*" * 32, "HmacSHA1", "GET", "7RAM2xfNMO9EiVTNmPg06MRnCvQ="),
    ("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "HmacSHA1",
     "POST", "/4JqpPkM1WMS/I5IvWzp5mqoqWY="),
])
def test_v1_vectors(sid: str, key: str, method: str, verb: str, expected: str) -> None:
    params = {**V1_PARAMS, "SecretId": sid}
    sts = auth.v1_string_to_sign(verb, HOST, params.items())
    assert auth.v1_signature(key, sts, method) == expected
    assert auth.verify_v1(secret_key=key, method=verb, host=HOST, params=list(params.items()),
                          signature=expected, signature_method=method)


def test_v1_hmac_sha256_regression_value() -> None:
    params = {**V1_PARAMS, "SecretId": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
              "SignatureMethod": "HmacSHA256"}
    sts = auth.v1_string_to_sign("GET", HOST, params.items())
    assert auth.v1_signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", sts, "HmacSHA256") == (
        "A8uy2/o7WBZXYCTWEFpMrVGhGBVlEGIOioeqRM+fzFs=")


@pytest.mark.parametrize("header", [
    "", "Basic abc", "TC3-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=" + "0" * 64,
    "TC3-HMAC-SHA256 Credential=AKID/2020-01-01/bda/tc3_request, SignedHeaders=host, "
    "Signature=" + "0" * 64,
    "TC3-HMAC-SHA256 Credential=AKID/2020-01-01/bda/tc3_request, SignedHeaders=content-type;host, "
    "Signature=xyz",
])
def test_malformed_authorization(header: str) -> None:
    with pytest.raises(ApiError) as info:
        auth.parse_tc3_authorization(header)
    assert info.value.code == "AuthFailure.InvalidAuthorization"


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1:9527", ["127.0.0.1:9527", "127.0.0.1"]),
    ("https://bda.tencentcloudapi.com", ["https://bda.tencentcloudapi.com",
                                         "bda.tencentcloudapi.com"]),
    ("[::1]:9527", ["[::1]:9527", "[::1]"]),
    ("localhost", ["localhost"]),
])
def test_host_variants(host: str, expected: list[str]) -> None:
    assert auth.host_variants(host) == expected


def test_services_accepted_include_node_first_label() -> None:
    assert auth.acceptable_services("127.0.0.1:9527") >= {"bda", "127"}
    assert "localhost:9527" in auth.acceptable_services("localhost:9527")


def _sdk_signed(params: dict[str, Any], method: str, unsigned: bool) -> RequestInternal:
    client = bda("127.0.0.1:9527", req_method=method, unsigned=unsigned)
    req = RequestInternal("127.0.0.1:9527", method, "/", header={})
    client._build_req_with_tc3_signature("SegmentCustomizedPortraitPic", params, req)
    return req


def _verify(req: RequestInternal, body: bytes,
            header_changes: dict[str, str] | None = None) -> bool:
    headers = {k.lower(): v for k, v in req.header.items()}
    headers.update(header_changes or {})
    parsed = auth.parse_tc3_authorization(headers["authorization"])
    return auth.verify_tc3(auth=parsed, secret_key="emulatorsecretkey000000000000000",
                           method=req.method, query=req.data if req.method == "GET" else "",
                           headers=headers, body=body if req.method == "POST" else b"",
                           timestamp=headers["x-tc-timestamp"])


_values = st.recursive(st.one_of(st.booleans(), st.text(max_size=20), st.integers()),
                       lambda inner: st.dictionaries(st.text(min_size=1, max_size=8), inner,
                                                     max_size=4), max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=st.dictionaries(st.text(min_size=1, max_size=10), _values, max_size=5),
       method=st.sampled_from(["POST", "GET"]), unsigned=st.booleans(),
       flip=st.integers(min_value=0, max_value=10_000))
def test_official_signer_verifies_and_one_byte_change_fails(
        params: dict[str, Any], method: str, unsigned: bool, flip: int) -> None:
    req = _sdk_signed(params, method, unsigned and method == "POST")
    body = req.data.encode() if isinstance(req.data, str) else req.data
    assert _verify(req, body)
    # a one-byte change to the signature always fails
    sig = req.header["Authorization"][-64:]
    bad = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    assert not _verify(req, body, {"authorization": req.header["Authorization"][:-64] + bad})
    # ... and so does one to a signed header
    assert not _verify(req, body, {"content-type": req.header["Content-Type"] + "x"})
    # ... and to the body, unless the payload is deliberately unsigned
    if method == "POST" and body:
        pos = flip % len(body)
        changed = body[:pos] + bytes([body[pos] ^ 0x01]) + body[pos + 1:]
        assert _verify(req, changed) is bool(unsigned)


@settings(max_examples=60, deadline=None)
@given(params=st.dictionaries(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126),
                                      min_size=1, max_size=10),
                              st.text(max_size=30), max_size=6),
       sha256=st.booleans())
def test_official_v1_signer_verifies(params: dict[str, str], sha256: bool) -> None:
    method = "HmacSHA256" if sha256 else "HmacSHA1"
    pairs = [(k.replace("_", "."), v) for k, v in params.items()
             if k.replace("_", ".") != "Signature"]  # the one name never signed
    sts = "POST127.0.0.1:9527/?" + "&".join(f"{k}={v}" for k, v in sorted(pairs))
    signature = Sign.sign("secret", sts, method)
    assert auth.verify_v1(secret_key="secret", method="POST", host="127.0.0.1:9527",
                          params=pairs, signature=signature, signature_method=method)
    assert not auth.verify_v1(secret_key="secreT", method="POST", host="127.0.0.1:9527",
                              params=pairs, signature=signature, signature_method=method)


def test_credential_module_is_the_official_one() -> None:
    # guards against a shadowing package: the oracle must be Tencent's code
    assert credential.Credential.__module__ == "tencentcloud.common.credential"
    assert json.dumps({"a": 1}) == '{"a": 1}'
