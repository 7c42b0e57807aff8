"""Upstream records (CRM / ERP rows) to create contracts from: loading, validating, turning into bodies.

A record is an object with `external_id` (required text: the upstream id), `contract_data` (the
template's fields), `counter_party_details` (a list, as in the API's create body) and optionally
`contract_name`. Records come inline (a list of objects) or from a `.json` file (a list, or
`{"records": [...]}`) or a `.csv` file, whose columns map onto the same shape:

    external_id                          the upstream id (required)
    contract_name                        optional
    contract_data.<field>                one column per template field; dots nest deeper
                                         (contract_data.billing_address.city)
    counter_party_details                the whole list as JSON text, or instead, for one counterparty:
    counterparty.is_individual           true/false (default false)
    counterparty.organization_name       required when not an individual
    counterparty.first_name / .last_name / .email
                                         the point of contact (email and first name required)

A CSV cell that is valid JSON other than a bare string (12000, true, {"type": "USD", "value": 5})
is taken as that JSON value; anything else is text. Empty cells are left out.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from client.catalog import OPERATIONS_BY_NAME


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


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()[:5])


def validate_record(raw: Any, index: int, template_id: int) -> tuple[ContractRecord, dict[str, Any]]:
    """The record and its create body, both checked (the body against the API's request model)."""
    if not isinstance(raw, dict):
        raise RecordError(index, None, f"expected an object, got {type(raw).__name__}")
    external_id = str(raw["external_id"]) if raw.get("external_id") else None
    try:
        record = ContractRecord.model_validate(raw)
        body = record.create_body(template_id)
        body_model = OPERATIONS_BY_NAME["create_contract"].body_model
        if body_model is not None:
            body_model.model_validate(body)
    except ValidationError as exc:
        raise RecordError(index, external_id, _problems(exc)) from None
    return record, body


def load_records(records: list[dict[str, Any]] | None, records_file: str | None) -> list[Any]:
    """The raw records, from the inline list and/or the file (not validated yet)."""
    if records is None and not records_file:
        raise ValueError("give records (a list of objects) or records_file (a .csv or .json path)")
    loaded: list[Any] = list(records or [])
    if records_file:
        path = Path(records_file)
        if not path.is_file():
            raise FileNotFoundError(f"records_file {records_file!r} does not exist")
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
            loaded += data["records"] if isinstance(data, dict) and "records" in data else data
        elif path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as handle:
                loaded += [csv_row_to_record(row) for row in csv.DictReader(handle)]
        else:
            raise ValueError(f"records_file must end in .csv or .json, got {path.name!r}")
    return loaded


def _cell(value: str) -> Any:
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return value if isinstance(parsed, str) else parsed


def _put(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    target[leaf] = value


def csv_row_to_record(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {"contract_data": {}}
    counterparty: dict[str, Any] = {}
    for column, value in row.items():
        if column is None or value is None or value.strip() == "":
            continue
        column, value = column.strip(), value.strip()
        if column in ("external_id", "contract_name"):
            record[column] = value
        elif column == "counter_party_details":
            record[column] = _cell(value)
        elif column.startswith("contract_data."):
            _put(record["contract_data"], column.removeprefix("contract_data."), _cell(value))
        elif column.startswith("counterparty."):
            field = column.removeprefix("counterparty.")
            if field in ("first_name", "last_name", "email"):
                counterparty.setdefault("poc_details", {})[field] = value
            else:
                counterparty[field] = _cell(value)
        else:
            record[column] = value  # unknown column: refused by validation, naming it
    if counterparty and "counter_party_details" not in record:
        counterparty.setdefault("is_individual", False)
        record["counter_party_details"] = [counterparty]
    return record
