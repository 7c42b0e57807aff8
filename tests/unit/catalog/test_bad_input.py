"""Bad input, generated: every bad input gets an error naming what is wrong, before any request.

Property-based (hypothesis) over three surfaces:
- every request model and parameter of the catalog, through `SpotDraftClient.call` against the
  real sandbox: `InvalidRequestError` naming the field or parameter, and the sandbox saw nothing;
- record files and inline records through `load_records` + `validate_record`: only
  `RecordsFileError` (naming the file) or `RecordError` (naming the record), never a bare
  UnicodeDecodeError/TypeError/KeyError/AttributeError/JSONDecodeError;
- the parameters of `create_contracts` and `sync_contracts` on a real Prefect server: the run fails
  with an error naming the parameter, and the sandbox saw nothing.

Each case starts from input the client accepts (checked by `test_the_base_input_is_accepted`) and
breaks exactly one thing, so the error has exactly one thing to name.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, RootModel, TypeAdapter, ValidationError

from client import OPERATIONS, OPERATIONS_BY_NAME, SpotDraftClient
from client.errors import InvalidRequestError, SpotDraftError
from client.operation import Operation, Param
from flows.records import RecordError, RecordsFileError, load_records, validate_record
from tests.support.task_inputs import model_body, path_value

# One sandbox per test (the conftest fixture) serves every example of it: the log is reset per example.
CALLS = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FILES = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FLOWS = settings(max_examples=5, deadline=None, database=None,
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


# ------------------------------------------------------------------------------ record files
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children,
                                                                               max_size=4)),
    max_leaves=12,
)
RECORDISH = st.fixed_dictionaries(
    {},
    optional={
        "external_id": st.one_of(st.text(max_size=6), st.sampled_from([".", "..", "", " "]), JSON_VALUES),
        "contract_data": st.one_of(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3), JSON_VALUES),
        "counter_party_details": st.one_of(st.lists(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3),
                                                    max_size=2), JSON_VALUES),
        "contract_name": st.one_of(st.text(max_size=8), JSON_VALUES),
    },
)
CSV_COLUMNS = st.sampled_from([
    "external_id", "contract_name", "contract_data.a", "contract_data.a.b", "contract_data.b", "contract_data.",
    "contract_data.a..b", "counter_party_details", "counterparty.is_individual", "counterparty.organization_name",
    "counterparty.first_name", "counterparty.email", "counterparty.poc_details", "other", "", " external_id ",
    "contract_data", "counterparty", "counterparty.poc_details.email", "external_id.x",
])
CSV_CELLS = st.one_of(st.text(max_size=10), st.sampled_from(
    ["12000", "true", "null", "NaN", "-Infinity", '{"type": "USD", "value": 5}', "[1, 2]", '"quoted"', "[" * 50,
     '[{"is_individual": true, "poc_details": {"first_name": "A", "email": "a@x.io"}}]', "a,b", 'x"y', "\r\n"]))
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"])


def check_records(records: Any, records_file: str | None) -> None:
    """load_records then validate_record on each: any error is one of ours and names the file or record."""
    try:
        raw = load_records(records, records_file)
    except RecordsFileError as error:
        assert records_file and records_file in str(error), str(error)
        return
    except Exception as error:
        pytest.fail(f"load_records raised {type(error).__name__} (not RecordsFileError): {error}")
    for index, item in enumerate(raw):
        try:
            _, body = validate_record(item, index, 1)
        except RecordError as error:
            assert str(error).startswith(f"record {index}"), str(error)
            str(error).encode("utf-8")  # logged, and stored as the dead letter's error and target
            (error.external_id or "").encode("utf-8")
            continue
        except Exception as error:
            pytest.fail(f"validate_record raised {type(error).__name__} (not RecordError): {error}")
        json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")  # what httpx will send


def in_file(name: str, content: bytes) -> str:
    directory = Path(tempfile.mkdtemp(prefix="bad-input-"))
    path = directory / name
    path.write_bytes(content)
    return str(path)


@FILES
@given(value=st.one_of(JSON_VALUES, st.lists(st.one_of(RECORDISH, JSON_VALUES), max_size=4),
                       st.fixed_dictionaries({"records": st.one_of(st.lists(RECORDISH, max_size=3), JSON_VALUES)})),
       encoding=ENCODINGS, ascii_only=st.booleans())
def test_any_json_value_in_a_records_file(value, encoding, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)  # NaN and Infinity too, as Python writes them
    try:
        content = text.encode(encoding)
    except UnicodeEncodeError:
        content = text.encode("utf-8", "surrogatepass")  # lone surrogates: not UTF-8 either
    check_records(None, in_file("records.json", content))


@FILES
@given(content=st.binary(max_size=200), suffix=st.sampled_from([".csv", ".json"]))
@example(content=b"\xef\xbb\xbf", suffix=".json").via("a BOM alone")
@example(content=b"external_id\n\x00\n", suffix=".csv").via("a NUL byte")
@example(content=b"external_id\nx" + b"y" * 200_000 + b"\n", suffix=".csv").via("a cell beyond csv's field limit")
def test_any_bytes_as_a_records_file(content, suffix):
    check_records(None, in_file(f"records{suffix}", content))


@st.composite
def csv_documents(draw) -> list[list[str]]:
    """A header of plausible (and implausible) columns, and rows mostly as wide as it, cells mostly filled."""
    header = draw(st.lists(CSV_COLUMNS, max_size=6))
    width = st.integers(max(0, len(header) - 1), len(header) + 1)
    rows = draw(st.lists(width.flatmap(lambda n: st.lists(CSV_CELLS, min_size=n, max_size=n)), max_size=4))
    return [header, *rows]


@FILES
@given(lines=csv_documents(), encoding=ENCODINGS, quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_NONE]))
@example(lines=[["external_id", "contract_data", "contract_data.a"], ["x", "text", "1"]], encoding="utf-8",
         quoting=csv.QUOTE_MINIMAL).via("a value and its fields as columns")
@example(lines=[["external_id", "counterparty.email", "counterparty.poc_details"], ["x", "a@x.io", "text"]],
         encoding="utf-8", quoting=csv.QUOTE_MINIMAL).via("a point of contact given twice")
def test_any_csv_text_as_a_records_file(lines, encoding, quoting):
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=quoting, escapechar="\\")
    for line in lines:
        try:
            writer.writerow(line)
        except csv.Error:
            buffer.write(",".join(line) + "\n")  # a hand-made, probably broken line
    try:
        content = buffer.getvalue().encode(encoding)
    except UnicodeEncodeError:
        content = buffer.getvalue().encode("utf-8", "surrogatepass")
    check_records(None, in_file("records.csv", content))


@FILES
@given(records=st.lists(st.one_of(RECORDISH, JSON_VALUES), max_size=5))
def test_any_inline_records(records):
    check_records(records, None)


# ------------------------------------------------------------------------------ flow parameters
def _record() -> dict[str, Any]:
    return {"external_id": "bad-input-1", "contract_data": {"customer_name": "Acme"},
            "counter_party_details": [{"is_individual": False, "organization_name": "Acme",
                                       "poc_details": {"first_name": "A", "email": "a@acme.example"}}]}


NOT_A_NUMBER = st.text(alphabet="abcxyz -_", min_size=1, max_size=6).filter(lambda s: s.strip())


def refused_run(state, sandbox, parameter: str) -> None:
    assert state.is_failed(), f"{parameter}: the run did not fail ({state.type})"
    assert names(state.message or "", parameter), f"the failure does not name {parameter}: {state.message}"
    assert sandbox.requests == [], f"sent despite a bad {parameter}"


BAD_CREATE_PARAMETERS = st.one_of(
    st.tuples(st.just("template_id"), st.one_of(st.integers(max_value=0), NOT_A_NUMBER, st.just(1.5))),
    st.tuples(st.just("concurrency"), st.one_of(st.integers(max_value=0), st.integers(min_value=17))),
)
BAD_SYNC_PARAMETERS = st.one_of(
    st.tuples(st.just("page_size"), st.one_of(st.integers(max_value=0), st.integers(min_value=101), NOT_A_NUMBER)),
    st.tuples(st.just("concurrency"), st.one_of(st.integers(max_value=0), st.integers(min_value=129))),
    st.tuples(st.just("overlap_minutes"), st.one_of(st.floats(max_value=-1e-6, allow_infinity=False),
                                                    st.just(math.nan), NOT_A_NUMBER)),
)


@FLOWS
@given(case=BAD_CREATE_PARAMETERS)
@example(case=("template_id", 0))
@example(case=("template_id", "abc"))
@example(case=("concurrency", 0))
def test_create_contracts_refuses_a_bad_parameter_before_any_request(prefect_api, sandbox, credentials, tmp_path,
                                                                      case):
    from flows import create_contracts

    parameter, bad = case
    arguments = {"template_id": next(iter(sandbox.state.templates)), "concurrency": 1, parameter: bad}
    sandbox.reset_log()
    state = create_contracts(credentials, records=[_record()], database_url=f"sqlite:///{tmp_path / 'c.db'}",
                             return_state=True, **arguments)
    refused_run(state, sandbox, parameter)


@FLOWS
@given(case=BAD_SYNC_PARAMETERS)
@example(case=("page_size", 0))
@example(case=("page_size", 101))
@example(case=("concurrency", 0))
@example(case=("overlap_minutes", -1))
def test_sync_contracts_refuses_a_bad_parameter_before_any_request(prefect_api, sandbox, credentials, tmp_path,
                                                                    case):
    from flows import sync_contracts

    parameter, bad = case
    sandbox.reset_log()
    state = sync_contracts(credentials, database_url=f"sqlite:///{tmp_path / 's.db'}", return_state=True,
                           **{parameter: bad})
    refused_run(state, sandbox, parameter)


@pytest.mark.parametrize("overlap", [math.inf, 1e300])
def test_sync_contracts_refuses_an_overlap_beyond_any_calendar(prefect_api, sandbox, credentials, tmp_path, overlap):
    """An overlap no date can be that far before: refused naming it, not an OverflowError traceback."""
    from flows import sync_contracts

    sandbox.reset_log()
    state = sync_contracts(credentials, database_url=f"sqlite:///{tmp_path / 's.db'}", return_state=True,
                           overlap_minutes=overlap)
    refused_run(state, sandbox, "overlap_minutes")
