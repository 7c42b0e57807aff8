"""Derive `sandbox/answers.json` from SpotDraft's OpenAPI document.

The sandbox must run on a clone that does not have the spec beside it, so everything it needs
from the spec is distilled here once and committed: for every operation its method, exact path,
documented success status, auth schemes, the query parameters it documents, the patterns of its
path parameters, whether it requires a body, and an answer synthesized from the success schema.

Answers are synthesized, never copied: the spec's examples and descriptions stay in the spec.
Every synthesized answer is checked against its schema before it is written, so a schema the
synthesizer misreads fails here, loudly, instead of in a test of some other module.

The OpenAPI-to-JSON-Schema helpers (`to_json_schema`, `response_validator`) live here too,
because the conformance test validates the sandbox's answers exactly the way this tool does.

Run from the repository root:  python tools/synthesize_answers.py [--spec PATH] [--out PATH] [--check]
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = REPO.parent / "shared" / "spotdraft-openapi.yml"
DEFAULT_OUT = REPO / "sandbox" / "answers.json"

METHODS = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"
MAX_DEPTH = 6  # beyond this only required properties are filled, so recursive schemas end

# Deterministic stand-ins for string formats (no wall clock, no randomness).
FORMAT_VALUES = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00",
    "uri": "https://app.sandbox.example/sample",
    "url": "https://app.sandbox.example/sample",
    "email": "user@sandbox.example",
    "uuid": "00000000-0000-4000-8000-000000000001",
    "uuid4": "00000000-0000-4000-8000-000000000001",
    "ipv4": "127.0.0.1",
}
# Values for the few path/string patterns the spec uses; anything else falls back to "1".
PATTERN_VALUES = {r"^[0-9]+$": "1", r"^[HT\-0-9]+$": "T-1"}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def load_spec(path: Path | str = DEFAULT_SPEC) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(fh, Loader=loader)


# --------------------------------------------------------------------------- OpenAPI -> JSON Schema


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects to JSON Schema: `nullable: true` becomes an allowed null.

    `$ref`s are left as they are; they resolve against a root that carries `components`
    (see `response_validator`).
    """
    if isinstance(node, list):
        return [to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


_COMPONENTS: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}  # spec id -> (spec, converted)


def response_validator(spec: dict[str, Any], schema: dict[str, Any]):
    """A jsonschema validator for one response schema, `$ref`s resolved within the spec."""
    import jsonschema

    cached = _COMPONENTS.get(id(spec))
    if cached is None or cached[0] is not spec:
        cached = _COMPONENTS[id(spec)] = (spec, {"schemas": to_json_schema(spec["components"]["schemas"])})
    components = cached[1]
    root = dict(to_json_schema(schema))
    root["components"] = components
    cls = jsonschema.validators.validator_for({"$schema": "http://json-schema.org/draft-07/schema#"})
    return cls(root, format_checker=cls.FORMAT_CHECKER)


def iter_operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def success_response(op: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The lowest documented 2xx status and its response object."""
    codes = sorted(int(c) for c in op.get("responses", {}) if str(c).startswith("2"))
    if not codes:
        raise ValueError(f"no 2xx response in {op.get('operationId')}")
    return codes[0], op["responses"][str(codes[0])]


def success_schema(op: dict[str, Any]) -> tuple[int, str | None, dict[str, Any] | None]:
    status, resp = success_response(op)
    content = resp.get("content") or {}
    if not content:
        return status, None, None
    ctype = "application/json" if "application/json" in content else sorted(content)[0]
    return status, ctype, content[ctype].get("schema")


# --------------------------------------------------------------------------- synthesis


class Synthesizer:
    """Builds one small value that satisfies a schema: required properties always, optional ones
    while shallow, arrays of one item, the first enum value, format-shaped strings."""

    def __init__(self, spec: dict[str, Any]):
        self.schemas = spec["components"]["schemas"]

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith(REF_PREFIX):
                raise ValueError(f"unsupported $ref {ref}")
            node = self.schemas[ref[len(REF_PREFIX) :]]
        return node

    def value(self, node: Any, depth: int = 0, name: str = "", stack: tuple[str, ...] = ()) -> Any:
        if not isinstance(node, dict):
            return "sample"
        if "$ref" in node:
            ref = node["$ref"]
            if stack.count(ref) >= 2:
                raise RecursionError(ref)
            stack = (*stack, ref)
        node = self.resolve(node)
        if "const" in node:
            return node["const"]
        if node.get("enum"):
            return next((v for v in node["enum"] if v is not None), node["enum"][0])
        if "allOf" in node:
            return self._all_of(node, depth, name, stack)
        for key in ("oneOf", "anyOf"):
            if key in node:
                return self._first_option(node[key], depth, name, stack)
        kind = node.get("type")
        if kind is None:
            kind = "object" if "properties" in node else None
        if kind == "object":
            return self._object(node, depth, stack)
        if kind == "array":
            return self._array(node, depth, name, stack)
        if kind == "string":
            return self._string(node, name)
        if kind == "integer":
            return self._number(node, 1)
        if kind == "number":
            return self._number(node, 1.5)
        if kind == "boolean":
            return True
        return "sample"  # an unconstrained schema accepts anything

    def _all_of(self, node, depth, name, stack):
        parts = [self.value(p, depth, name, stack) for p in node["allOf"]]
        merged: Any = None
        for part in parts:
            if isinstance(part, dict) and isinstance(merged, dict):
                merged = {**merged, **part}
            elif merged is None:
                merged = part
        rest = {k: v for k, v in node.items() if k != "allOf"}
        if rest.get("properties") and isinstance(merged, dict):
            merged = {**merged, **self._object(rest, depth, stack)}
        return merged

    def _first_option(self, options, depth, name, stack):
        for option in options:
            resolved = self.resolve(option)
            if resolved.get("type") == "null":
                continue
            try:
                return self.value(option, depth, name, stack)
            except RecursionError:
                continue
        return None

    def _object(self, node, depth, stack):
        props = node.get("properties") or {}
        required = set(node.get("required") or ())
        out: dict[str, Any] = {}
        for key, sub in props.items():
            if isinstance(sub, dict) and sub.get("writeOnly"):
                continue
            if key not in required and depth >= MAX_DEPTH:
                continue
            try:
                out[key] = self.value(sub, depth + 1, key, stack)
            except RecursionError:
                if key in required:
                    raise
        extra = node.get("additionalProperties")
        if not props and isinstance(extra, dict) and extra and depth < MAX_DEPTH:
            out["key"] = self.value(extra, depth + 1, "key", stack)
        return out

    def _array(self, node, depth, name, stack):
        count = max(1, int(node.get("minItems", 1)))
        if "maxItems" in node:
            count = min(count, int(node["maxItems"]))
        if depth >= MAX_DEPTH and not node.get("minItems"):
            return []
        try:
            item = self.value(node.get("items", {}), depth + 1, name, stack)
        except RecursionError:
            if node.get("minItems"):
                raise
            return []
        return [copy.deepcopy(item) for _ in range(count)]

    def _string(self, node, name):
        fmt = node.get("format")
        if fmt in FORMAT_VALUES:
            return FORMAT_VALUES[fmt]
        if "pattern" in node:
            return PATTERN_VALUES.get(node["pattern"], "1")
        lowered = name.lower()
        if "email" in lowered:
            text = FORMAT_VALUES["email"]
        elif lowered.endswith(("url", "link")):
            text = FORMAT_VALUES["uri"]
        else:
            text = "sample"
        low, high = int(node.get("minLength", 0)), node.get("maxLength")
        if len(text) < low:
            text = text + "x" * (low - len(text))
        if high is not None:
            text = text[: int(high)]
        return text

    @staticmethod
    def _number(node, default):
        value = default
        if "minimum" in node and value < node["minimum"]:
            value = node["minimum"]
        if "maximum" in node and value > node["maximum"]:
            value = node["maximum"]
        return value


# --------------------------------------------------------------------------- answers


def _binary_content_type(path: str) -> str:
    return DOCX if "docx" in path else "application/pdf"


def _security(op: dict[str, Any], spec: dict[str, Any]) -> list[list[str]]:
    reqs = op.get("security", spec.get("security") or [{}])
    return [sorted(req) for req in reqs]


def _path_patterns(op: dict[str, Any], path: str) -> dict[str, str]:
    names = set(re.findall(r"{([^}]+)}", path))
    out = {}
    for param in op.get("parameters", []):
        if param.get("in") == "path" and param["name"] in names:
            pattern = (param.get("schema") or {}).get("pattern")
            if pattern:
                out[param["name"]] = pattern
    return out


def _body(op: dict[str, Any]) -> dict[str, Any] | None:
    body = op.get("requestBody")
    if not body:
        return None
    return {"required": bool(body.get("required")), "content_types": sorted(body.get("content") or {})}


def build_answer(spec: dict[str, Any], method: str, path: str, op: dict[str, Any]) -> dict[str, Any]:
    status, ctype, schema = success_schema(op)
    entry: dict[str, Any] = {
        "method": method,
        "path": path,
        "operation_id": op.get("operationId"),
        "version": path.split("/")[2],
        "status": status,
        "security": _security(op, spec),
        "query": sorted(p["name"] for p in op.get("parameters", []) if p.get("in") == "query"),
        "path_patterns": _path_patterns(op, path),
        "request_body": _body(op),
    }
    if schema is None or status == 204:
        entry.update(kind="empty", content_type=None, body=None)
    elif schema.get("type") == "string" and schema.get("format") == "binary":
        entry.update(kind="binary", content_type=_binary_content_type(path), body=None, size=4096)
    else:
        value = Synthesizer(spec).value(schema)
        errors = list(response_validator(spec, schema).iter_errors(value))
        if errors:
            raise ValueError(f"{method} {path}: synthesized answer invalid: {errors[0].message}")
        entry.update(kind="json", content_type=ctype, body=value)
    return entry


def build(spec: dict[str, Any]) -> dict[str, Any]:
    operations = [build_answer(spec, m, p, op) for m, p, op in iter_operations(spec)]
    operations.sort(key=lambda e: (e["path"], e["method"]))
    return {
        "openapi": spec.get("openapi"),
        "operation_count": len(operations),
        "operations": operations,
    }


def render(answers: dict[str, Any]) -> str:
    return json.dumps(answers, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is stale")
    args = parser.parse_args(argv)
    text = render(build(load_spec(args.spec)))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale; re-run tools/synthesize_answers.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    count = text.count('"operation_id"')
    print(f"wrote {args.out} ({count} operations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
