"""Record files that cannot be read as records: one clear error naming the file, where, and what to do.

Each of these once ended in a bare UnicodeDecodeError, TypeError, JSONDecodeError or
AttributeError (or worse, in records made of a dict's keys) before `RecordsFileError`.
"""

from __future__ import annotations

import json
import math

import pytest

from flows.records import RecordError, RecordsFileError, csv_row_to_record, load_records, validate_record

JSON_SHAPE = 'expected a list of records or {"records": [...]}'

GOOD = {
    "external_id": "crm-1",
    "contract_data": {"customer_name": "Acme"},
    "counter_party_details": [
        {"is_individual": False, "organization_name": "Acme", "poc_details": {"first_name": "A", "email": "a@x.io"}}
    ],
}


def write(tmp_path, name: str, content: bytes | str):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


def refused(records_file: str) -> RecordsFileError:
    with pytest.raises(RecordsFileError) as caught:
        load_records(None, records_file)
    assert records_file in str(caught.value), "the message names the file"
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__), "not a chain"
    return caught.value


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_a_latin1_file_says_where_and_to_save_it_as_utf8(tmp_path, suffix):
    text = ("external_id,contract_name\ncrm-1,Caf\u00e9 Noir\n" if suffix == ".csv"
            else json.dumps([{"external_id": "crm-1", "contract_name": "Caf\u00e9"}], ensure_ascii=False))
    error = refused(write(tmp_path, f"deals{suffix}", text.encode("latin-1")))
    assert "UTF-8" in str(error) and "save it as UTF-8" in str(error)
    assert error.where == ("line 2, column 10" if suffix == ".csv" else "line 1, column 48")
    assert "0xe9" in str(error)


@pytest.mark.parametrize(
    ("content", "got"),
    [
        ("5", "5 (a number)"),
        ('{"id": 1, "name": "x"}', "an object with 'id', 'name' and no \"records\""),
        ('"deals.csv"', "'deals.csv' (a string)"),
        ("null", "null"),
        ("true", "true (a boolean)"),
        ('{"records": {"external_id": "a"}}', 'an object under "records"'),
    ],
)
def test_a_json_file_that_is_not_a_list_of_records(tmp_path, content, got):
    error = refused(write(tmp_path, "deals.json", content))
    assert JSON_SHAPE in str(error) and got in str(error)


def test_a_utf8_byte_order_mark_is_simply_accepted(tmp_path):
    json_file = write(tmp_path, "deals.json", b"\xef\xbb\xbf" + json.dumps({"records": [GOOD]}).encode())
    assert load_records(None, json_file) == [GOOD]
    csv_file = write(tmp_path, "deals.csv", b"\xef\xbb\xbfexternal_id,contract_data.customer_name\r\ncrm-1,Acme\r\n")
    assert load_records(None, csv_file) == [{"external_id": "crm-1", "contract_data": {"customer_name": "Acme"}}]


@pytest.mark.parametrize(
    ("content", "where", "detail"),
    [
        ('[\n  {"external_id": "a",}\n]', "line 2, column 23", "Expecting property name"),
        ('[{"external_id": "a"}', "line 1, column 22", "Expecting ',' delimiter"),
        ("external_id\ncrm-1\n", "line 1, column 1", "Expecting value"),  # a CSV named .json
    ],
)
def test_invalid_json_names_the_line_and_column(tmp_path, content, where, detail):
    error = refused(write(tmp_path, "deals.json", content))
    assert error.where == where and detail in str(error) and "is not valid JSON" in str(error)


@pytest.mark.parametrize("content", ["", "   \n", "\ufeff"])
def test_an_empty_file_is_refused_not_read_as_no_records(tmp_path, content):
    for name in ("deals.csv", "deals.json"):
        error = refused(write(tmp_path, name, content))
        assert "empty" in str(error)


def test_a_csv_without_an_external_id_column_names_its_columns(tmp_path):
    error = refused(write(tmp_path, "deals.csv", "id,contract_data.customer_name\ncrm-1,Acme\n"))
    assert error.where == "line 1" and "no external_id column" in str(error) and "'id'" in str(error)


@pytest.mark.parametrize(
    "header",
    ["external_id,contract_data.a,contract_data.a.b", "external_id,contract_data.a.b,contract_data.a",
     "external_id,contract_data.a.b.c,contract_data.x,contract_data.a"],
)
def test_conflicting_columns_are_named_in_either_order(tmp_path, header):
    # the cells of the later column empty in one row: the header alone is the conflict
    error = refused(write(tmp_path, "deals.csv", f"{header}\ncrm-1,1,2,3\ncrm-2,1,,\n"))
    assert "'contract_data.a'" in error.where and "'contract_data.a.b" in error.where
    assert "a cannot be both a value and an object" in str(error)


@pytest.mark.parametrize(
    "row",
    [
        {"external_id": "d1", "contract_data.a": "1", "contract_data.a.b": "2"},
        {"external_id": "d1", "contract_data.a.b": "2", "contract_data.a": "1"},
        {"external_id": "d1", "contract_data.a": '{"b": 1}', "contract_data.a.c": "2"},
    ],
)
def test_conflicting_cells_of_one_row_are_a_clear_error(row):
    with pytest.raises(RecordsFileError, match="a cannot be both a value and an object"):
        csv_row_to_record(row)


def test_contract_data_as_one_json_column_and_as_field_columns_is_a_conflict(tmp_path):
    for header in ("external_id,contract_data,contract_data.a", "external_id,contract_data.a,contract_data"):
        error = refused(write(tmp_path, "deals.csv", f"{header}\ncrm-1,text,1\n"))
        assert error.where == "columns 'contract_data' and 'contract_data.a'" and "not both" in str(error)
    one_column = write(tmp_path, "one.csv", 'external_id,contract_data\ncrm-1,"{""a"": {""b"": 1}}"\n')
    assert load_records(None, one_column) == [{"external_id": "crm-1", "contract_data": {"a": {"b": 1}}}]


def test_a_point_of_contact_given_twice_is_a_conflict(tmp_path):
    for header in ("external_id,counterparty.poc_details,counterparty.first_name",
                   "external_id,counterparty.first_name,counterparty.poc_details"):
        error = refused(write(tmp_path, "deals.csv", f"{header}\ncrm-1,text,Al\n"))
        assert "counterparty.poc_details" in error.where and "counterparty.first_name" in error.where


def test_a_column_named_twice_is_refused_not_silently_overwritten(tmp_path):
    error = refused(write(tmp_path, "deals.csv", "external_id,contract_data.a,contract_data.a\ncrm-1,1,2\n"))
    assert error.where == "column 3" and "also column 2" in str(error)


def test_a_row_with_more_cells_than_columns_names_its_line(tmp_path):
    error = refused(write(tmp_path, "deals.csv", "external_id,contract_name\ncrm-1,ok\ncrm-2,Smith, Jones\n"))
    assert error.where == "line 3" and "quote cells that hold commas" in str(error)
    # trailing empty cells (a spreadsheet's trailing commas) are not a problem
    assert load_records(None, write(tmp_path, "ok.csv", "external_id,contract_name\ncrm-1,ok,,\n"))


def test_other_files_are_refused_with_the_same_error(tmp_path):
    assert "must end in .csv or .json" in str(refused(write(tmp_path, "deals.xlsx", "x")))
    assert "no such file" in str(refused(str(tmp_path / "missing.csv")))


def test_nan_in_a_csv_cell_is_text_and_in_a_json_file_is_refused(tmp_path):
    csv_file = write(tmp_path, "deals.csv", "external_id,contract_data.a,contract_data.b\nx,NaN,-Infinity\n")
    rows = load_records(None, csv_file)
    assert rows == [{"external_id": "x", "contract_data": {"a": "NaN", "b": "-Infinity"}}]
    error = refused(write(tmp_path, "deals.json", '[{"external_id": "x", "contract_data": {"a": NaN}}]'))
    assert "NaN" in str(error)


def test_a_deeply_nested_json_file_is_a_clear_error(tmp_path):
    error = refused(write(tmp_path, "deals.json", "[" * 100_000 + "]" * 100_000))
    assert "nested too deeply" in str(error)


def test_items_that_are_not_objects_are_each_a_record_error(tmp_path):
    raw = load_records(None, write(tmp_path, "deals.json", json.dumps([GOOD, 5, "x", None, [GOOD]])))
    assert validate_record(raw[0], 0, 1)[0].external_id == "crm-1"
    for index in range(1, 5):
        with pytest.raises(RecordError, match=rf"^record {index}: expected an object, got "):
            validate_record(raw[index], index, 1)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"external_id": ".."}, "external_id: '..' is not an id"),
        ({"external_id": "."}, "external_id: '.' is not an id"),
        ({"external_id": "  "}, "is not an id"),
        ({"contract_data": {"amount": math.nan}}, "contract_data.amount: nan is not a JSON number"),
        ({"contract_data": {"a": [1, math.inf]}}, "contract_data.a.1: inf is not a JSON number"),
        ({"contract_name": "bad \ud800"}, "contract_name: text with an unpaired surrogate"),
        ({"external_id": "crm\x00-1"}, "holds a control character"),
        ({"external_id": "crm-1\ncrm-2"}, "holds a control character"),
    ],
)
def test_records_that_could_not_be_sent_as_they_are_are_record_errors(change, problem):
    with pytest.raises(RecordError, match=r"^record 3") as caught:
        validate_record({**GOOD, **change}, 3, 1)
    assert problem in str(caught.value)


def test_a_bad_file_ends_the_create_run_with_its_message_before_any_request(
    prefect_api, sandbox, credentials, tmp_path
):
    from flows import create_contracts

    bad = write(tmp_path, "deals.csv", "external_id,contract_data.customer_name\ncrm-1,Caf\u00e9\n".encode("cp1252"))
    sandbox.reset_log()
    state = create_contracts(credentials, next(iter(sandbox.state.templates)), records_file=bad,
                             database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", return_state=True)
    assert state.is_failed()
    assert "save it as UTF-8" in state.message and "deals.csv" in state.message and "line 2" in state.message
    assert isinstance(state.result(raise_on_failure=False), RecordsFileError)
    assert sandbox.requests == []


def test_the_external_id_an_error_names_is_text_a_database_can_store():
    for bad, shown in [("x\ud800", "x\\ud800"), ("a\x00b", "a\\x00b")]:
        with pytest.raises(RecordError) as caught:
            validate_record({**GOOD, "external_id": bad}, 0, 1)
        assert caught.value.external_id == shown
        str(caught.value).encode("utf-8")


def test_a_record_file_with_an_unpaired_surrogate_is_a_dead_letter_not_a_crash(
    prefect_api, sandbox, credentials, tmp_path
):
    import sqlalchemy as sa

    from flows import create_contracts
    from store import dead_letters, engine_for

    records = [{**GOOD, "external_id": "crm-\ud800"}, {**GOOD, "external_id": "crm-2", "contract_name": "\udc80"}]
    bad = write(tmp_path, "deals.json", json.dumps(records))  # escaped as \ud800 in the file: valid JSON
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    sandbox.reset_log()
    state = create_contracts(credentials, next(iter(sandbox.state.templates)), records_file=bad,
                             database_url=database_url, return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["dead_lettered"] == 2 and sandbox.requests == []
    with engine_for(database_url).connect() as conn:
        targets = sorted(r.target for r in conn.execute(sa.select(dead_letters)))
    assert targets == ["crm-2", "crm-\\ud800"]
