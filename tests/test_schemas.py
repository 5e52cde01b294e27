"""The generated schemas are current, traceable, and agree with the installed official SDK.

A change on Tencent's side (a renamed member, a new option, a type change) shows up either as a
stale schema (``--check``) or as a disagreement with the SDK models here.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from tencentcloud.bda.v20200324 import models

from emulator.wire.validation import RequestValidator, check_segmentation_options

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
SCRIPT = ROOT / "scripts" / "gen_schemas.py"
ACTION = "SegmentCustomizedPortraitPic"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return data


def _gen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=ROOT, check=False)


@pytest.fixture(scope="module")
def request_schema() -> dict[str, Any]:
    return _load(f"{ACTION}.request.schema.json")


@pytest.fixture(scope="module")
def response_schema() -> dict[str, Any]:
    return _load(f"{ACTION}.response.schema.json")


# --- generation and provenance -------------------------------------------------------------

def test_checked_in_schemas_are_current() -> None:
    result = _gen("--check")
    assert result.returncode == 0, result.stderr


def test_check_ignores_the_date_but_catches_edits(tmp_path: Path) -> None:
    assert _gen("--out-dir", str(tmp_path), "--date", "2000-01-01").returncode == 0
    provenance = json.loads((tmp_path / "PROVENANCE.json").read_text(encoding="utf-8"))
    assert provenance["generated"]["date"] == "2000-01-01"
    assert _gen("--out-dir", str(tmp_path), "--check").returncode == 0

    target = tmp_path / f"{ACTION}.request.schema.json"
    target.write_text(target.read_text(encoding="utf-8").replace("boolean", "string", 1),
                      encoding="utf-8")
    result = _gen("--out-dir", str(tmp_path), "--check")
    assert result.returncode == 1
    assert "request.schema.json is stale" in result.stderr


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        out.mkdir()
        assert _gen("--out-dir", str(out), "--date", "2026-01-01").returncode == 0
    for path in first.iterdir():
        text = path.read_text(encoding="utf-8")
        assert text == (second / path.name).read_text(encoding="utf-8")
        assert text.endswith("}\n")
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2,
                                  ensure_ascii=False) + "\n"


def test_provenance_matches_the_vendored_source() -> None:
    provenance = _load("PROVENANCE.json")
    api_bytes = (SCHEMAS / "source" / "api.json").read_bytes()
    assert provenance["source"]["sha256"] == hashlib.sha256(api_bytes).hexdigest()
    assert provenance["source"]["package"] == "tccli"
    assert provenance["source"]["version"] == "3.1.189.1"
    assert provenance["source"]["path"] == "tccli/services/bda/v20200324/api.json"
    assert provenance["generated"]["generator"] == "scripts/gen_schemas.py"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", provenance["generated"]["date"])
    assert provenance["files"] == sorted(
        [f"{ACTION}.request.schema.json", f"{ACTION}.response.schema.json"])


@pytest.mark.parametrize("name", [f"{ACTION}.request.schema.json",
                                  f"{ACTION}.response.schema.json"])
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    schema = _load(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


# --- agreement with the installed SDK models -------------------------------------------------

def _sdk_members(model: type) -> set[str]:
    """Member names of an SDK model: the ``_Name`` attributes its ``__init__`` sets."""
    return {name[1:] for name in vars(model()) if name != "_headers"}


def _sdk_types(model: type) -> dict[str, str]:
    """``{member: type}`` from the ``:type Name: T`` lines of the model's ``__init__`` doc."""
    doc = vars(model)["__init__"].__doc__ or ""
    return dict(re.findall(r":type (\w+): (.+)", doc))


_SDK_SCALARS = {"bool": "boolean", "int": "integer", "str": "string", "float": "number"}


def _schema_kind(schema: dict[str, Any]) -> str:
    """A member schema spelled the way the SDK docs spell types."""
    declared = schema["type"]
    kind = next(t for t in declared if t != "null") if isinstance(declared, list) else declared
    if kind == "object":
        return f":class:`tencentcloud.bda.v20200324.models.{schema['title']}`"
    if kind == "array":
        items = schema["items"]
        inner = items["title"] if items["type"] == "object" else {
            v: k for k, v in _SDK_SCALARS.items()}[items["type"]]
        return f"list of {inner}"
    return {v: k for k, v in _SDK_SCALARS.items()}[kind]


def _objects(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every object schema in ``schema`` by title (the api.json / SDK class name)."""
    found = {schema["title"]: schema}
    for member in schema["properties"].values():
        nested = member.get("items", member)
        if "properties" in nested:
            found.update(_objects(nested))
    return found


@pytest.fixture(scope="module")
def schema_objects(request_schema: dict[str, Any],
                   response_schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {**_objects(request_schema), **_objects(response_schema)}


def test_schema_objects_are_the_sdk_models(schema_objects: dict[str, dict[str, Any]]) -> None:
    assert set(schema_objects) == {"SegmentCustomizedPortraitPicRequest", "SegmentationOptions",
                                   "SegmentCustomizedPortraitPicResponse", "ImageRect"}


@pytest.mark.parametrize("model_name", ["SegmentCustomizedPortraitPicRequest",
                                        "SegmentationOptions",
                                        "SegmentCustomizedPortraitPicResponse", "ImageRect"])
def test_members_and_types_agree_with_the_sdk(
        model_name: str, schema_objects: dict[str, dict[str, Any]]) -> None:
    model = getattr(models, model_name)
    schema = schema_objects[model_name]
    assert set(schema["properties"]) == _sdk_members(model)
    sdk_types = _sdk_types(model)
    assert set(sdk_types) == _sdk_members(model)
    for name, member in schema["properties"].items():
        assert _schema_kind(member) == sdk_types[name], name
    assert not schema["additionalProperties"]


def test_segmentation_options_has_the_21_documented_members(
        request_schema: dict[str, Any]) -> None:
    options = request_schema["properties"]["SegmentationOptions"]["properties"]
    assert len(options) == 21
    assert {member["type"] for member in options.values()} == {"boolean"}


def test_nesting_agrees_with_sdk_deserialisation(
        request_schema: dict[str, Any], response_schema: dict[str, Any]) -> None:
    """What ``_deserialize`` builds for each object-valued member is the schema's object."""
    for schema, model_name in ((request_schema, "SegmentCustomizedPortraitPicRequest"),
                               (response_schema, "SegmentCustomizedPortraitPicResponse")):
        for name, member in schema["properties"].items():
            kind = _schema_kind(member)
            if kind.startswith(":class:"):
                instance = getattr(models, model_name)()
                instance._deserialize({name: {}})
                assert type(getattr(instance, name)).__name__ == member["title"]
            elif kind.startswith("list of ") and member["items"]["type"] == "object":
                instance = getattr(models, model_name)()
                instance._deserialize({name: [{}]})
                assert type(getattr(instance, name)[0]).__name__ == member["items"]["title"]


def test_required_members_follow_api_json(request_schema: dict[str, Any],
                                          response_schema: dict[str, Any]) -> None:
    assert request_schema["required"] == ["SegmentationOptions"]
    assert "required" not in request_schema["properties"]["SegmentationOptions"]
    assert set(response_schema["required"]) == {"PortraitImage", "MaskImage", "ImageRects",
                                                "RequestId"}
    assert response_schema["properties"]["ImageRects"]["type"] == ["array", "null"]
    assert response_schema["properties"]["ImageRects"]["items"]["required"] == [
        "X", "Y", "Width", "Height", "Label"]


def test_an_sdk_serialised_request_validates() -> None:
    request = models.SegmentCustomizedPortraitPicRequest()
    options = models.SegmentationOptions()
    for name in _sdk_members(models.SegmentationOptions):
        setattr(options, name, True)
    request.SegmentationOptions = options
    request.Url = "https://example.com/a.jpg"
    params = request._serialize()
    validator = RequestValidator.for_action(ACTION)
    validator.validate(params)
    check_segmentation_options(params)


# --- the documentation's examples ----------------------------------------------------------

def _examples() -> list[dict[str, Any]]:
    data = json.loads((SCHEMAS / "source" / "examples.json").read_text(encoding="utf-8"))
    examples: list[dict[str, Any]] = data["actions"][ACTION]
    return examples


def _body(example: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(example["input"].split("\n\n", 1)[1])
    return body


@pytest.mark.parametrize("example", _examples(), ids=lambda e: str(e["title"]))
def test_documented_example_requests_pass_the_schema(example: dict[str, Any]) -> None:
    RequestValidator.for_action(ACTION).validate(_body(example))


def test_documented_success_example(response_schema: dict[str, Any]) -> None:
    (success,) = [e for e in _examples() if "Error" not in e["output"]]
    check_segmentation_options(_body(success))
    reply = json.loads(success["output"])["Response"]
    assert not list(Draft202012Validator(response_schema).iter_errors(reply))
