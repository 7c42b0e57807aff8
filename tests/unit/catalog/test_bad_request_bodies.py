"""Bad request bodies, generated: a field of the wrong type, a missing required field, an unknown field or
a body of the wrong shape gets `InvalidRequestError` naming it, for every request model of the catalog,
and the sandbox sees nothing; the base input every case breaks is accepted.
Property-based (hypothesis), through `SpotDraftClient.call` against the real sandbox."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client import OPERATIONS
from client.errors import InvalidRequestError, SpotDraftError
from tests.support.request_cases import (
    ANY_VALUE,
    BODY_OPS,
    CALLS,
    CLOSED_BODY_OPS,
    INT_QUERY_OPS,
    PATTERN_OPS,
    REQUIRED_FIELD_OPS,
    at,
    base_body,
    base_call,
    base_path,
    base_query,
    draw_operation,
    fields_of,
    object_model,
    refused,
    rejects,
    typed_fields,
)


def test_the_base_input_is_accepted(client, sandbox):
    """Every case below breaks one thing of this: the client sends it (whatever the sandbox answers)."""
    assert BODY_OPS and REQUIRED_FIELD_OPS and CLOSED_BODY_OPS and PATTERN_OPS and INT_QUERY_OPS
    for op in OPERATIONS:
        sandbox.reset_log()
        try:
            client.call(op.name, **base_call(op))
        except InvalidRequestError as error:
            pytest.fail(f"{op.name}: the base input is refused: {error}")
        except SpotDraftError:
            pass  # sent, and answered with an error (the placeholder ids need not exist)
        assert [r.route or r.path for r in sandbox.requests][:1] == [op.path], op.name


# ------------------------------------------------------------------------------ request bodies
@CALLS
@given(data=st.data())
def test_a_body_field_of_the_wrong_type_is_named(client, sandbox, data):
    op = draw_operation(data, BODY_OPS)
    field = data.draw(st.sampled_from(typed_fields(op)), label="field")
    info = fields_of(op)[field]
    value = data.draw(ANY_VALUE.filter(lambda v: rejects(info, v)), label="value")
    body = base_body(op)
    at(body, object_model(op)[1])[field] = value
    refused(client, sandbox, op, field, path_params=base_path(op), query=base_query(op), body=body)


@CALLS
@given(data=st.data())
def test_a_missing_required_body_field_is_named(client, sandbox, data):
    op = draw_operation(data, REQUIRED_FIELD_OPS)
    field = data.draw(st.sampled_from([n for n, i in fields_of(op).items() if i.is_required()]), label="field")
    body = base_body(op)
    del at(body, object_model(op)[1])[field]
    refused(client, sandbox, op, field, path_params=base_path(op), query=base_query(op), body=body)


@CALLS
@given(data=st.data())
def test_an_unknown_body_field_is_named(client, sandbox, data):
    op = draw_operation(data, CLOSED_BODY_OPS)
    field = data.draw(st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
                      .filter(lambda f: f not in fields_of(op) and f not in object_model(op)[0].model_fields),
                      label="field")
    body = base_body(op)
    at(body, object_model(op)[1])[field] = data.draw(ANY_VALUE, label="value")
    refused(client, sandbox, op, field, path_params=base_path(op), query=base_query(op), body=body)


@CALLS
@given(data=st.data())
def test_a_body_of_the_wrong_shape_is_refused(client, sandbox, data):
    op = draw_operation(data, [op for op in OPERATIONS if object_model(op)[0] is not None])
    wrong = st.one_of(st.integers(), st.text(max_size=5), st.booleans())
    wrong = st.one_of(wrong, st.lists(st.integers(), max_size=2)) if not object_model(op)[1] else st.one_of(
        wrong, st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    refused(client, sandbox, op, "body", path_params=base_path(op), query=base_query(op),
            body=data.draw(wrong, label="body"))
