"""HTTPS on the production host names, as an unmodified application meets it: the proxy mode
with the CA trusted, the HTTPS port, certificate checks that really happen, a CONNECT proxy
that reaches nothing else, a CA kept across restarts, scenarios matching the host name."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from tencentcloud.bda.v20200324 import bda_client, models
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from emulator.serve.server import EmulatorServer
from emulator.testing import SECRET_ID, SECRET_KEY
from tests.helpers import AdminApi
from tests.node_sdk import node_call

EXAMPLE = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"


@pytest.fixture
def emu(make_server: Callable[..., EmulatorServer], tmp_path: Path) -> EmulatorServer:
    return make_server(tls_port=0, proxy_port=0, tls_dir=tmp_path / "tls",
                       tls_names=("bda-emulator",))


@pytest.fixture
def trusted(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """What the README tells an application to do: proxy and CA, nothing in its code."""
    import certifi

    assert emu.bound is not None
    ca = emu.settings.tls_dir_path / "ca.pem"
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + ca.read_bytes())
    monkeypatch.setattr(certifi, "where", lambda: str(bundle))
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{emu.bound.proxy_port}")
    return ca


def unmodified_client(region: str = "ap-guangzhou", endpoint: str | None = None) -> Any:
    """An application's client: no endpoint (the production name), default https."""
    profile = ClientProfile(language="en-US")
    if endpoint is not None:
        profile.httpProfile = HttpProfile(endpoint=endpoint)
    return bda_client.BdaClient(credential.Credential(SECRET_ID, SECRET_KEY), region, profile)


def portrait_request() -> models.SegmentPortraitPicRequest:
    req = models.SegmentPortraitPicRequest()
    req.Url = EXAMPLE
    return req


def test_the_python_sdk_with_no_endpoint_reaches_the_emulator(emu: EmulatorServer,
                                                              trusted: Path) -> None:
    reply = unmodified_client().SegmentPortraitPic(portrait_request())
    assert reply.HasForeground is True
    (entry,) = AdminApi(emu).journal()
    assert entry["code"] == "OK" and entry["signature_method"] == "TC3-HMAC-SHA256"


def test_a_regional_endpoint_signs_its_own_host(emu: EmulatorServer, trusted: Path) -> None:
    client = unmodified_client("ap-shanghai", "bda.ap-shanghai.tencentcloudapi.com")
    assert client.SegmentPortraitPic(portrait_request()).HasForeground is True


def test_the_certificate_is_really_checked(emu: EmulatorServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert emu.bound is not None
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{emu.bound.proxy_port}")
    with pytest.raises(TencentCloudSDKException) as info:  # certifi alone: not trusted
        unmodified_client().SegmentPortraitPic(portrait_request())
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert AdminApi(emu).journal() == []  # nothing got through


def test_the_https_port_serves_the_same_api(emu: EmulatorServer) -> None:
    assert emu.bound is not None and emu.bound.tls_port is not None
    ca = emu.settings.tls_dir_path / "ca.pem"
    http = HttpProfile(endpoint=f"localhost:{emu.bound.tls_port}", protocol="https")
    http.certification = str(ca)
    client = bda_client.BdaClient(credential.Credential(SECRET_ID, SECRET_KEY), "ap-guangzhou",
                                  ClientProfile(httpProfile=http, language="en-US"))
    assert client.SegmentPortraitPic(portrait_request()).HasForeground is True
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", emu.bound.tls_port)) as raw, \
            context.wrap_socket(raw, server_hostname="bda-emulator") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    from emulator.serve.tls import server_context

    served = server_context(emu.settings.tls_dir_path)
    assert served.minimum_version == ssl.TLSVersion.TLSv1_2  # no TLS 1.0/1.1


def _connect(port: int, line: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(line + b"\r\nHost: x\r\n\r\n")
        return sock.recv(1024)


@pytest.mark.parametrize("target", [b"example.com:443", b"127.0.0.1:9527",
                                    b"bda.tencentcloudapi.com:80", b"cvm.tencentcloudapi.com:443",
                                    b"bda.tencentcloudapi.com.evil.example:443"])
def test_connect_to_anything_else_is_refused(emu: EmulatorServer, target: bytes) -> None:
    assert emu.bound is not None and emu.bound.proxy_port is not None
    reply = _connect(emu.bound.proxy_port, b"CONNECT " + target + b" HTTP/1.1")
    assert reply.startswith(b"HTTP/1.1 403 ")


def test_the_proxy_is_not_a_plain_http_proxy(emu: EmulatorServer) -> None:
    assert emu.bound is not None and emu.bound.proxy_port is not None
    reply = _connect(emu.bound.proxy_port, b"GET http://example.com/ HTTP/1.1")
    assert reply.startswith(b"HTTP/1.1 405 ")


def test_the_ca_is_kept_across_restarts(make_server: Callable[..., EmulatorServer],
                                        tmp_path: Path) -> None:
    directory = tmp_path / "kept"
    first = make_server(tls_port=0, tls_dir=directory)
    pem = requests.get(f"{first.url}/_emulator/ca.pem", timeout=10).content
    assert pem == (directory / "ca.pem").read_bytes() and b"BEGIN CERTIFICATE" in pem
    assert stat.S_IMODE((directory / "ca-key.pem").stat().st_mode) == 0o600
    second = make_server(tls_port=0, tls_dir=directory)
    assert requests.get(f"{second.url}/_emulator/ca.pem", timeout=10).content == pem
    out = subprocess.run([sys.executable, "-m", "emulator", "ca", "--tls-dir", str(directory)],
                         capture_output=True, timeout=60, check=True)
    assert out.stdout == pem and b"PRIVATE" not in out.stdout


def test_ca_pem_is_404_without_https(make_server: Callable[..., EmulatorServer]) -> None:
    plain = make_server()
    assert requests.get(f"{plain.url}/_emulator/ca.pem", timeout=10).status_code == 404


def test_a_drill_can_fail_one_host_name_and_not_another(emu: EmulatorServer,
                                                        trusted: Path) -> None:
    drill = {"name": "com-down", "rules": [{"match": {"host": "bda.tencentcloudapi.com"},
                                            "effect": {"error": {"code": "ServiceUnavailable"}}}]}
    assert AdminApi(emu)("PUT", "scenarios", drill).status_code == 201
    with pytest.raises(TencentCloudSDKException) as info:
        unmodified_client().SegmentPortraitPic(portrait_request())
    assert info.value.get_code() == "ServiceUnavailable"
    failover = unmodified_client(endpoint="bda.tencentcloudapi.com.cn")
    assert failover.SegmentPortraitPic(portrait_request()).HasForeground is True
    hosts = [e["code"] for e in AdminApi(emu).journal()]
    assert hosts == ["ServiceUnavailable", "OK"]


def test_the_node_sdk_through_the_proxy(emu: EmulatorServer) -> None:
    assert emu.bound is not None
    ca = emu.settings.tls_dir_path / "ca.pem"
    reply = node_call(None, "SegmentPortraitPic", {"Url": EXAMPLE}, protocol="https://",
                      proxy=f"http://127.0.0.1:{emu.bound.proxy_port}",
                      env={"NODE_EXTRA_CA_CERTS": str(ca)})
    assert reply["ok"] and reply["response"]["HasForeground"] is True
    untrusted = node_call(None, "SegmentPortraitPic", {"Url": EXAMPLE}, protocol="https://",
                          proxy=f"http://127.0.0.1:{emu.bound.proxy_port}",
                          env={"NODE_EXTRA_CA_CERTS": os.devnull})
    assert not untrusted["ok"]


def test_bda_intercept_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
from tencentcloud.bda.v20200324 import bda_client, models
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile

def test_app_code_unchanged(bda_intercept):
    cred = credential.Credential(bda_intercept.secret_id, bda_intercept.secret_key)
    client = bda_client.BdaClient(cred, "ap-guangzhou", ClientProfile())  # as in production
    req = models.SegmentPortraitPicRequest()
    req.Url = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"
    assert client.SegmentPortraitPic(req).HasForeground
    assert [r["code"] for r in bda_intercept.requests()] == ["OK"]
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


pytest_plugins = ["pytester"]
_ = json
