"""The catalogue holds every documented code with both languages' messages."""

from __future__ import annotations

import pytest
from tencentcloud.bda.v20200324 import errorcodes

from emulator.errors import ACTION_CODES, BDA_CODES, CATALOGUE, COMMON_CODES, ApiError


def test_counts() -> None:
    assert len(COMMON_CODES) == 38
    assert len(ACTION_CODES) == 23
    assert set(ACTION_CODES) <= set(BDA_CODES)


def test_every_sdk_errorcode_is_catalogued() -> None:
    sdk = {v for k, v in vars(errorcodes).items() if k.isupper() and isinstance(v, str)}
    assert sdk == set(BDA_CODES)


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_both_languages(code: str) -> None:
    err = ApiError(code)
    assert err.message("en-US") and err.message("en-US").isascii()
    assert err.message("zh-CN") and not err.message("zh-CN").isascii()


def test_details_fill_templates() -> None:
    err = ApiError("MissingParameter", param="Region")
    assert err.message("en-US") == "The request is missing a required parameter `Region`."
    assert err.message("zh-CN") == "缺少必要参数`Region`。"


def test_override_and_unknown_code() -> None:
    assert ApiError("InternalError", message="boom").message("zh-CN") == "boom"
    with pytest.raises(ValueError):
        ApiError("NoSuchCode")
