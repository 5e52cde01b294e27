"""The generated schemas are current, traceable, and agree with the installed official SDK.

A change on Tencent's side (a renamed member, a new option, a type change, a new action) shows
up either as a stale schema (``--check``) or as a disagreement with api.json or the SDK models
here. Every check runs for each of the five actions of bda 2020-03-24, implemented or not.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from tencentcloud.bda.v20200324 import bda_client, models
from tencentcloud.common.abstract_model import AbstractModel

from emulator.wire.validation import RequestValidator, check_segmentation_options

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
SCRIPT = ROOT / "scripts" / "gen_schemas.py"
ACTION = "SegmentCustomizedPortraitPic"
ACTIONS = ("SegmentCustomizedPortraitPic", "SegmentPortraitPic", "CreateSegmentationTask",
           "DescribeSegmentationTask", "TerminateSegmentationTask")
DIRECTIONS = ("request", "response")
FILES = tuple(f"{action}.{direction}.schema.json" for action in ACTIONS
              for direction in DIRECTIONS)

# Each action's schemas consist of exactly these api.json objects / SDK model classes.
OBJECTS: dict[str, set[str]] = {
    "SegmentCustomizedPortraitPic": {"SegmentCustomizedPortraitPicRequest", "SegmentationOptions",
                                     "SegmentCustomizedPortraitPicResponse", "ImageRect"},
    "SegmentPortraitPic": {"SegmentPortraitPicRequest", "SegmentPortraitPicResponse"},
    "CreateSegmentationTask": {"CreateSegmentationTaskRequest",
                               "CreateSegmentationTaskResponse"},
    "DescribeSegmentationTask": {"DescribeSegmentationTaskRequest",
                                 "DescribeSegmentationTaskResponse", "VideoBasicInformation"},
    "TerminateSegmentationTask": {"TerminateSegmentationTaskRequest",
                                  "TerminateSegmentationTaskResponse"},
}
MODELS = [(action, model) for action in ACTIONS for model in sorted(OBJECTS[action])]

# ``required`` of every object, as api.json flags it (``output_required`` for a response's own
# members, ``required`` elsewhere; RequestId is always there). Empty: no ``required`` keyword.
REQUIRED: dict[str, set[str]] = {
    "SegmentCustomizedPortraitPicRequest": {"SegmentationOptions"},
    "SegmentationOptions": set(),
    "SegmentCustomizedPortraitPicResponse": {"PortraitImage", "MaskImage", "ImageRects",
                                             "RequestId"},
    "ImageRect": {"X", "Y", "Width", "Height", "Label"},
    "SegmentPortraitPicRequest": set(),
    "SegmentPortraitPicResponse": {"ResultImage", "ResultMask", "HasForeground",
                                   "ResultImageUrl", "ResultMaskUrl", "RequestId"},
    "CreateSegmentationTaskRequest": {"VideoUrl"},
    "CreateSegmentationTaskResponse": {"TaskID", "EstimatedProcessingTime", "RequestId"},
    "DescribeSegmentationTaskRequest": {"TaskID"},
    "DescribeSegmentationTaskResponse": {"TaskStatus", "ResultVideoUrl", "ResultVideoMD5",
                                         "VideoBasicInformation", "ErrorMsg", "RequestId"},
    "VideoBasicInformation": {"FrameWidth", "FrameHeight", "FramesPerSecond", "Duration",
                              "TotalFrames"},
    "TerminateSegmentationTaskRequest": {"TaskID"},
    "TerminateSegmentationTaskResponse": {"RequestId"},
}


@cache
def _load(name: str) -> dict[str, Any]:
    """A file under ``schemas/`` (cached: tests must not mutate what they get)."""
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return data


def _api() -> dict[str, Any]:
    return _load("source/api.json")


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


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One default run into a scratch folder, for tests that then damage a copy of it."""
    out = tmp_path_factory.mktemp("generated")
    assert _gen("--out-dir", str(out), "--date", "2000-01-01").returncode == 0
    return out


@pytest.mark.parametrize("name", [*FILES, "PROVENANCE.json"])
def test_check_covers_every_file(name: str, generated: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(generated, out)
    target = out / name
    target.write_text(target.read_text(encoding="utf-8").replace('"', "'", 1) + " ",
                      encoding="utf-8")
    result = _gen("--out-dir", str(out), "--check")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"gen_schemas: {target} is stale; run scripts/gen_schemas.py"]
    target.unlink()
    result = _gen("--out-dir", str(out), "--check")
    assert result.returncode == 1
    assert f"{target} is stale" in result.stderr


def test_check_reports_schemas_no_action_produces(generated: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(generated, out)
    (out / "DetectBody.request.schema.json").write_text("{}\n", encoding="utf-8")
    (out / "credentials.schema.json").write_text("{}\n", encoding="utf-8")  # not generated
    result = _gen("--out-dir", str(out), "--check")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"gen_schemas: {out / 'DetectBody.request.schema.json'} is not produced by this run "
        "(not in PROVENANCE.json); remove it or generate its action"]


def test_the_default_run_is_every_action(generated: Path) -> None:
    names = {path.name for path in generated.iterdir()}
    assert names == {*FILES, "PROVENANCE.json"}
    provenance = json.loads((generated / "PROVENANCE.json").read_text(encoding="utf-8"))
    assert provenance["actions"] == sorted(ACTIONS)


def test_action_restricts_a_run(tmp_path: Path) -> None:
    chosen = ("DescribeSegmentationTask", "SegmentPortraitPic")
    args = [part for action in chosen for part in ("--action", action)]
    assert _gen("--out-dir", str(tmp_path), *args, "--action", chosen[0]).returncode == 0
    expected = sorted(f"{a}.{d}.schema.json" for a in chosen for d in DIRECTIONS)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*expected, "PROVENANCE.json"])
    provenance = json.loads((tmp_path / "PROVENANCE.json").read_text(encoding="utf-8"))
    assert provenance["actions"] == sorted(chosen)
    assert provenance["files"] == expected
    for name in expected:
        assert (tmp_path / name).read_text(encoding="utf-8") == (
            SCHEMAS / name).read_text(encoding="utf-8")
    assert _gen("--out-dir", str(tmp_path), "--check", *args).returncode == 0
    assert _gen("--out-dir", str(tmp_path), "--check").returncode == 1  # the default: all five


def test_an_unknown_action_fails_loudly(tmp_path: Path) -> None:
    result = _gen("--out-dir", str(tmp_path), "--action", "DetectBody")
    assert result.returncode == 2
    assert "'DetectBody' is not in api.json" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        out.mkdir()
        assert _gen("--out-dir", str(out), "--date", "2026-01-01").returncode == 0
    assert {path.name for path in first.iterdir()} == {*FILES, "PROVENANCE.json"}
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
    assert provenance["source"]["vendored_copy"] == "schemas/source/api.json"
    assert provenance["generated"]["generator"] == "scripts/gen_schemas.py"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", provenance["generated"]["date"])
    assert (provenance["service"], provenance["api_version"]) == ("bda", "2020-03-24")
    assert provenance["actions"] == sorted(ACTIONS)
    assert provenance["files"] == sorted(FILES)
    assert [f"{ACTION}.request.schema.json", f"{ACTION}.response.schema.json"] == [
        name for name in provenance["files"] if name.startswith(f"{ACTION}.")]


def test_the_five_actions_are_api_json_s_and_the_sdk_s() -> None:
    """A newer api.json or SDK with another action fails here (add it to the generator)."""
    assert set(_api()["actions"]) == set(ACTIONS)
    assert {name for name, value in vars(bda_client.BdaClient).items()
            if callable(value) and not name.startswith("_")} == set(ACTIONS)
    for action in ACTIONS:
        spec = _api()["actions"][action]
        assert (spec["input"], spec["output"]) == (f"{action}Request", f"{action}Response")
        assert spec["status"] == "online"


@pytest.mark.parametrize("name", FILES)
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    schema = _load(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    action, direction = name.split(".")[:2]
    assert schema["title"] == f"{action}{direction.capitalize()}"
    assert "Do not edit" in schema["$comment"]


@pytest.mark.parametrize("action", ACTIONS)
def test_request_validator_compiles_every_request_schema(action: str) -> None:
    validator = RequestValidator.for_action(action)
    assert validator.schema == _load(f"{action}.request.schema.json")


# --- agreement with api.json -----------------------------------------------------------------

_API_SCALARS = {"bool": "boolean", "string": "string", "int": "integer", "int64": "integer",
                "uint64": "integer", "float": "number", "double": "number"}


def _api_kind(member: dict[str, Any]) -> str:
    """The JSON type api.json declares for a member (``type``, refined by ``member``)."""
    kind = member["type"]
    if kind == "object":
        return "object"
    if kind == "list":
        return "array"
    assert _API_SCALARS[kind] == _API_SCALARS[member["member"]], member  # int/int64 agree
    return _API_SCALARS[kind]


def _assert_says_what_api_json_says(schema: dict[str, Any], object_name: str,
                                    top_response: bool) -> None:
    spec = _api()["objects"][object_name]
    assert schema["title"] == object_name
    assert "object" in schema["type"]  # nullability is the member's, checked by the caller
    assert schema["additionalProperties"] is False
    members = {member["name"]: member for member in spec["members"]}
    assert list(schema["properties"]) == sorted(members)  # dumped with sorted keys
    flag = "output_required" if top_response else "required"
    required = {name for name, member in members.items() if member.get(flag) is True}
    if top_response:
        required.add("RequestId")
    assert set(schema.get("required", [])) == required
    assert len(schema.get("required", [])) == len(required)
    for name, member in members.items():
        prop = schema["properties"][name]
        kind = _api_kind(member)
        nullable = member.get("value_allowed_null") is True
        assert prop["type"] == ([kind, "null"] if nullable else kind), name
        assert prop["description"] == member.get("document", ""), name
        if kind == "object":
            _assert_says_what_api_json_says(prop, member["member"], False)
        elif kind == "array":
            items = prop["items"]
            if member["member"] in _api()["objects"]:
                _assert_says_what_api_json_says(items, member["member"], False)
            else:
                assert items["type"] == _API_SCALARS[member["member"]]
        if member.get("member") == "int64":
            assert (prop["minimum"], prop["maximum"]) == (-(2**63), 2**63 - 1)
        if "examples" in prop:
            (example,) = prop["examples"]
            assert (example == member["example"] if kind == "string"
                    else example == json.loads(member["example"])), name
        else:
            assert member.get("example", "") == "", name


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("action", ACTIONS)
def test_schemas_say_exactly_what_api_json_says(action: str, direction: str) -> None:
    schema = _load(f"{action}.{direction}.schema.json")
    spec = _api()["actions"][action]
    object_name = spec["input"] if direction == "request" else spec["output"]
    assert schema["description"] == _api()["objects"][object_name]["document"]
    assert schema["type"] == "object"
    _assert_says_what_api_json_says(schema, object_name, direction == "response")


def test_task_and_video_types_are_api_json_s() -> None:
    """TaskID is a string (19-20 digits: beyond int64), the video counts integers, times numbers."""
    objects = {name: {m["name"]: m for m in spec["members"]}
               for name, spec in _api()["objects"].items()}
    expected = {
        ("CreateSegmentationTaskResponse", "TaskID"): ("string", "string"),
        ("DescribeSegmentationTaskRequest", "TaskID"): ("string", "string"),
        ("TerminateSegmentationTaskRequest", "TaskID"): ("string", "string"),
        ("CreateSegmentationTaskResponse", "EstimatedProcessingTime"): ("float", "number"),
        ("VideoBasicInformation", "Duration"): ("float", "number"),
        ("VideoBasicInformation", "FramesPerSecond"): ("int", "integer"),
        ("VideoBasicInformation", "FrameWidth"): ("int", "integer"),
        ("VideoBasicInformation", "FrameHeight"): ("int", "integer"),
        ("VideoBasicInformation", "TotalFrames"): ("int", "integer"),
    }
    create = _load("CreateSegmentationTask.response.schema.json")["properties"]
    video = _load("DescribeSegmentationTask.response.schema.json")["properties"][
        "VideoBasicInformation"]
    schemas = {"CreateSegmentationTaskResponse": create,
               "DescribeSegmentationTaskRequest":
                   _load("DescribeSegmentationTask.request.schema.json")["properties"],
               "TerminateSegmentationTaskRequest":
                   _load("TerminateSegmentationTask.request.schema.json")["properties"],
               "VideoBasicInformation": video["properties"]}
    for (object_name, member), (api_type, json_type) in expected.items():
        assert objects[object_name][member]["type"] == api_type
        assert schemas[object_name][member]["type"] == json_type, (object_name, member)
    assert video["type"] == ["object", "null"]
    assert video["required"] == ["FrameWidth", "FrameHeight", "FramesPerSecond", "Duration",
                                 "TotalFrames"]


@pytest.mark.parametrize("action", ACTIONS)
def test_required_members_of_every_object(action: str) -> None:
    for name, schema in _action_objects(action).items():
        assert set(schema.get("required", [])) == REQUIRED[name], name
        assert ("required" in schema) == bool(REQUIRED[name]), name


def _subschemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """``schema`` and every member schema nested in it."""
    found = [schema]
    for member in schema.get("properties", {}).values():
        found.extend(_subschemas(member))
    if isinstance(schema.get("items"), dict):
        found.extend(_subschemas(schema["items"]))
    return found


@pytest.mark.parametrize("name", FILES)
def test_member_examples_pass_their_own_schema(name: str) -> None:
    for schema in _subschemas(_load(name)):
        for example in schema.get("examples", []):
            assert not list(Draft202012Validator(schema).iter_errors(example)), (name, example)


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


def _action_objects(action: str) -> dict[str, dict[str, Any]]:
    return {**_objects(_load(f"{action}.request.schema.json")),
            **_objects(_load(f"{action}.response.schema.json"))}


@pytest.fixture(scope="module")
def schema_objects() -> dict[str, dict[str, Any]]:
    return _action_objects(ACTION)


@pytest.mark.parametrize("action", ACTIONS)
def test_schema_objects_are_the_sdk_models(action: str) -> None:
    assert set(_action_objects(action)) == OBJECTS[action]


def test_every_sdk_model_belongs_to_an_action() -> None:
    sdk = {name for name, value in vars(models).items()
           if isinstance(value, type) and issubclass(value, AbstractModel)
           and value.__module__ == models.__name__}
    assert sdk == set().union(*OBJECTS.values())
    assert set(_api()["objects"]) == sdk


@pytest.mark.parametrize(("action", "model_name"), MODELS)
def test_members_and_types_agree_with_the_sdk(action: str, model_name: str) -> None:
    model = getattr(models, model_name)
    schema = _action_objects(action)[model_name]
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


def _assert_nesting(schema: dict[str, Any], model_name: str) -> int:
    """What ``_deserialize`` builds for each object-valued member is the schema's object, at
    every depth; returns how many object-valued members were checked."""
    checked = 0
    for name, member in schema["properties"].items():
        kind = _schema_kind(member)
        if kind.startswith(":class:"):
            instance = getattr(models, model_name)()
            instance._deserialize({name: {}})
            assert type(getattr(instance, name)).__name__ == member["title"]
            checked += 1 + _assert_nesting(member, member["title"])
        elif kind.startswith("list of ") and member["items"]["type"] == "object":
            instance = getattr(models, model_name)()
            instance._deserialize({name: [{}]})
            assert type(getattr(instance, name)[0]).__name__ == member["items"]["title"]
            checked += 1 + _assert_nesting(member["items"], member["items"]["title"])
    return checked


@pytest.mark.parametrize("action", ACTIONS)
def test_nesting_agrees_with_sdk_deserialisation(action: str) -> None:
    checked = sum(_assert_nesting(_load(f"{action}.{direction}.schema.json"),
                                  f"{action}{direction.capitalize()}")
                  for direction in DIRECTIONS)
    assert checked == len(OBJECTS[action]) - 2  # every nested object was reached


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


_SDK_SAMPLES: dict[str, Any] = {"str": "x", "bool": True, "int": 1, "float": 1.5}


def _sdk_filled(model: type) -> Any:
    """An SDK model with every member set to a value of its documented type."""
    instance = model()
    for name, kind in _sdk_types(model).items():
        match = re.fullmatch(r"(list of )?(?::class:`[\w.]+\.(\w+)`|(\w+))", kind)
        assert match is not None, kind
        inner = match[2] or match[3]  # lists of objects say "list of ImageRect"
        value = (_SDK_SAMPLES[inner] if inner in _SDK_SAMPLES
                 else _sdk_filled(getattr(models, inner)))
        setattr(instance, name, [value] if match[1] else value)
    return instance


@pytest.mark.parametrize("action", ACTIONS)
def test_a_fully_filled_sdk_request_validates(action: str) -> None:
    params = _sdk_filled(getattr(models, f"{action}Request"))._serialize()
    assert set(params) == set(_load(f"{action}.request.schema.json")["properties"])
    RequestValidator.for_action(action).validate(params)


@pytest.mark.parametrize("action", ACTIONS)
def test_a_fully_filled_sdk_response_validates(action: str) -> None:
    reply = _sdk_filled(getattr(models, f"{action}Response"))._serialize()
    schema = _load(f"{action}.response.schema.json")
    assert set(reply) == set(schema["properties"])
    assert not list(Draft202012Validator(schema).iter_errors(reply))


@pytest.mark.parametrize("action", ACTIONS)
def test_response_schemas_describe_successes_only(action: str) -> None:
    """The SDK raises on a reply with ``Error`` before any model sees it; the response
    schemas describe what the models parse, so an error reply does not pass them."""
    schema = _load(f"{action}.response.schema.json")
    assert "Error" not in schema["properties"]
    error = {"Error": {"Code": "InternalError", "Message": "x"}, "RequestId": "r"}
    assert list(Draft202012Validator(schema).iter_errors(error))


# --- the documentation's examples ----------------------------------------------------------

def _examples(action: str = ACTION) -> list[dict[str, Any]]:
    data = _load("source/examples.json")
    examples: list[dict[str, Any]] = data["actions"][action]
    return examples


def _body(example: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(example["input"].split("\n\n", 1)[1])
    return body


_ALL_EXAMPLES = [(action, example) for action in ACTIONS for example in _examples(action)]


@pytest.mark.parametrize(("action", "example"), _ALL_EXAMPLES,
                         ids=[f"{a}-{e['title']}" for a, e in _ALL_EXAMPLES])
def test_documented_example_requests_pass_the_schema(action: str,
                                                     example: dict[str, Any]) -> None:
    assert f"X-TC-Action: {action}\n" in example["input"]
    RequestValidator.for_action(action).validate(_body(example))


def test_documented_success_example(response_schema: dict[str, Any]) -> None:
    (success,) = [e for e in _examples() if "Error" not in e["output"]]
    check_segmentation_options(_body(success))
    reply = json.loads(success["output"])["Response"]
    assert not list(Draft202012Validator(response_schema).iter_errors(reply))


def _assert_sdk_reads(instance: Any, data: dict[str, Any]) -> None:
    """Every member of ``data`` comes out of the SDK model as the same value or object."""
    for name, value in data.items():
        got = getattr(instance, name)
        if isinstance(value, dict):
            _assert_sdk_reads(got, value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item, item_data in zip(got, value, strict=True):
                _assert_sdk_reads(item, item_data)
        else:
            assert got == value, name


@pytest.mark.parametrize("action", ACTIONS)
def test_documented_replies(action: str) -> None:
    """Every Error-free documented reply passes the response schema and the SDK parses it
    member by member; every error reply fails it (the SDK raises on those instead)."""
    schema = _load(f"{action}.response.schema.json")
    outputs = [json.loads(example["output"])["Response"] for example in _examples(action)]
    successes = [reply for reply in outputs if "Error" not in reply]
    assert successes
    for reply in successes:
        assert not list(Draft202012Validator(schema).iter_errors(reply))
        model = getattr(models, f"{action}Response")()
        model._deserialize(reply)
        _assert_sdk_reads(model, reply)
    for reply in outputs:
        if "Error" in reply:
            assert list(Draft202012Validator(schema).iter_errors(reply))
