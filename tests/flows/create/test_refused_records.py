"""Records the create flow refuses stay dead letters of their own: a repeated external id, and records
without an external id from two runs.

Real sandbox over loopback HTTP, real Prefect (the in-process test harness: a real API server), real
SQLite.
"""

from __future__ import annotations

import pytest

from flows import create_contracts
from tests.support.records import record, template_id
from tests.support.rows import letters

pytestmark = pytest.mark.usefixtures("prefect_api")


# == runs that dead-letter say so, and what they say is reviewable =============================================
def test_a_record_refused_as_a_repeated_external_id_stays_pending(sandbox, credentials, sqlite_url):
    first, second = record("b10-dup"), record("b10-dup")
    second["contract_data"]["customer_name"] = "Another customer entirely"
    state = create_contracts(credentials, template_id(sandbox), records=[first, second], database_url=sqlite_url,
                             return_state=True)
    assert state.name == "Dead-lettered" and "1 dead-lettered" in state.message
    [letter] = letters(sqlite_url)
    assert letter["status"] == "pending", (
        f"the refused record was closed as {letter['status']!r} by {letter['decided_by']!r}: "
        "the run says 1 dead-lettered, the review finds nothing")


def test_records_without_external_id_from_two_runs_are_two_dead_letters(sandbox, credentials, sqlite_url):
    one, two = record("x"), record("y")
    del one["external_id"], two["external_id"]
    one["contract_data"]["customer_name"], two["contract_data"]["customer_name"] = "FIRST", "SECOND"
    for records in ([one], [two]):
        state = create_contracts(credentials, template_id(sandbox), records=records, database_url=sqlite_url,
                                 return_state=True)
        assert state.name == "Dead-lettered" and "1 dead-lettered" in state.message
    kept = [r["inputs"]["record"]["contract_data"]["customer_name"] for r in letters(sqlite_url)
            if r["status"] == "pending"]
    assert sorted(kept) == ["FIRST", "SECOND"], f"pending letters keep only {kept}"
