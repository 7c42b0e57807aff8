"""The sample create-contracts inputs the README runs (`deployments/examples/`): the parameters file given to
`prefect deployment run --params -` and the CSV records file are accepted whole, and SpotDraft (the sandbox,
over loopback HTTP) creates a contract for each record, once. Real Prefect (the test harness), real SQLite."""

from __future__ import annotations

import json

import pytest

from flows import create_contracts
from flows.records import load_records, validate_record
from tests.support.paths import ROOT

EXAMPLES = ROOT / "deployments" / "examples"
PARAMETERS = json.loads((EXAMPLES / "create-contracts.json").read_text(encoding="utf-8"))
RECORDS_CSV = EXAMPLES / "records.csv"

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_the_samples_are_valid_records_for_a_sandbox_template(sandbox):
    assert set(PARAMETERS) == {"template_id", "records"}  # what the run form asks, nothing it would refuse
    assert PARAMETERS["template_id"] in sandbox.state.templates
    samples = [*PARAMETERS["records"], *load_records(None, str(RECORDS_CSV))]
    for index, raw in enumerate(samples):
        validate_record(raw, index, PARAMETERS["template_id"])  # raises RecordError naming the field
    assert len({r["external_id"] for r in samples}) == len(samples)


@pytest.mark.parametrize("source", ["parameters file", "records file"])
def test_the_sandbox_creates_each_sample_record_once(sandbox, credentials, sqlite_url, source):
    given = ({"records": PARAMETERS["records"]} if source == "parameters file" else {"records_file": str(RECORDS_CSV)})
    first = create_contracts(credentials, PARAMETERS["template_id"], database_url=sqlite_url, **given,
                             return_state=True)
    again = create_contracts(credentials, PARAMETERS["template_id"], database_url=sqlite_url, **given,
                             return_state=True)
    ids = [r["external_id"] for r in (PARAMETERS["records"] if source == "parameters file"
                                       else load_records(None, str(RECORDS_CSV)))]
    assert first.name == "Completed" and first.message.startswith(f"created {len(ids)},"), first.message
    assert again.name == "Completed" and again.message.startswith("created 0,"), again.message
    assert all(len(sandbox.state.by_external_id(i)) == 1 for i in ids)
