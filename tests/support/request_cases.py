"""Bad requests, generated (hypothesis): input the client accepts for each operation of the catalog, the
operations each kind of breakage applies to, and the check that a broken call is refused naming what is
wrong, before anything reaches the sandbox.

Each case starts from the base input (accepted: tests/unit/catalog/test_bad_request_bodies.py checks it)
and breaks exactly one thing, so the error has exactly one thing to name.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import BaseModel, RootModel, TypeAdapter, ValidationError

from client import OPERATIONS, OPERATIONS_BY_NAME, SpotDraftClient
from client.errors import InvalidRequestError
from client.operation import Operation, Param
from tests.support.task_inputs import model_body, path_value

# One sandbox per test (the conftest fixture) serves every example of it: the log is reset per example.
CALLS = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


SEEDS = {"composite_id": "T-1", "contract_id": 1, "template_id": 1, "counterparty_id": 1,
         "contract_type_id": 1, "file_id": "00000000-0000-0000-0000-000000000001"}


def names(message: str, name: str) -> bool:
    """The message names `name` as a word of its own (so "id" is not found inside "invalid")."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


# ------------------------------------------------------------------------------ valid base input
def base_path(op: Operation) -> dict[str, Any]:
    return {name: path_value(op.param(name) or Param(name, "path", required=True), SEEDS) for name in op.path_params}


def base_query(op: Operation) -> dict[str, Any]:
    return {p.name: 1 if p.type == "integer" else "INTAKE" if p.name == "questionnaire_type" else "sample"
            for p in op.params if p.location == "query" and p.required}


def base_body(op: Operation) -> Any:
    return model_body(op.body_model) if op.body_model is not None else None


def base_call(op: Operation) -> dict[str, Any]:
    return {"path_params": base_path(op), "query": base_query(op), "body": base_body(op)}


def object_model(op: Operation) -> tuple[type[BaseModel] | None, tuple[int, ...]]:
    """The model whose fields a body is made of, and where it sits in the body: () or (0,) in a list body."""
    model = op.body_model
    if model is None:
        return None, ()
    if issubclass(model, RootModel):
        root = model.model_fields["root"].annotation
        item = (getattr(root, "__args__", None) or (None,))[0]
        if getattr(root, "__origin__", None) is list and isinstance(item, type) and issubclass(item, BaseModel):
            return item, (0,)
        return None, ()
    return model, ()


def fields_of(op: Operation) -> dict[str, Any]:
    model, _ = object_model(op)
    return {info.alias or name: info for name, info in model.model_fields.items()} if model else {}


def at(body: Any, where: tuple[int, ...]) -> dict[str, Any]:
    for step in where:
        body = body[step]
    return body


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
ANY_VALUE = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=2),
                      st.dictionaries(st.text(max_size=4), JSON_SCALARS, max_size=2))
_PROBES = [None, True, 1, 1.5, "x", [1], {"a": 1}]


def rejects(info: Any, value: Any) -> bool:
    adapter = TypeAdapter(Annotated[info.annotation, *info.metadata]) if info.metadata else TypeAdapter(info.annotation)
    try:
        adapter.validate_python(value)
    except ValidationError:
        return True
    return False


def typed_fields(op: Operation) -> list[str]:
    """The fields some JSON value is wrong for (not those typed Any)."""
    return [name for name, info in fields_of(op).items() if any(rejects(info, v) for v in _PROBES)]


BODY_OPS = [op for op in OPERATIONS if typed_fields(op)]
REQUIRED_FIELD_OPS = [op for op in OPERATIONS if any(i.is_required() for i in fields_of(op).values())]
CLOSED_BODY_OPS = [op for op in OPERATIONS if object_model(op)[0] is not None
                   and object_model(op)[0].model_config.get("extra") == "forbid"]
PATH_OPS = [op for op in OPERATIONS if op.path_params]
PATTERN_OPS = [op for op in PATH_OPS if any((op.param(n) and op.param(n).pattern) for n in op.path_params)]
INT_QUERY_OPS = [op for op in OPERATIONS if any(p.location == "query" and p.type == "integer" for p in op.params)]
REQUIRED_QUERY_OPS = [op for op in OPERATIONS if any(p.location == "query" and p.required for p in op.params)]


def draw_operation(data, operations: list[Operation] | tuple[Operation, ...]) -> Operation:
    """One of them, shown by name when a case fails."""
    return OPERATIONS_BY_NAME[data.draw(st.sampled_from([op.name for op in operations]), label="operation")]


def refused(client: SpotDraftClient, sandbox, op: Operation, name: str, **call: Any) -> InvalidRequestError:
    sandbox.reset_log()
    with pytest.raises(InvalidRequestError) as caught:
        client.call(op.name, **call)
    assert names(str(caught.value), name), f"{op.name}: the error does not name {name!r}: {caught.value}"
    assert sandbox.requests == [], f"{op.name}: sent despite bad {name!r}"
    return caught.value
