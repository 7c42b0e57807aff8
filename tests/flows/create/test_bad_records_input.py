"""Bad record files and inline records, generated: whatever a records file holds (any JSON value, any
bytes, any CSV text, in any encoding) and whatever inline records are, `load_records` + `validate_record`
raise only `RecordsFileError` (naming the file) or `RecordError` (naming the record), never a bare
UnicodeDecodeError/TypeError/KeyError/AttributeError/JSONDecodeError; what they accept is sendable JSON.
Property-based (hypothesis); pure logic."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows.records import RecordError, RecordsFileError, load_records, validate_record

FILES = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


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
