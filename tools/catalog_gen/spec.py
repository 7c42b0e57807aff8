"""Reading SpotDraft's OpenAPI document: which operations are current, their parameters, their answers.

The spec decides methods, exact paths, parameters (name, place, type, pattern), request schemas and the
kind of answer; nothing of its prose is copied (every name, summary and docstring is ours, in
tools/operations/).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

METHODS = ("get", "post", "put", "patch", "delete")
AUTH_HEADERS = {"client-id", "client-secret", "user-email"}  # the client sends these itself

# Path parameters whose spec entry has no pattern but whose form is documented elsewhere.
COMPOSITE_ID_PATTERN = r"^[HT\-0-9]+$"
DERIVED_PATTERNS = {"integer": r"^[0-9]+$", "uuid": r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$"}


@dataclass
class ParamInfo:
    name: str  # wire name
    location: str
    required: bool
    type: str
    pattern: str | None
    enum: tuple[Any, ...] = ()
    items_type: str | None = None


@dataclass
class OpInfo:
    name: str
    method: str
    path: str
    version: str
    family: str
    operation_id: str
    safe_to_retry: bool
    summary: str
    params: list[ParamInfo]
    body_schema: dict[str, Any] | None
    body_model: str | None = None
    body_kind: str | None = None
    body_required: bool = False
    response_kind: str = "json"
    paginated: bool = False
    returns: str = "dict[str, Any]"
    upload: tuple[str, ...] | None = None  # ("base64", name field, content field) or ("multipart", part)
    doc: str | None = None  # the task's whole docstring, when ours says more than the summary


def version_of(path: str) -> str:
    match = re.match(r"^/api/(v[0-9.]+)/", path)
    if match is None:
        raise SystemExit(f"{path}: not an /api/<version>/ path")
    return match.group(1)


def load_spec(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def current_operations(
    spec: dict[str, Any], listed: Collection[str]
) -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """(method, path, operation, path-level parameters) of every current operation, in spec order.

    Current: every v2.1 operation, and the older ones whose operationId is `listed` (those of v1 whose
    family has no v2 or v2.1 equivalent; the ones v2.1 supersedes are left out on purpose).
    """
    out = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            if version_of(path) == "v2.1" or op["operationId"] in listed:
                out.append((method.upper(), path, op, item.get("parameters", [])))
    return out


def resolve(spec: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        seen += 1
        if seen > 20:
            raise ValueError("reference loop")
    return schema or {}


def param_type(schema: dict[str, Any]) -> str:
    if schema.get("format") == "uuid":
        return "string"
    return schema.get("type", "string")


def read_params(spec, path: str, op: dict[str, Any], common: list[dict[str, Any]]) -> list[ParamInfo]:
    in_path = set(re.findall(r"{([^}]+)}", path))
    params: dict[tuple[str, str], ParamInfo] = {}
    for raw in [*common, *op.get("parameters", [])]:
        p = resolve(spec, raw) if "$ref" in raw else raw
        loc, name = p["in"], p["name"]
        if loc == "header" and name.lower() in AUTH_HEADERS:
            continue
        if loc == "cookie":
            continue
        if loc == "path" and name not in in_path:
            continue  # some entries declare path parameters their path does not have
        schema = resolve(spec, p.get("schema", {}))
        ptype = param_type(schema)
        pattern = schema.get("pattern")
        if loc == "path" and pattern is None:
            if name == "composite_id":
                pattern = COMPOSITE_ID_PATTERN
            elif schema.get("format") == "uuid":
                pattern = DERIVED_PATTERNS["uuid"]
            elif ptype == "integer":
                pattern = DERIVED_PATTERNS["integer"]
        items = resolve(spec, schema.get("items")) if ptype == "array" else {}
        params[(loc, name)] = ParamInfo(
            name=name,
            location=loc,
            required=bool(p.get("required")) or loc == "path",
            type=ptype,
            pattern=pattern,
            enum=tuple(schema.get("enum") or ()),
            items_type=items.get("type") if items else None,
        )
    missing = in_path - {n for (loc, n) in params if loc == "path"}
    if missing:
        raise ValueError(f"{path}: path parameters not declared: {sorted(missing)}")
    order = {"path": 0, "query": 1, "header": 2}
    return sorted(params.values(), key=lambda p: (order[p.location], p.name))


def success_content(op: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    for code in sorted(op.get("responses", {})):
        if str(code).startswith("2"):
            content = op["responses"][code].get("content") or {}
            for ctype, media in content.items():
                return str(code), {"content_type": ctype, "schema": media.get("schema")}
            return str(code), None
    return None, None
