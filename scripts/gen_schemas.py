"""Generate the actions' JSON schemas from the official machine-readable API description.

The schemas under ``schemas/`` are data derived from tccli's ``api.json`` (house rule 7), never
edited by hand: rerun this script after vendoring a newer ``api.json``; CI runs ``--check`` so a
hand edit or a stale file fails. Conversion is literal (types, nesting, ``required``,
``value_allowed_null``, documents as ``description``) so the schemas say what Tencent says, no
more; rules the description cannot express (e.g. "at least one option true") live in code.

One run writes ``<Action>.request.schema.json`` and ``<Action>.response.schema.json`` for each
action (by default all of :data:`DEFAULT_ACTIONS`, every action bda 2020-03-24 has, whether the
emulator implements it yet or not) and one ``PROVENANCE.json`` naming the source, the actions and
every file of the run. ``--action`` (repeatable) restricts a run; its ``PROVENANCE.json`` then
names only those actions, so generate the checked-in ``schemas/`` with the default set — a
restricted run there makes the default ``--check`` fail.

Usage::

    python scripts/gen_schemas.py [--api-json PATH] [--out-dir DIR] [--action NAME]...
                                  [--date YYYY-MM-DD] [--check]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = "scripts/gen_schemas.py"
DEFAULT_API_JSON = ROOT / "schemas" / "source" / "api.json"
DEFAULT_OUT_DIR = ROOT / "schemas"
DEFAULT_ACTIONS: tuple[str, ...] = (
    "SegmentCustomizedPortraitPic",
    "SegmentPortraitPic",
    "CreateSegmentationTask",
    "DescribeSegmentationTask",
    "TerminateSegmentationTask",
)
"""Every action of bda 2020-03-24 in the vendored api.json (a test keeps the two equal)."""
SOURCE_PACKAGE = "tccli"
SOURCE_VERSION = "3.1.189.1"
SOURCE_PATH = "tccli/services/bda/v20200324/api.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
PROVENANCE = "PROVENANCE.json"
_GENERATED_SUFFIXES = (".request.schema.json", ".response.schema.json")

# api.json scalar type names (``type`` of a member, or ``member`` of a list) → JSON-schema pieces.
_SCALARS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "bool": {"type": "boolean"},
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "int64": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
    "uint64": {"type": "integer", "minimum": 0, "maximum": 2**64 - 1},
    "float": {"type": "number"},
    "double": {"type": "number"},
})


class SpecError(Exception):
    """api.json holds a construct this generator does not convert (fail loudly, never guess)."""


def _example(raw: Any, kind: str) -> list[Any]:
    """api.json examples are strings; JSON-valued ones (objects, lists) are parsed."""
    if not isinstance(raw, str) or raw == "":
        return []
    if kind == "string":
        return [raw]
    try:
        return [json.loads(raw)]
    except ValueError:
        return []


def _nullable(schema: dict[str, Any], allowed: bool) -> dict[str, Any]:
    if allowed:
        schema["type"] = [schema["type"], "null"]
    return schema


def _scalar(name: str, where: str) -> dict[str, Any]:
    if name not in _SCALARS:
        raise SpecError(f"{where}: unsupported api.json type {name!r}")
    return dict(_SCALARS[name])


def _object(objects: Mapping[str, Any], name: str, *, response: bool, top: bool,
            seen: tuple[str, ...]) -> dict[str, Any]:
    """One api.json object as a closed JSON-schema object (nested objects are inlined)."""
    if name not in objects:
        raise SpecError(f"object {name!r} is referenced but not defined in api.json")
    if name in seen:
        raise SpecError(f"object {name!r} is recursive; inlining would not terminate")
    spec = objects[name]
    properties: dict[str, Any] = {}
    required: list[str] = []
    for member in spec["members"]:
        where = f"{name}.{member['name']}"
        if member.get("disabled", False):
            raise SpecError(f"{where}: disabled members are not supported")
        properties[member["name"]] = _member(objects, member, response=response,
                                             seen=(*seen, name), where=where)
        # The response's own members say ``output_required``; nested output objects (ImageRect)
        # and every request object say ``required``.
        flag = member.get("output_required") if response and top else member.get("required")
        if flag is True:
            required.append(member["name"])
    if response and top and "RequestId" in properties and "RequestId" not in required:
        # api.json leaves RequestId unflagged, but its document (and the envelope rules) say
        # every reply carries one.
        required.append("RequestId")
    schema: dict[str, Any] = {
        "type": "object",
        "title": name,
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def _member(objects: Mapping[str, Any], member: Mapping[str, Any], *, response: bool,
            seen: tuple[str, ...], where: str) -> dict[str, Any]:
    kind = member["type"]
    if kind == "object":
        schema = _object(objects, member["member"], response=response, top=False, seen=seen)
    elif kind == "list":
        item_type = member["member"]
        if item_type in objects:
            items = _object(objects, item_type, response=response, top=False, seen=seen)
            items["description"] = objects[item_type]["document"]
        else:
            items = _scalar(item_type, where)
        schema = {"type": "array", "items": items}
    else:
        schema = _scalar(member["member"] if member["member"] in _SCALARS else kind, where)
    schema["description"] = member.get("document", "")
    examples = _example(member.get("example"), kind)
    if examples:
        schema["examples"] = examples
    return _nullable(schema, member.get("value_allowed_null") is True)


def build_schemas(api: Mapping[str, Any], action: str) -> dict[str, dict[str, Any]]:
    """``{"<action>.request.schema.json": schema, "<action>.response.schema.json": schema}``."""
    if action not in api["actions"]:
        raise SpecError(f"action {action!r} is not in api.json (it has: "
                        f"{', '.join(sorted(api['actions']))})")
    spec = api["actions"][action]
    objects = api["objects"]
    out: dict[str, dict[str, Any]] = {}
    for direction, object_name in (("request", spec["input"]), ("response", spec["output"])):
        schema = _object(objects, object_name, response=direction == "response", top=True,
                         seen=())
        schema["description"] = objects[object_name]["document"]
        what = ("the business parameters (JSON body) of" if direction == "request"
                else "the value of `Response` in a successful reply to")
        schema["$comment"] = (f"Generated by {GENERATOR} from {SOURCE_PACKAGE} api.json; "
                              f"describes {what} {action} ({spec['name']}). Do not edit.")
        schema["$schema"] = DRAFT
        out[f"{action}.{direction}.schema.json"] = schema
    return out


def build_provenance(api_bytes: bytes, api: Mapping[str, Any], actions: Sequence[str],
                     date: str, files: Sequence[str], source_version: str,
                     source_path: str) -> dict[str, Any]:
    """Where the schemas came from, so a reviewer can re-fetch and re-run exactly."""
    return {
        "service": api["metadata"]["serviceShortName"],
        "api_version": api["metadata"]["apiVersion"],
        "actions": sorted(actions),
        "source": {
            "package": SOURCE_PACKAGE,
            "version": source_version,
            "path": source_path,
            "sha256": hashlib.sha256(api_bytes).hexdigest(),
            "vendored_copy": "schemas/source/api.json",
        },
        "generated": {"date": date, "generator": GENERATOR},
        "files": sorted(files),
    }


def dump(data: Mapping[str, Any]) -> str:
    """The one serialisation: sorted keys, indent 2, UTF-8 text kept readable, final newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _existing_date(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["generated"]["date"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def render(api_json: Path, out_dir: Path, actions: Sequence[str], date: str,
           source_version: str, source_path: str) -> dict[Path, str]:
    """Every output file's path and exact text: each action's two schemas, one provenance."""
    api_bytes = api_json.read_bytes()
    api = json.loads(api_bytes)
    schemas: dict[str, dict[str, Any]] = {}
    for action in actions:
        schemas.update(build_schemas(api, action))
    texts = {out_dir / name: dump(schema) for name, schema in schemas.items()}
    provenance = build_provenance(api_bytes, api, actions, date, list(schemas),
                                  source_version, source_path)
    texts[out_dir / PROVENANCE] = dump(provenance)
    return texts


def _orphans(out_dir: Path, texts: Mapping[Path, str]) -> list[Path]:
    """Action schemas in ``out_dir`` that this run would not write (a removed action's files)."""
    if not out_dir.is_dir():
        return []
    return sorted(path for path in out_dir.iterdir()
                  if path.name.endswith(_GENERATED_SUFFIXES) and path not in texts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-json", type=Path, default=DEFAULT_API_JSON)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--action", dest="actions", action="append", metavar="NAME",
                        help="generate only this action (repeatable; default: "
                             f"{', '.join(DEFAULT_ACTIONS)})")
    parser.add_argument("--date", default=None,
                        help="generation date for PROVENANCE.json (default: today, UTC)")
    parser.add_argument("--source-version", default=SOURCE_VERSION,
                        help=f"{SOURCE_PACKAGE} version the api.json came from")
    parser.add_argument("--source-path", default=SOURCE_PATH,
                        help=f"path of the api.json inside the {SOURCE_PACKAGE} package")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the files on disk differ (the date is ignored)")
    args = parser.parse_args(argv)

    actions = list(dict.fromkeys(args.actions or DEFAULT_ACTIONS))
    date = args.date or datetime.datetime.now(datetime.UTC).date().isoformat()
    if args.check:
        date = _existing_date(args.out_dir / PROVENANCE) or date
    try:
        texts = render(args.api_json, args.out_dir, actions, date,
                       args.source_version, args.source_path)
    except (OSError, ValueError, KeyError, SpecError) as exc:
        print(f"gen_schemas: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    if args.check:
        stale = [path for path, text in texts.items()
                 if not path.is_file() or path.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"gen_schemas: {path} is stale; run {GENERATOR}", file=sys.stderr)
        orphans = _orphans(args.out_dir, texts)
        for path in orphans:
            print(f"gen_schemas: {path} is not produced by this run (not in {PROVENANCE}); "
                  "remove it or generate its action", file=sys.stderr)
        return 1 if stale or orphans else 0
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
