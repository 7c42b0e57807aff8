"""Arguments synthesized for the catalog's operations: a valid body for a request model, a value for a
path parameter."""

from __future__ import annotations

import re
import types
import typing
import uuid
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel, RootModel

from client.operation import Param


# ------------------------------------------------------------------------------ synthesized input
def synthesize(annotation: Any, metadata: tuple[Any, ...] = (), name: str = "") -> Any:
    """A small valid value for a model field's type (required fields only, constraints respected)."""
    origin = get_origin(annotation)
    if annotation is Any or annotation is None:
        return {} if "data" in name or "metadata" in name else "sample"
    if origin is Literal:
        return get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        choices = [a for a in get_args(annotation) if a is not type(None)]
        return synthesize(choices[0], metadata, name)
    if isinstance(annotation, type) and issubclass(annotation, RootModel):
        return synthesize(annotation.model_fields["root"].annotation, (), name)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_body(annotation)
    if origin is list:
        return [synthesize(get_args(annotation)[0], (), name)]
    if origin is dict or annotation is dict:
        return {}
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 1.5
    if annotation is str:
        pattern = next((getattr(m, "pattern", None) for m in metadata if getattr(m, "pattern", None)), None)
        if pattern and pattern.startswith("^https://"):
            return "https://hooks.example.test/spotdraft"
        if "email" in name:
            return "admin@sandbox.example"
        if "url" in name:
            return "https://example.test/file"
        least = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), 1)
        return "sample".ljust(least, "x")
    raise AssertionError(f"cannot synthesize {annotation!r} for {name}")


def model_body(model: type[BaseModel]) -> Any:
    if issubclass(model, RootModel):
        return synthesize(model.model_fields["root"].annotation)
    body = {}
    for name, info in model.model_fields.items():
        if info.is_required():
            body[info.alias or name] = synthesize(info.annotation, tuple(info.metadata), name)
    return body


def path_value(param: Param, seeds: dict[str, Any]) -> Any:
    by_name = {
        "composite_id": seeds["composite_id"],
        "contract_id": seeds["contract_id"],
        "template_id": seeds["template_id"],
        "counterparty_id": seeds["counterparty_id"],
        "contract_type_id": seeds["contract_type_id"],
        "external_metadata_id": "all-tasks-lookup",
        "field_name": "contract_type",
        "email_audit_key": "audit-0001",
        "integration_solution_entity_id": "COUPA_CREATE_CONTRACT",
        "credential_public_id": "cred-0001",
        "file_id": seeds["file_id"],
    }
    if param.name in by_name:
        value = by_name[param.name]
    elif param.pattern and "{12}" in param.pattern:
        value = str(uuid.UUID(int=1))
    elif param.type == "integer":
        value = 1
    else:
        value = "1"
    if param.pattern:
        assert re.fullmatch(param.pattern, str(value)), f"placeholder {value!r} does not fit {param.name}"
    return value
