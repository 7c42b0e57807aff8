"""Bad path and query parameters, generated: an empty, dot or dot-dot path parameter, one outside its
pattern, an integer query parameter given text, a container, a fraction, infinity or a boolean, a page
or limit below one, an unknown or a missing required query parameter: each gets `InvalidRequestError`
naming it, and the sandbox sees nothing.
Property-based (hypothesis), through `SpotDraftClient.call` against the real sandbox."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client import OPERATIONS
from client.operation import Operation, Param
from tests.support.request_cases import (
    CALLS,
    INT_QUERY_OPS,
    PATH_OPS,
    PATTERN_OPS,
    REQUIRED_QUERY_OPS,
    base_body,
    base_path,
    base_query,
    draw_operation,
    refused,
)


# ------------------------------------------------------------------------------ path parameters
@CALLS
@given(data=st.data())
def test_a_path_parameter_that_is_empty_dot_or_dotdot_is_refused(client, sandbox, data):
    """`.` and `..` would be normalised away by httpx and name another resource."""
    op = draw_operation(data, PATH_OPS)
    name = data.draw(st.sampled_from(op.path_params), label="parameter")
    bad = data.draw(st.sampled_from([None, "", ".", ".."]), label="value")
    refused(client, sandbox, op, name, path_params={**base_path(op), name: bad}, query=base_query(op),
            body=base_body(op))


@CALLS
@given(data=st.data())
def test_a_path_parameter_outside_its_pattern_is_refused(client, sandbox, data):
    op = draw_operation(data, PATTERN_OPS)
    name = data.draw(st.sampled_from([n for n in op.path_params if op.param(n) and op.param(n).pattern]),
                     label="parameter")
    pattern = op.param(name).pattern
    bad = data.draw(st.one_of(st.text(max_size=12), st.integers(max_value=-1), st.floats(), st.booleans())
                    .filter(lambda v: v != "" and not re.fullmatch(pattern, str(v))), label="value")
    refused(client, sandbox, op, name, path_params={**base_path(op), name: bad}, query=base_query(op),
            body=base_body(op))


# ------------------------------------------------------------------------------ query parameters
def _not_an_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return True
    return False


def _integer_param(data, op: Operation) -> Param:
    return data.draw(st.sampled_from([p for p in op.params if p.location == "query" and p.type == "integer"]),
                     label="parameter")


@CALLS
@given(data=st.data())
def test_an_integer_query_parameter_given_text_or_a_container_is_refused(client, sandbox, data):
    op = draw_operation(data, INT_QUERY_OPS)
    param = _integer_param(data, op)
    bad = data.draw(st.one_of(st.text(max_size=10).filter(_not_an_integer), st.lists(st.integers(), max_size=2),
                              st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)), label="value")
    refused(client, sandbox, op, param.name, path_params=base_path(op), query={**base_query(op), param.name: bad},
            body=base_body(op))


_FRACTIONS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not f.is_integer()
                                                                            if math.isfinite(f) else True),
                       st.booleans())


@CALLS
@given(data=st.data())
def test_an_integer_query_parameter_given_a_fraction_infinity_or_boolean_is_refused(client, sandbox, data):
    """1.5 is not page 1, True is not limit 1, and infinity is not an OverflowError."""
    op = draw_operation(data, INT_QUERY_OPS)
    param = _integer_param(data, op)
    bad = data.draw(_FRACTIONS, label="value")
    refused(client, sandbox, op, param.name, path_params=base_path(op), query={**base_query(op), param.name: bad},
            body=base_body(op))


@CALLS
@given(data=st.data())
def test_page_and_limit_below_one_are_refused(client, sandbox, data):
    op = draw_operation(data, [op for op in OPERATIONS if op.param("page") and op.param("limit")])
    name = data.draw(st.sampled_from(["page", "limit"]), label="parameter")
    bad = data.draw(st.integers(max_value=0), label="value")
    refused(client, sandbox, op, name, path_params=base_path(op), query={**base_query(op), name: bad},
            body=base_body(op))


@CALLS
@given(data=st.data())
def test_an_unknown_query_parameter_is_named(client, sandbox, data):
    op = draw_operation(data, OPERATIONS)
    declared = {p.name for p in op.params}
    name = data.draw(st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(
        lambda n: n not in declared and not n.startswith("filter_custom__")
        and not any(n == f"{d.split('[$')[0]}__{d.split('[$')[1].rstrip(']')}" for d in declared if "[$" in d)
    ), label="parameter")
    value = data.draw(st.one_of(st.text(max_size=5), st.integers(), st.booleans()), label="value")
    refused(client, sandbox, op, name, path_params=base_path(op), query={**base_query(op), name: value},
            body=base_body(op))


@pytest.mark.parametrize("op", REQUIRED_QUERY_OPS, ids=lambda op: op.name)
def test_a_missing_required_query_parameter_is_named(client, sandbox, op):
    for param in [p for p in op.params if p.location == "query" and p.required]:
        query = {k: v for k, v in base_query(op).items() if k != param.name}
        refused(client, sandbox, op, param.name, path_params=base_path(op), query=query, body=base_body(op))
