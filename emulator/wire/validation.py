"""Business-parameter validation: the generated JSON schema, with failures mapped to wire codes.

jsonschema reports every failure at once; the real service answers with one code, so
:meth:`RequestValidator.validate` picks one deterministically — MissingParameter, then
UnknownParameter, then InvalidParameter (wrong type), then InvalidParameterValue, and within a
kind the smallest dotted path. Names are dotted the way Tencent spells them (``Key.0.Name``).

Each error also carries an ``explain`` for the journal (never on the wire): the JSON pointer of
the offending member, the schema rule it broke and where that rule is in the schema file, the
JSON type received — the value itself only when it is at most 16 characters — and how many
other failures the reply does not name.

Deviations (the real rules are unconfirmed): a JSON ``null`` is a type error, not an absent
member; v1/GET booleans accept ``True``/``False`` as the Python SDK sends them; array indices
in flattened names must be ``0..n-1`` without gaps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

from emulator.errors import ApiError
from emulator.resources import schema_path
from emulator.strictjson import pointer
from emulator.text import clean

MAX_DEPTH = 8
"""Most dot-separated segments a flattened name may have (the schema needs three at most)."""

_MAX_SHOWN = 200
#: A received value is quoted in ``explain`` up to this many characters, else only described.
_MAX_VALUE = 16
#: Other failures named in ``explain`` besides the one answered.
_MAX_OTHERS = 3
_RANK: Mapping[str, int] = MappingProxyType({
    "MissingParameter": 0, "UnknownParameter": 1, "InvalidParameter": 2,
    "InvalidParameterValue": 3})
_BOOLEANS: Mapping[str, bool] = MappingProxyType(
    {"true": True, "True": True, "false": False, "False": False})
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INDEX = re.compile(r"0|[1-9][0-9]*")
#: A schema failure: (rank, dotted name, jsonschema's error, the member it names or None)
_Candidate = tuple[int, str, Any, str | None]
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
               (list, "array"), (Mapping, "object"))


def _shown(name: str) -> str:
    """A name fit for a message: client-chosen keys can be megabytes long."""
    return name if len(name) <= _MAX_SHOWN else name[:_MAX_SHOWN] + "…"


def _dotted(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _received(value: Any) -> str:
    """The JSON type received, with the value only when it is short: never a long string."""
    kind = _json_type(value)
    if isinstance(value, Mapping):
        return f"object of {len(value)} members"
    if isinstance(value, list):
        return f"array of {len(value)} items"
    if isinstance(value, str):
        if len(value) > _MAX_VALUE:
            return f"string of {len(value)} chars"
        return f"string {clean(json.dumps(value, ensure_ascii=False))}"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return kind
    return f"{kind} {text}" if len(text) <= _MAX_VALUE else f"{kind} of {len(text)} chars"


def _pointer(path: Iterable[Any]) -> str:
    """A JSON pointer fit for the journal: client-chosen keys can be megabytes long."""
    return clean(_shown(pointer(list(path))))


def _candidates(error: Any) -> list[_Candidate]:
    """The wire errors one jsonschema error stands for (several for required/additional),
    kept light: the :class:`ApiError` is built for the one answered only."""
    path = list(error.absolute_path)
    instance = error.instance
    keyword = error.validator
    if keyword == "required" and isinstance(instance, Mapping):
        return [(_RANK["MissingParameter"], _dotted([*path, name]), error, name)
                for name in error.validator_value if name not in instance]
    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        known = error.schema.get("properties", {})
        return [(_RANK["UnknownParameter"], _dotted([*path, name]), error, name)
                for name in instance if name not in known]
    code = "InvalidParameter" if keyword == "type" else "InvalidParameterValue"
    return [(_RANK[code], _dotted(path), error, None)]


def _where(candidate: _Candidate) -> str:
    """The JSON pointer of the offending member."""
    _, _, error, member = candidate
    path = list(error.absolute_path)
    return _pointer(path if member is None else [*path, member])


def _declared_type(schema: Mapping[str, Any] | None) -> str | None:
    """The schema's one non-null ``type`` (``["array", "null"]`` → ``"array"``)."""
    if schema is None:
        return None
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), None)
    return declared if isinstance(declared, str) else None


def _value_reason(name: str, keyword: str, expected: Any) -> str:
    """Why a well-typed value is refused, without echoing the (possibly huge) value."""
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
              "exclusiveMaximum": "<"}
    if keyword in bounds:
        return f"Parameter `{name}` must be {bounds[keyword]} {expected}."
    if keyword in ("enum", "const"):
        allowed = expected if keyword == "enum" else [expected]
        return (f"Parameter `{name}` must be one of "
                f"{_shown(', '.join(json.dumps(v) for v in allowed))}.")
    return f"Parameter `{name}` does not satisfy `{keyword}`: {_shown(json.dumps(expected))}."


class RequestValidator:
    """One action's request schema, compiled once, raising :class:`ApiError` on bad input."""

    def __init__(self, schema: Mapping[str, Any], name: str = "") -> None:
        Draft202012Validator.check_schema(schema)
        self.schema: Mapping[str, Any] = schema
        self.name = name  # how ``explain`` names the schema: its file name
        self._validator = Draft202012Validator(schema)

    @classmethod
    def for_action(cls, action: str) -> RequestValidator:
        """The validator of ``schemas/<action>.request.schema.json``."""
        path = schema_path(f"{action}.request.schema.json")
        return cls(json.loads(path.read_text(encoding="utf-8")), path.name)

    def validate(self, params: Mapping[str, Any]) -> None:
        """Raise the one :class:`ApiError` the service would answer for ``params``, if any."""
        if not isinstance(params, Mapping):
            raise ApiError("InvalidParameter", reason="Request parameters type error, expected "
                           f"object, got {_json_type(params)}.")
        candidates: list[_Candidate] = []
        for error in self._validator.iter_errors(params):
            candidates.extend(_candidates(error))
        if candidates:
            candidates.sort(key=lambda c: (c[0], c[1]))
            chosen = self._error(candidates[0])
            others = len(candidates) - 1
            if others:
                named = ", ".join(f"{_where(c)} ({c[2].validator})"
                                  for c in candidates[1:1 + _MAX_OTHERS])
                more = others - _MAX_OTHERS
                chosen.explain = (f"{chosen.explain}\n{others} other schema failure"
                                  f"{'s' if others > 1 else ''}, not answered: {named}"
                                  + (f", … ({more} more)" if more > 0 else ""))
            raise chosen

    def _error(self, candidate: _Candidate) -> ApiError:
        """The wire error of one candidate, with its ``explain``."""
        _, name, error, member = candidate
        keyword = error.validator
        where = f"{_where(candidate)}: rule `{keyword}`"
        rule = f" (schema: {self.name}#{_pointer(error.schema_path)})"
        if keyword == "required" and member is not None:
            return ApiError("MissingParameter", param=_shown(name),
                            explain=f"{where}: the member is absent{rule}")
        if keyword == "additionalProperties" and member is not None:
            defined = ", ".join(sorted(error.schema.get("properties", {}))) or "none"
            return ApiError("UnknownParameter", param=_shown(name),
                            explain=f"{where}: the schema defines no such member there (it "
                                    f"has: {_shown(defined)}); got "
                                    f"{_received(error.instance[member])}{rule}")
        got = f"got {_received(error.instance)}{rule}"
        if keyword == "type":
            expected = error.validator_value
            wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
            return ApiError("InvalidParameter",
                            reason=f"Parameter `{_shown(name)}` type error, expected {wanted}.",
                            reason_zh=f"参数`{_shown(name)}`取值类型错误。参数类型应为 {wanted}",
                            explain=f"{where}: expected {wanted}, {got}")
        expected_text = _shown(json.dumps(error.validator_value, ensure_ascii=False))
        return ApiError("InvalidParameterValue",
                        reason=_value_reason(_shown(name), str(keyword), error.validator_value),
                        explain=f"{where} {expected_text}: {got}")

    def from_flat(self, flat: Mapping[str, str]) -> dict[str, Any]:
        """Rebuild the JSON shape of v1-signed / GET business parameters (``A.B=v``, ``L.0=v``).

        Values are coerced to the schema's declared scalar type when they spell one exactly;
        anything else stays a string (or a dict for unknown nesting) so :meth:`validate`
        reports it. ``flat`` must hold business parameters only, not the common ones.
        """
        tree: dict[str, Any] = {}
        for name in sorted(flat):
            value = flat[name]
            parts = name.split(".")
            if "" in parts:
                parts = [name]  # "A..B", "A.": not a path; kept whole, reported as unknown
            if len(parts) > MAX_DEPTH:
                raise ApiError("InvalidParameter", reason=f"Parameter `{_shown(name)}` is nested "
                               f"deeper than {MAX_DEPTH} levels.")
            _insert(tree, parts, value)
        result = _build(tree, self.schema, "")
        return result if isinstance(result, dict) else {}


class _Leaf:
    """A flat value in the name tree, distinguishable from a branch (a dict)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _insert(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    node = tree
    for depth, part in enumerate(parts):
        here = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        existing = node.get(part)
        if last:
            if existing is not None:  # a branch already hangs here: "A.B" came before "A"
                raise _conflict(here)
            node[part] = _Leaf(value)
        else:
            if isinstance(existing, _Leaf):
                raise _conflict(here)
            node = node.setdefault(part, {})


def _conflict(name: str) -> ApiError:
    return ApiError("InvalidParameter", reason=f"Parameter `{_shown(name)}` is given both as a "
                    "value and as a parent of other parameters.")


def _build(node: dict[str, Any] | _Leaf, schema: Mapping[str, Any] | None, name: str) -> Any:
    """Turn a name-tree node into JSON guided by ``schema`` (``None``: not in the schema)."""
    declared = _declared_type(schema)
    if isinstance(node, _Leaf):
        return _coerce(node.value, declared)
    if declared == "array" and node and all(_INDEX.fullmatch(key) for key in node):
        indices = sorted(int(key) for key in node)
        if indices != list(range(len(indices))):
            raise ApiError("InvalidParameter", reason=f"Parameter `{_shown(name)}` array "
                           "indices must run from 0 without gaps.")
        items = schema.get("items") if schema is not None else None
        item_schema = items if isinstance(items, Mapping) else None
        return [_build(node[str(i)], item_schema, f"{name}.{i}") for i in indices]
    properties = schema.get("properties", {}) if declared == "object" and schema else {}
    return {key: _build(child, properties.get(key), f"{name}.{key}" if name else key)
            for key, child in node.items()}


def _coerce(value: Any, declared: str | None) -> Any:
    """``value`` as ``declared`` when it spells one exactly, else unchanged."""
    if not isinstance(value, str):
        return value
    if declared == "boolean":
        return _BOOLEANS.get(value, value)
    if declared == "integer" and _INTEGER.fullmatch(value):
        try:
            return int(value)
        except ValueError:  # beyond Python's int-from-string digit limit
            return value
    if declared == "number" and _NUMBER.fullmatch(value):
        if _INTEGER.fullmatch(value):
            try:
                return int(value)
            except ValueError:
                return value
        number = float(value)
        return number if number not in (float("inf"), float("-inf")) else value
    return value


def check_segmentation_options(params: Mapping[str, Any]) -> None:
    """The rule the schema cannot say: at least one ``SegmentationOptions`` member is true.

    The document says "多于一个选项的描述为true" (literally "more than one"), yet the official
    success example sends only ``{"Head": true}``; the emulator requires at least one (a
    deviation, and the code is a choice: the real one is unconfirmed). Call after
    :meth:`RequestValidator.validate`; it still never raises anything but :class:`ApiError`.
    """
    options = params.get("SegmentationOptions") if isinstance(params, Mapping) else None
    if options is None:
        raise ApiError("MissingParameter", param="SegmentationOptions")
    if not isinstance(options, Mapping):
        raise ApiError("InvalidParameter", reason="Parameter `SegmentationOptions` type error, "
                       "expected object.")
    if not any(value is True for value in options.values()):
        raise ApiError("InvalidParameterValue",
                       reason="At least one member of `SegmentationOptions` must be true.",
                       reason_zh="`SegmentationOptions`中至少要有一个选项为true。")
