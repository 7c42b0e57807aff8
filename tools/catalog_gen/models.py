"""Request schemas to pydantic source (client/models.py): nested classes first, each class once."""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from tools.catalog_gen import GENERATED
from tools.catalog_gen.spec import resolve

BASEMODEL_ATTRS = {
    "construct",
    "copy",
    "dict",
    "json",
    "parse_obj",
    "parse_raw",
    "parse_file",
    "schema",
    "schema_json",
    "validate",
    "update_forward_refs",
    "fields",
    "from_orm",
}


def class_name(component: str) -> str:
    return component.replace("Serializer", "")


def camel(text: str) -> str:
    parts = re.split(r"[^0-9A-Za-z]+", text)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return out if out and not out[0].isdigit() else f"M{out}"


def python_name(wire: str) -> str:
    name = re.sub(r"[^0-9A-Za-z_]", "_", wire)
    if not name or name[0].isdigit():
        name = f"f_{name}"
    name = name.lstrip("_") or "field"
    if keyword.iskeyword(name) or name in BASEMODEL_ATTRS or name.startswith("model_"):
        name += "_"
    return name


def stripped(schema: Any) -> Any:
    """The schema without prose, for comparing two inline schemas by structure."""
    if isinstance(schema, dict):
        return {k: stripped(v) for k, v in sorted(schema.items()) if k not in ("description", "example", "examples")}
    if isinstance(schema, list):
        return [stripped(v) for v in schema]
    return schema


@dataclass
class ModelClass:
    name: str
    lines: list[str]
    users: set[str] = field(default_factory=set)  # task names whose body uses it (roots only)


class ModelWriter:
    """Turns request schemas into pydantic source: nested classes first, each class once."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.schemas = spec["components"]["schemas"]
        self.classes: dict[str, ModelClass] = {}  # in definition order
        self.aliases: dict[str, str] = {}  # Literal type aliases for enum components
        self.keys: dict[str, str] = {}  # class name -> structure key
        self.in_progress: set[str] = set()
        self.forward: bool = False

    # -- types ---------------------------------------------------------------------------------------
    def annotation(self, schema: dict[str, Any] | None, owner: str, field_name: str) -> tuple[str, bool]:
        """(annotation, nullable) of a schema used as a field type."""
        schema = schema or {}
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[-1]
            return self.component(ref), bool(self.schemas[ref].get("nullable"))
        nullable = bool(schema.get("nullable"))
        for combo in ("allOf", "oneOf", "anyOf"):
            if combo in schema:
                parts = [p for p in schema[combo] if p.get("type") != "null"]
                nullable = nullable or len(parts) < len(schema[combo])
                if combo == "allOf" and len(parts) > 1:
                    merged = self.merge_all_of(parts)
                    return self.annotation(merged, owner, field_name)[0], nullable
                types = []
                for p in parts:
                    t, n = self.annotation(p, owner, field_name)
                    nullable = nullable or n
                    if t not in types:
                        types.append(t)
                if not types:
                    return "Any", nullable
                return " | ".join(types), nullable
        if "const" in schema:
            return f"Literal[{schema['const']!r}]", nullable
        if "enum" in schema:
            values = [v for v in schema["enum"] if v is not None]
            nullable = nullable or len(values) < len(schema["enum"])
            return f"Literal[{', '.join(repr(v) for v in values)}]", nullable
        kind = schema.get("type")
        if kind == "string":
            return "str", nullable
        if kind == "integer":
            return "int", nullable
        if kind == "number":
            return "int | float", nullable
        if kind == "boolean":
            return "bool", nullable
        if kind == "array":
            inner, inner_null = self.annotation(schema.get("items"), owner, field_name + "_item")
            if inner_null and inner != "Any":
                inner = f"{inner} | None"
            return f"list[{inner}]", nullable
        if kind == "object" or "properties" in schema:
            if not schema.get("properties"):
                extra = schema.get("additionalProperties")
                if isinstance(extra, dict) and extra:
                    value, _ = self.annotation(extra, owner, field_name + "_value")
                    return f"dict[str, {value}]", nullable
                return "dict[str, Any]", nullable
            name = self.inline_name(schema, owner, field_name)
            return self.define(name, schema), nullable
        return "Any", nullable

    def merge_all_of(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in parts:
            part = resolve(self.spec, part)
            merged["properties"].update(part.get("properties") or {})
            merged["required"] += [r for r in part.get("required") or [] if r not in merged["required"]]
        return merged

    def inline_name(self, schema: dict[str, Any], owner: str, field_name: str) -> str:
        key = json.dumps(stripped(schema), sort_keys=True)
        for existing, existing_key in self.keys.items():  # the same inline schema twice: one class
            if existing_key == key:
                return existing
        title = camel(schema["title"]) if schema.get("title") else None
        for candidate in (title, owner + camel(field_name)):
            if not candidate:
                continue
            taken = self.keys.get(candidate) or (
                "component" if candidate in {class_name(n) for n in self.schemas} else None
            )
            if taken is None or taken == key:
                self.keys[candidate] = key
                return candidate
        n = 2
        while f"{owner}{camel(field_name)}{n}" in self.keys:
            n += 1
        name = f"{owner}{camel(field_name)}{n}"
        self.keys[name] = key
        return name

    def component(self, ref: str) -> str:
        schema = self.schemas[ref]
        name = class_name(ref)
        if "enum" in schema and schema.get("type") in ("string", "integer", None):
            if name not in self.aliases:
                values = [v for v in schema["enum"] if v is not None]
                self.aliases[name] = f"Literal[{', '.join(repr(v) for v in values)}]"
            return name
        if schema.get("type") == "object" or "properties" in schema or "allOf" in schema:
            if not schema.get("properties") and "allOf" not in schema:
                return "dict[str, Any]"
            self.keys.setdefault(name, "component")
            return self.define(name, schema)
        return self.annotation(schema, name, "value")[0]

    # -- classes ---------------------------------------------------------------------------------------
    def define(self, name: str, schema: dict[str, Any], doc: str | None = None) -> str:
        if name in self.classes:
            return name
        if name in self.in_progress:
            self.forward = True
            return name
        self.in_progress.add(name)
        if "allOf" in schema and "properties" not in schema:
            schema = self.merge_all_of(schema["allOf"])
        props = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        lines = []
        for wire in [*props, *[r for r in required if r not in props]]:
            lines.append(self.field_line(name, wire, props.get(wire, {}), wire in required))
        extra = schema.get("additionalProperties")
        config = ""
        if extra not in (None, False) and props:
            config = '    model_config = ConfigDict(extra="allow", populate_by_name=True)\n'
        body = [f"class {name}(_Request):"]
        body.append(f'    """{doc or "Part of a request body."}"""')
        if config:
            body.append("")
            body.append(config.rstrip("\n"))
        if lines:
            body.append("")
            body += lines
        self.in_progress.discard(name)
        self.classes[name] = ModelClass(name, body)
        return name

    def field_line(self, owner: str, wire: str, schema: dict[str, Any], required: bool) -> str:
        annotation, nullable = self.annotation(schema, owner, wire)
        if nullable and annotation != "Any":
            annotation = f"{annotation} | None"
        target = resolve(self.spec, schema) if "$ref" in schema else schema
        constraints = {}
        kind = target.get("type")
        if kind == "string" or kind is None:
            for key, arg in (("minLength", "min_length"), ("maxLength", "max_length"), ("pattern", "pattern")):
                if key in target:
                    constraints[arg] = target[key]
        if kind == "array":
            for key, arg in (("minItems", "min_length"), ("maxItems", "max_length")):
                if key in target:
                    constraints[arg] = target[key]
        if kind in ("integer", "number"):
            for key, arg in (("minimum", "ge"), ("maximum", "le")):
                if key in target:
                    constraints[arg] = target[key]
        py = python_name(wire)
        args = []
        if py != wire:
            args.append(f"alias={wire!r}")
        args += [f"{k}={v!r}" for k, v in constraints.items()]
        if required:
            if args:
                return f"    {py}: {annotation} = Field(..., {', '.join(args)})"
            return f"    {py}: {annotation}"
        # Optional: may be left out. Unless nullable, an explicit None is refused (defaults are not validated).
        if args:
            return f"    {py}: {annotation} = Field(None, {', '.join(args)})"
        return f"    {py}: {annotation} = None"

    def root(self, ref: str, multipart_file: str | None = None) -> tuple[str, list[str]]:
        """The model name for a request body component; returns (name, names of file fields dropped)."""
        schema = self.schemas[ref]
        name = class_name(ref)
        if multipart_file:
            schema = dict(schema)
            schema["properties"] = {k: v for k, v in schema["properties"].items() if k != multipart_file}
            schema["required"] = [r for r in schema.get("required", []) if r != multipart_file]
            name = f"{name}Fields"
            self.keys[name] = "component"
            return self.define(name, schema, "The form fields of the upload; the file itself is a multipart part."), [
                multipart_file
            ]
        if schema.get("type") == "array":
            inner, _ = self.annotation(schema.get("items"), name, "item")
            self.classes[name] = ModelClass(
                name,
                [
                    f"class {name}(RootModel[list[{inner}]]):",
                    '    """A request body that is a JSON list."""',
                ],
            )
            return name, []
        if not schema.get("properties") and "allOf" not in schema:
            self.classes[name] = ModelClass(
                name,
                [
                    f"class {name}(RootModel[dict[str, Any]]):",
                    '    """A request body that is a free-form JSON object."""',
                ],
            )
            return name, []
        self.keys.setdefault(name, "component")
        return self.define(name, schema), []

    def source(self, users: dict[str, list[str]]) -> str:
        out = [
            '"""Request bodies as pydantic models, so bad input is refused before anything is sent.',
            "",
            GENERATED,
            "",
            "Only requests are modelled strictly: unknown fields are refused (a misspelt field is a bug),",
            "required fields are required, and a field that is optional but not nullable may be left out",
            "while an explicit None is refused (pydantic does not validate defaults, so `x: int = None`",
            "means exactly that). Answers are returned as SpotDraft sent them: the live API may add fields.",
            "Wire names that are not Python names are reachable through `alias` (either name is accepted).",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from typing import Any, Literal",
            "",
            "from pydantic import BaseModel, ConfigDict, Field, RootModel",
            "",
            "",
            "class _Request(BaseModel):",
            '    model_config = ConfigDict(extra="forbid", populate_by_name=True)',
            "",
            "",
        ]
        for alias in sorted(self.aliases):
            out.append(f"{alias} = {self.aliases[alias]}")
        out += ["", ""]
        for cls in self.classes.values():
            lines = list(cls.lines)
            if cls.name in users:
                used = ", ".join(f"`{u}`" for u in users[cls.name])
                lines[1] = f'    """Request body of {used}."""'
                if cls.name.endswith("Fields"):
                    lines[1] = f'    """Form fields of {used}; the file itself goes as a multipart part."""'
            out += lines
            out += ["", ""]
        if self.forward:
            out.append("for _model in list(globals().values()):")
            out.append("    if isinstance(_model, type) and issubclass(_model, BaseModel):")
            out.append("        _model.model_rebuild()")
        return "\n".join(out).rstrip() + "\n"
