"""A custom credentials file: it replaces the bundled accounts, its mistakes name the file and
the JSON pointer (also the ones the schema cannot express), and the start logs what was loaded."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from emulator.resources import fixture_path
from emulator.serve.app import create_app
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from emulator.wire.credentials import Credentials, CredentialsError
from tests.helpers import SECRET_ID, bda, segment_request

CLI = [str(Path(sys.executable).parent / "bda-emulator")]
MINE = {"secret_id": "AKIDMYOWNKEY0000000000000000000000000", "secret_key": "my-own-secret-key"}
HEAD = {"Url": "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg",
        "SegmentationOptions": {"Head": True}}


def _file(tmp_path: Path, *accounts: dict[str, Any]) -> Path:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"accounts": list(accounts)}), encoding="utf-8")
    return path


def _temporary(expires_at: Any) -> dict[str, Any]:
    return {"secret_id": "AKIDTEMP", "secret_key": "k", "token": "t", "expires_at": expires_at}


def test_a_secret_id_listed_twice_is_refused_naming_both_places(tmp_path: Path) -> None:
    path = _file(tmp_path, MINE, {"secret_id": "AKIDOTHER", "secret_key": "k"},
                 {**MINE, "secret_key": "another-key", "state": "in_arrears"})
    with pytest.raises(CredentialsError) as info:
        Credentials.load(path)
    assert str(info.value) == (f"{path}: at /accounts/2/secret_id: SecretId "
                               f"'{MINE['secret_id']}' is already listed at "
                               "/accounts/0/secret_id")


@pytest.mark.parametrize(("value", "problem"), [
    ("tomorrow", "'tomorrow' is not an ISO 8601 date-time such as '2030-01-01T00:00:00Z'"),
    ("2030-01-01T00:00:00", "'2030-01-01T00:00:00' has no time zone"),
    ("2030-01-01", "'2030-01-01' has no time zone"),
])
def test_an_unusable_expiry_is_refused_naming_the_pointer(tmp_path: Path, value: str,
                                                           problem: str) -> None:
    path = _file(tmp_path, MINE, _temporary(value))
    with pytest.raises(CredentialsError) as info:
        Credentials.load(path)
    assert str(info.value).startswith(f"{path}: at /accounts/1/expires_at: {problem}")


@pytest.mark.parametrize(("value", "epoch"), [
    ("2030-01-01T00:00:00Z", 1893456000), ("2030-01-01T08:00:00+08:00", 1893456000),
    ("2030-01-01T00:00:00.5+00:00", 1893456000), (1893456000, 1893456000),
])
def test_expiry_forms_that_are_accepted(tmp_path: Path, value: Any, epoch: int) -> None:
    accounts = Credentials.load(_file(tmp_path, _temporary(value))).accounts
    assert accounts["AKIDTEMP"].expires_at == epoch


def test_the_command_line_prints_one_line_without_a_traceback(tmp_path: Path) -> None:
    path = _file(tmp_path, _temporary("tomorrow"))
    result = subprocess.run([*CLI, "serve", "--port", "0", "--credentials", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bda-emulator: ")
    assert f"{path}: at /accounts/0/expires_at: 'tomorrow' is not an ISO 8601" in lines[0]


def test_the_start_logs_how_many_accounts_from_which_file(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _file(tmp_path, MINE, {"secret_id": "AKIDOTHER", "secret_key": "k"})
    with caplog.at_level(logging.INFO, logger="bda_emulator"):
        create_app(Settings(credentials=path))
        create_app(Settings())
    loaded = [r.getMessage() for r in caplog.records
              if r.name == "bda_emulator" and "account" in r.getMessage()]
    bundled = len(json.loads(fixture_path("credentials.json").read_text())["accounts"])
    assert loaded == [f"loaded 2 accounts from {path}",
                      f"loaded {bundled} accounts from {fixture_path('credentials.json')}"]


def test_a_custom_file_replaces_the_bundled_accounts(tmp_path: Path) -> None:
    path = _file(tmp_path, MINE)
    with EmulatorServer(Settings(port=0, workers=1, credentials=path)) as srv:
        mine = bda(srv.endpoint, secret_id=MINE["secret_id"], secret_key=MINE["secret_key"])
        assert mine.SegmentCustomizedPortraitPic(segment_request(HEAD)).MaskImage
        with pytest.raises(TencentCloudSDKException) as info:  # the bundled default key
            bda(srv.endpoint, secret_id=SECRET_ID).SegmentCustomizedPortraitPic(
                segment_request(HEAD))
    assert info.value.code == "AuthFailure.SecretIdNotFound"
