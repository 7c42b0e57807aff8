"""Upstream records (CRM / ERP rows) to create contracts from: loading, validating, turning into bodies.

The design, and why: docs/design/errors-and-records.md (section `flows/records.py`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from client.catalog import OPERATIONS_BY_NAME
from client.request_builder import describe_validation

SAVE_AS_UTF8 = "save it as UTF-8 (in Excel: Save As > CSV UTF-8; in an editor: Encoding > UTF-8) and run again"
JSON_SHAPE = 'expected a list of records or {"records": [...]}'
_POC_FIELDS = ("first_name", "last_name", "email")  # counterparty.<these> go into its poc_details


class ContractRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(..., min_length=1, description="The upstream record's id; the idempotency key.")
    contract_data: dict[str, Any] = Field(..., description="Template field name -> value.")
    counter_party_details: list[dict[str, Any]] = Field(..., min_length=1)
    contract_name: str | None = None

    def create_body(self, template_id: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "contract_template_id": template_id,
            "contract_data": self.contract_data,
            "counter_party_details": self.counter_party_details,
            "external_metadata": {"id": self.external_id, "integration_name": "prefect-spotdraft"},
        }
        if self.contract_name:
            body["contract_name"] = self.contract_name
        return body


class RecordError(ValueError):
    """A record that cannot be used; the message names the record and the field."""

    def __init__(self, index: int, external_id: str | None, problem: str) -> None:
        self.index, self.external_id = index, external_id
        who = f"record {index}" + (f" (external_id {external_id!r})" if external_id else "")
        super().__init__(f"{who}: {problem}")


class RecordsFileError(ValueError):
    """A records file that cannot be read as records; the message names the file, where, and what to do.

    `path` is the file as given (None for a CSV row handed to `csv_row_to_record` on its own),
    `where` the line, row or column ("line 3", "column 'contract_data.a'"), or None for the whole file.
    """

    def __init__(self, path: str | None, where: str | None, problem: str) -> None:
        self.path, self.where, self.problem = path, where, problem
        source = f"records_file {path!r}" if path else "CSV row"
        super().__init__(f"{source}{', ' + where if where else ''}: {problem}")


def _not_json_text(value: Any, where: str) -> str | None:
    """Where a value holds what cannot be sent as JSON text (NaN, Infinity, an unpaired surrogate)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where}: {value!r} is not a JSON number"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where}: text with an unpaired surrogate ({value!r}) cannot be sent"
    if isinstance(value, dict):
        found = (_not_json_text(k, f"{where} (a key)") or _not_json_text(v, f"{where}.{k}") for k, v in value.items())
        return next(filter(None, found), None)
    if isinstance(value, list | tuple):
        return next(filter(None, (_not_json_text(v, f"{where}.{i}") for i, v in enumerate(value))), None)
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _storable(text: str) -> str:
    """The text with unpaired surrogates and control characters written as escapes (\\ud800, \\x00)."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def validate_record(raw: Any, index: int, template_id: int) -> tuple[ContractRecord, dict[str, Any]]:
    """The record and its create body, both checked (the body against the API's request model)."""
    if not isinstance(raw, dict):
        raise RecordError(index, None, f"expected an object, got {type(raw).__name__}")
    # As the error (and the dead letter's target) names it: text any database and log can hold.
    external_id = _storable(str(raw["external_id"])) if raw.get("external_id") else None
    try:
        record = ContractRecord.model_validate(raw)
        body = record.create_body(template_id)
        body_model = OPERATIONS_BY_NAME["create_contract"].body_model
        if body_model is not None:
            body_model.model_validate(body)
    except ValidationError as exc:
        raise RecordError(index, external_id, describe_validation(exc, whole="record")) from None
    if record.external_id.strip() in ("", ".", ".."):
        # Looked up as a path segment, "." and ".." would be normalised away and find something else.
        raise RecordError(index, external_id, f"external_id: {record.external_id!r} is not an id")
    if _CONTROL.search(record.external_id):
        raise RecordError(index, external_id, f"external_id: {record.external_id!r} holds a control character")
    for name in ("external_id", "contract_name", "contract_data", "counter_party_details"):
        try:
            problem = _not_json_text(getattr(record, name), name)
        except RecursionError:
            problem = f"{name}: nested too deeply"
        if problem:
            raise RecordError(index, external_id, problem)
    return record, body


def load_records(records: list[dict[str, Any]] | None, records_file: str | None) -> list[Any]:
    """The raw records, from the inline list and/or the file (not validated yet: `validate_record`).

    A file that cannot be read as records raises `RecordsFileError`, before anything is sent.
    """
    if records is None and not records_file:
        raise ValueError("give records (a list of objects) or records_file (a .csv or .json path)")
    if records is not None and not isinstance(records, list | tuple):
        raise ValueError(f"records must be a list of objects, got {type(records).__name__}")
    loaded: list[Any] = list(records or [])
    if records_file:
        if not isinstance(records_file, str | Path):
            raise RecordsFileError(repr(records_file), None, "records_file must be a path (text)")
        name = str(records_file)
        path = Path(records_file)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".csv"):
            raise RecordsFileError(name, None, f"must end in .csv or .json, got {path.name!r}")
        if not path.is_file():
            raise RecordsFileError(name, None, "no such file; give a path the worker running this flow can read")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RecordsFileError(name, None, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
        text = _utf8(name, data)
        loaded += _json_records(name, text) if suffix == ".json" else _csv_records(name, text)
    return loaded


def _utf8(name: str, data: bytes) -> str:
    """The file's text; a UTF-8 byte order mark is dropped, anything that is not UTF-8 is refused."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RecordsFileError(
            name, f"line {line}, column {column}",
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x}: Latin-1, Windows-1252 or UTF-16, perhaps); "
            + SAVE_AS_UTF8,
        ) from None


def _refuse_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _json_records(name: str, text: str) -> list[Any]:
    if not text.strip():
        raise RecordsFileError(name, None, f"the file is empty; {JSON_SHAPE}")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise RecordsFileError(
            name, f"line {exc.lineno}, column {exc.colno}", f"is not valid JSON ({exc.msg}); fix it there and run again"
        ) from None
    except ValueError as exc:  # NaN, Infinity: not JSON, and SpotDraft could not be sent them
        raise RecordsFileError(name, None, f"is not valid JSON ({exc}); use null or a number") from None
    except RecursionError:
        raise RecordsFileError(name, None, "is nested too deeply to be records") from None
    if isinstance(data, dict):
        if "records" not in data:
            keys = ", ".join(repr(k) for k in list(data)[:5]) or "no keys"
            raise RecordsFileError(name, None, f'{JSON_SHAPE}, got an object with {keys} and no "records"')
        data = data["records"]
        if not isinstance(data, list):
            raise RecordsFileError(name, '"records"', f"{JSON_SHAPE}, got {_json_kind(data)} under \"records\"")
    elif not isinstance(data, list):
        raise RecordsFileError(name, None, f"{JSON_SHAPE}, got {_json_kind(data)}")
    return data


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return f"{value[:40]!r} (a string)"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _csv_records(name: str, text: str) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise RecordsFileError(
                name, "line 1", "the file is empty; its first line must name the columns, external_id among them"
            )
        columns = [cell.strip() for cell in header]
        _check_columns(name, columns)
        records = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            line = reader.line_num
            if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns):]):
                raise RecordsFileError(
                    name, f"line {line}",
                    f"has {len(cells)} cells but the first line names {len(columns)} columns; quote cells that "
                    "hold commas (\"a, b\") or add the missing column names",
                )
            records.append(_row_to_record(dict(zip(columns, cells, strict=False)), name, f"line {line}"))
    except csv.Error as exc:
        raise RecordsFileError(name, f"line {reader.line_num}", f"is not valid CSV ({exc})") from None
    return records


def _check_columns(name: str, columns: list[str]) -> None:
    """The header is usable: external_id is there, no column is named twice, no two columns contradict."""
    if "external_id" not in columns:
        shown = ", ".join(repr(c) for c in columns[:8]) + (", ..." if len(columns) > 8 else "")
        raise RecordsFileError(
            name, "line 1", f"has no external_id column (its columns: {shown}); the first line must name the "
            "columns, with external_id (the upstream id) among them",
        )
    seen: dict[str, int] = {}
    for number, column in enumerate(columns, start=1):
        if not column:
            continue
        if column in seen:
            raise RecordsFileError(name, f"column {number}",
                                   f"{column!r} is also column {seen[column]}; keep one of them")
        seen[column] = number
        if column.startswith("contract_data.") and "" in column.removeprefix("contract_data.").split("."):
            raise RecordsFileError(name, f"column {number}",
                                   f"{column!r} has an empty field name between dots; name every level")
    _check_conflicts(columns, lambda first, second, problem: RecordsFileError(
        name, f"columns {first!r} and {second!r}", problem))


def _check_conflicts(columns: list[str], error) -> None:
    """Two columns that would put a value and an object at the same place of the record."""
    names = [c for c in columns if c.startswith("contract_data.")]
    if "contract_data" in columns and names:
        raise error("contract_data", names[0], "conflict: both give contract_data; keep contract_data (a JSON "
                    "object in its cells) or the contract_data.* columns, not both")
    for column in names:
        for other in names:
            if other.startswith(column + "."):
                field = column.removeprefix("contract_data.")
                raise error(column, other, f"conflict: {field} cannot be both a value and an object; keep "
                            f"{column} (a JSON object in its cells) or the {column}.* columns, not both")
    if "counterparty.poc_details" in columns:
        for field in _POC_FIELDS:
            if f"counterparty.{field}" in columns:
                raise error("counterparty.poc_details", f"counterparty.{field}",
                            "conflict: both give the point of contact; keep counterparty.poc_details or the "
                            "counterparty.first_name/last_name/email columns, not both")


def _cell(value: str) -> Any:
    try:
        parsed = json.loads(value, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return value
    return value if isinstance(parsed, str) else parsed


def _put(target: Any, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for name in parents:
        target = target.setdefault(name, {}) if isinstance(target, dict) else None
    if not isinstance(target, dict):  # _check_conflicts refuses such columns first: never a TypeError here
        raise RecordsFileError(None, f"column 'contract_data.{dotted}'",
                               "conflicts with another column: a value where an object must go")
    target[leaf] = value


def csv_row_to_record(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row (column -> cell, as csv.DictReader gives it) as a record; see the module docstring."""
    return _row_to_record(row, None, None)


def _row_to_record(row: dict[str, Any], name: str | None, where: str | None) -> dict[str, Any]:
    columns = [c.strip() for c, v in row.items() if isinstance(c, str) and isinstance(v, str) and v.strip()]
    _check_conflicts(columns, lambda first, second, problem: RecordsFileError(
        name, f"{where + ', ' if where else ''}columns {first!r} and {second!r}", problem))
    record: dict[str, Any] = {"contract_data": {}}
    counterparty: dict[str, Any] = {}
    for column, value in row.items():
        if not isinstance(column, str) or not isinstance(value, str) or value.strip() == "":
            continue  # csv.DictReader's None for cells past the header (or missing cells): nothing to put
        column, value = column.strip(), value.strip()
        if column in ("external_id", "contract_name"):
            record[column] = value
        elif column in ("contract_data", "counter_party_details"):
            record[column] = _cell(value)
        elif column.startswith("contract_data."):
            _put(record["contract_data"], column.removeprefix("contract_data."), _cell(value))
        elif column.startswith("counterparty."):
            field = column.removeprefix("counterparty.")
            if field in _POC_FIELDS:
                counterparty.setdefault("poc_details", {})[field] = value
            else:
                counterparty[field] = _cell(value)
        else:
            record[column] = value  # unknown column: refused by validation, naming it
    if counterparty and "counter_party_details" not in record:
        counterparty.setdefault("is_individual", False)
        record["counter_party_details"] = [counterparty]
    return record
