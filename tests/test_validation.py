"""Schema failures become the one wire error the service would send, in both languages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tencentcloud.bda.v20200324 import bda_client, models
from tencentcloud.common.credential import Credential

from emulator.errors import ApiError
from emulator.wire.validation import MAX_DEPTH, RequestValidator, check_segmentation_options

ACTION = "SegmentCustomizedPortraitPic"
VALIDATION_CODES = {"MissingParameter", "UnknownParameter", "InvalidParameter",
                    "InvalidParameterValue"}


@pytest.fixture(scope="module")
def validator() -> RequestValidator:
    return RequestValidator.for_action(ACTION)


def _error(validator: RequestValidator, params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        validator.validate(params)
    return caught.value


def _flat_error(validator: RequestValidator, flat: dict[str, str]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        validator.from_flat(flat)
    return caught.value


# --- valid input -----------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    {"SegmentationOptions": {"Head": True}},
    {"SegmentationOptions": {"Head": True, "Background": False}, "Url": "https://x/y.jpg"},
    {"SegmentationOptions": {}, "Image": "aGVsbG8="},
])
def test_valid_parameters_pass(validator: RequestValidator, params: dict[str, Any]) -> None:
    validator.validate(params)


# --- one mapping per kind --------------------------------------------------------------------

def test_missing_required_member(validator: RequestValidator) -> None:
    error = _error(validator, {"Url": "https://x/y.jpg"})
    assert error.code == "MissingParameter"
    assert error.details == {"param": "SegmentationOptions"}
    assert error.message("en-US") == (
        "The request is missing a required parameter `SegmentationOptions`.")
    assert error.message("zh-CN") == "缺少必要参数`SegmentationOptions`。"


def test_missing_nested_required_member_is_dotted() -> None:
    schema = {"type": "object", "additionalProperties": False, "properties": {
        "Rects": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["X"],
            "properties": {"X": {"type": "integer"}}}}}}
    error = _error(RequestValidator(schema), {"Rects": [{"X": 1}, {}]})
    assert error.code == "MissingParameter"
    assert error.details == {"param": "Rects.1.X"}


def test_unknown_top_level_member(validator: RequestValidator) -> None:
    error = _error(validator, {"SegmentationOptions": {"Head": True}, "$schema": "x"})
    assert error.code == "UnknownParameter"
    assert error.message("en-US") == "The parameter `$schema` is not recognized."
    assert error.message("zh-CN") == "参数`$schema`无法识别。"


def test_unknown_nested_member_is_dotted(validator: RequestValidator) -> None:
    error = _error(validator, {"SegmentationOptions": {"Head": True, "Foo": True}})
    assert error.code == "UnknownParameter"
    assert error.details == {"param": "SegmentationOptions.Foo"}


def test_member_names_are_case_sensitive(validator: RequestValidator) -> None:
    error = _error(validator, {"SegmentationOptions": {"head": True}})
    assert error.details == {"param": "SegmentationOptions.head"}


@pytest.mark.parametrize(("params", "name", "expected"), [
    ({"SegmentationOptions": {"Head": "true"}}, "SegmentationOptions.Head", "boolean"),
    ({"SegmentationOptions": {"Head": 1}}, "SegmentationOptions.Head", "boolean"),
    ({"SegmentationOptions": {"Head": None}}, "SegmentationOptions.Head", "boolean"),
    ({"SegmentationOptions": [True]}, "SegmentationOptions", "object"),
    ({"SegmentationOptions": None}, "SegmentationOptions", "object"),
    ({"SegmentationOptions": {"Head": True}, "Url": 5}, "Url", "string"),
    ({"SegmentationOptions": {"Head": True}, "Image": ["a"]}, "Image", "string"),
])
def test_wrong_type(validator: RequestValidator, params: dict[str, Any], name: str,
                    expected: str) -> None:
    error = _error(validator, params)
    assert error.code == "InvalidParameter"
    reason = f"Parameter `{name}` type error, expected {expected}."
    assert error.details == {"reason": reason,
                             "reason_zh": f"参数`{name}`取值类型错误。参数类型应为 {expected}"}
    assert error.message("en-US") == reason
    assert error.message("zh-CN") == f"参数`{name}`取值类型错误。参数类型应为 {expected}"


@pytest.mark.parametrize("params", [[], "x", 3, None, True, [{"SegmentationOptions": {}}]])
def test_non_object_parameters(validator: RequestValidator, params: Any) -> None:
    error = _error(validator, params)
    assert error.code == "InvalidParameter"
    assert "expected object" in error.details["reason"]


def test_other_schema_failures_are_invalid_parameter_value() -> None:
    schema = {"type": "object", "properties": {"N": {"type": "integer", "minimum": 0},
                                               "E": {"enum": ["base64", "url"]}}}
    validator = RequestValidator(schema)
    error = _error(validator, {"N": -1})
    assert error.code == "InvalidParameterValue"
    assert error.details == {"reason": "Parameter `N` must be >= 0."}
    assert error.message("en-US") == "Parameter `N` must be >= 0."
    assert error.message("zh-CN") == "参数取值错误。"  # no Chinese reason: the plain message
    error = _error(validator, {"E": "URL"})
    assert error.details == {"reason": 'Parameter `E` must be one of "base64", "url".'}


def test_huge_unknown_names_are_shortened_in_messages(validator: RequestValidator) -> None:
    error = _error(validator, {"SegmentationOptions": {}, "X" * 10_000: 1})
    assert len(error.details["param"]) < 300


# --- which error wins ------------------------------------------------------------------------

def test_priority_missing_beats_everything(validator: RequestValidator) -> None:
    error = _error(validator, {"Url": 5, "Foo": 1})
    assert (error.code, error.details) == ("MissingParameter", {"param": "SegmentationOptions"})


def test_priority_unknown_beats_type_errors(validator: RequestValidator) -> None:
    error = _error(validator, {"SegmentationOptions": {"Head": "yes", "Zzz": 1}, "Url": 5})
    assert (error.code, error.details) == ("UnknownParameter",
                                           {"param": "SegmentationOptions.Zzz"})


def test_priority_type_beats_value_errors() -> None:
    schema = {"type": "object", "properties": {"A": {"type": "integer", "minimum": 0},
                                               "B": {"type": "string"}}}
    error = _error(RequestValidator(schema), {"A": -1, "B": 1})
    assert (error.code, error.details["reason"]) == (
        "InvalidParameter", "Parameter `B` type error, expected string.")


def test_within_a_kind_the_smallest_path_wins(validator: RequestValidator) -> None:
    params = {"SegmentationOptions": {"Tooth": 1, "Body": 0, "Hair": "x"}, "Url": 3}
    error = _error(validator, params)
    assert error.details["reason"] == (
        "Parameter `SegmentationOptions.Body` type error, expected boolean.")
    error = _error(validator, {"Zeta": 1, "Alpha": 2, "SegmentationOptions": {"Beta": 1}})
    assert error.details == {"param": "Alpha"}
    error = _error(validator, {"SegmentationOptions": {"Beta": 1}, "Zeta": 1})
    assert error.details == {"param": "SegmentationOptions.Beta"}


def test_the_choice_does_not_depend_on_key_order(validator: RequestValidator) -> None:
    forwards = {"SegmentationOptions": {"A": 1, "B": 1}, "C": 1}
    backwards = {"C": 1, "SegmentationOptions": {"B": 1, "A": 1}}
    assert _error(validator, forwards).details == _error(validator, backwards).details


# --- the action rule the schema cannot say ---------------------------------------------------

def test_segmentation_options_need_one_true_member() -> None:
    check_segmentation_options({"SegmentationOptions": {"Head": True}})
    check_segmentation_options({"SegmentationOptions": {"Head": False, "Hair": True}})
    for options in ({}, {"Background": False}, {"Head": False, "Body": False}):
        with pytest.raises(ApiError) as caught:
            check_segmentation_options({"SegmentationOptions": options})
        error = caught.value
        assert error.code == "InvalidParameterValue"
        reason = "At least one member of `SegmentationOptions` must be true."
        assert error.details["reason"] == reason
        assert error.message("en-US") == reason
        assert error.message("zh-CN") == "`SegmentationOptions`中至少要有一个选项为true。"


@pytest.mark.parametrize(("params", "code"), [
    ({}, "MissingParameter"), ({"SegmentationOptions": "x"}, "InvalidParameter"),
    ({"SegmentationOptions": {"Head": 1}}, "InvalidParameterValue"),
])
def test_segmentation_rule_on_unvalidated_input(params: dict[str, Any], code: str) -> None:
    with pytest.raises(ApiError) as caught:
        check_segmentation_options(params)
    assert caught.value.code == code


# --- flattened (v1 / GET) parameters ---------------------------------------------------------

@pytest.mark.parametrize(("spelling", "value"), [
    ("True", True), ("true", True), ("False", False), ("false", False)])
def test_from_flat_booleans(validator: RequestValidator, spelling: str, value: bool) -> None:
    params = validator.from_flat({"SegmentationOptions.Head": spelling, "Url": "u"})
    assert params == {"SegmentationOptions": {"Head": value}, "Url": "u"}


@pytest.mark.parametrize("spelling", ["TRUE", "1", "yes", "", " true", "tRue"])
def test_from_flat_bad_boolean_spelling_is_a_type_error(validator: RequestValidator,
                                                        spelling: str) -> None:
    params = validator.from_flat({"SegmentationOptions.Head": spelling})
    assert params == {"SegmentationOptions": {"Head": spelling}}
    error = _error(validator, params)
    assert error.code == "InvalidParameter"
    assert error.details["reason"] == (
        "Parameter `SegmentationOptions.Head` type error, expected boolean.")


def test_from_flat_strings_stay_strings(validator: RequestValidator) -> None:
    params = validator.from_flat({"SegmentationOptions.Hair": "True", "Url": "true",
                                  "Image": "123"})
    assert params == {"SegmentationOptions": {"Hair": True}, "Url": "true", "Image": "123"}
    validator.validate(params)


def test_from_flat_what_the_python_sdk_sends(validator: RequestValidator) -> None:
    """The SDK's own v1 flattening (``str()`` of each value) round-trips."""
    request = models.SegmentCustomizedPortraitPicRequest()
    request.from_json_string(json.dumps({"SegmentationOptions": {"Head": True, "Hair": False},
                                         "Url": "https://x/y.jpg"}))
    client = bda_client.BdaClient(Credential("id", "key"), "ap-guangzhou")
    flat = {k: str(v) for k, v in client._fix_params(request._serialize()).items()}
    assert flat["SegmentationOptions.Head"] == "True"
    params = validator.from_flat(flat)
    assert params == request._serialize()
    validator.validate(params)


def test_from_flat_unknown_names_are_kept(validator: RequestValidator) -> None:
    params = validator.from_flat({"SegmentationOptions.Head": "true", "Foo": "1",
                                  "SegmentationOptions.Bar": "true", "Baz.0": "x", "A..B": "1"})
    assert params == {"SegmentationOptions": {"Head": True, "Bar": "true"}, "Foo": "1",
                      "Baz": {"0": "x"}, "A..B": "1"}
    error = _error(validator, params)
    assert (error.code, error.details) == ("UnknownParameter", {"param": "A..B"})


def test_from_flat_object_given_as_a_value(validator: RequestValidator) -> None:
    params = validator.from_flat({"SegmentationOptions": "Head"})
    error = _error(validator, params)
    assert error.details["reason"] == (
        "Parameter `SegmentationOptions` type error, expected object.")


@pytest.mark.parametrize("flat", [
    {"SegmentationOptions": "1", "SegmentationOptions.Head": "true"},
    {"SegmentationOptions.Head": "true", "SegmentationOptions.Head.X": "1"},
])
def test_from_flat_conflicting_names(validator: RequestValidator, flat: dict[str, str]) -> None:
    error = _flat_error(validator, flat)
    assert error.code == "InvalidParameter"
    assert "is given both as a value and as a parent" in error.details["reason"]


def test_from_flat_depth_limit(validator: RequestValidator) -> None:
    validator.from_flat({".".join(["A"] * MAX_DEPTH): "1"})
    error = _flat_error(validator, {".".join(["A"] * (MAX_DEPTH + 1)): "1"})
    assert error.code == "InvalidParameter"
    assert f"deeper than {MAX_DEPTH} levels" in error.details["reason"]
    error = _flat_error(validator, {"A" + ".A" * 100_000: "1"})
    assert error.code == "InvalidParameter"


ARRAY_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {
    "Ids": {"type": "array", "items": {"type": "integer"}},
    "Rects": {"type": ["array", "null"], "items": {
        "type": "object", "additionalProperties": False,
        "properties": {"X": {"type": "integer"}, "On": {"type": "boolean"},
                       "W": {"type": "number"}}}}}}


def test_from_flat_arrays_and_integers() -> None:
    validator = RequestValidator(ARRAY_SCHEMA)
    flat = {"Ids.0": "5", "Ids.1": "-7", "Ids.2": "+3", "Ids.3": "x", "Ids.4": "1.5",
            "Ids.5": "9" * 5000, "Ids.6": "1", "Ids.7": "2", "Ids.8": "3", "Ids.9": "4",
            "Ids.10": "0",
            "Rects.0.X": "1", "Rects.0.On": "False", "Rects.1.W": "2.5", "Rects.1.X": "07"}
    params = validator.from_flat(flat)
    assert params["Ids"] == [5, -7, 3, "x", "1.5", "9" * 5000, 1, 2, 3, 4, 0]
    assert params["Rects"] == [{"X": 1, "On": False}, {"W": 2.5, "X": 7}]
    error = _error(validator, params)
    assert error.details["reason"] == "Parameter `Ids.3` type error, expected integer."


def test_from_flat_array_index_gaps_are_refused() -> None:
    error = _flat_error(RequestValidator(ARRAY_SCHEMA), {"Ids.0": "1", "Ids.2": "2"})
    assert error.code == "InvalidParameter"
    assert "Ids" in error.details["reason"]
    error = _flat_error(RequestValidator(ARRAY_SCHEMA), {"Ids.99999999999999": "1"})
    assert error.code == "InvalidParameter"


def test_from_flat_non_index_under_an_array_is_a_type_error() -> None:
    validator = RequestValidator(ARRAY_SCHEMA)
    params = validator.from_flat({"Ids.first": "1", "Rects.00.X": "1"})
    assert params == {"Ids": {"first": "1"}, "Rects": {"00": {"X": "1"}}}
    assert _error(validator, params).code == "InvalidParameter"


# --- nothing but ApiError, whatever arrives ---------------------------------------------------

OPTION_NAMES = sorted(models.SegmentationOptions()._serialize(allow_none=True))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.sampled_from(OPTION_NAMES), children,
                      max_size=4),
    max_leaves=20)
near_valid = st.fixed_dictionaries(
    {"SegmentationOptions": st.dictionaries(st.sampled_from([*OPTION_NAMES, "Foo"]), json_values,
                                            max_size=5) | json_values},
    optional={"Url": json_values, "Image": json_values, "Extra": json_values})


def _only_api_errors(call: Any, *args: Any) -> None:
    try:
        call(*args)
    except ApiError as error:
        assert error.code in VALIDATION_CODES
        error.message("en-US")
        error.message("zh-CN")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=json_values | near_valid)
def test_arbitrary_json_raises_only_api_errors(validator: RequestValidator, params: Any) -> None:
    _only_api_errors(validator.validate, params)
    if isinstance(params, dict):
        _only_api_errors(check_segmentation_options, params)


segment = st.sampled_from(["SegmentationOptions", "Head", "Url", "0", "1", "", "x"]) | st.text(
    max_size=4)
flat_names = st.lists(segment, min_size=1, max_size=10).map(".".join)
flat_values = st.sampled_from(["True", "true", "False", "1", "", "x"]) | st.text(max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flat=st.dictionaries(flat_names, flat_values, max_size=6))
def test_arbitrary_flat_parameters_raise_only_api_errors(validator: RequestValidator,
                                                         flat: dict[str, str]) -> None:
    def rebuild_and_validate() -> None:
        validator.validate(validator.from_flat(flat))

    _only_api_errors(rebuild_and_validate)
