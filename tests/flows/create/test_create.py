"""create_contracts against the sandbox over real HTTP, into real SQLite and PostgreSQL databases."""

from __future__ import annotations

import csv
import json

import pytest
import sqlalchemy as sa

from flows import create_contracts
from flows.records import csv_row_to_record
from store import created_contracts, dead_letters, engine_for
from tests.support.records import record, template_id

pytestmark = pytest.mark.usefixtures("prefect_api")


def rows(database_url: str, table) -> list:
    with engine_for(database_url).connect() as conn:
        return conn.execute(sa.select(table)).all()


def posts(sandbox) -> int:
    return len([r for r in sandbox.request_log("POST") if r.path == "/api/v2.1/public/contracts/"])


def in_spotdraft(credentials, external_id: str) -> list:
    return credentials.get_client().call(
        "get_contracts_by_external_metadata", path_params={"external_metadata_id": external_id}
    )


def test_creates_each_record_once_and_stores_spotdrafts_ids(sandbox, credentials, database_url):
    records = [record(f"crm-{i}") for i in range(7)]
    state = create_contracts(
        credentials, template_id(sandbox), records=records, database_url=database_url, return_state=True
    )
    assert state.is_completed() and state.result()["created"] == 7
    stored = {r.external_id: r for r in rows(database_url, created_contracts)}
    assert set(stored) == {f"crm-{i}" for i in range(7)}
    for external_id, row in stored.items():
        [contract] = in_spotdraft(credentials, external_id)
        assert str(contract["id"]) in row.contract_id and row.outcome == "created"

    again = create_contracts(
        credentials, template_id(sandbox), records=records, database_url=database_url, return_state=True
    ).result()
    assert again["created"] == 0 and again["already_recorded"] == 7
    assert posts(sandbox) == 7


def test_a_fresh_database_still_creates_nothing_twice(sandbox, credentials, database_url, tmp_path):
    records = [record(f"erp-{i}") for i in range(3)]
    create_contracts(credentials, template_id(sandbox), records=records, database_url=database_url)
    other_db = f"sqlite:///{tmp_path / 'other.db'}"  # as if the local row had been lost
    summary = create_contracts(
        credentials, template_id(sandbox), records=records, database_url=other_db, return_state=True
    ).result()
    assert summary["found"] == 3 and summary["created"] == 0
    assert posts(sandbox) == 3
    assert {r.outcome for r in rows(other_db, created_contracts)} == {"found"}


def test_bad_records_are_refused_before_any_request_and_dead_lettered(sandbox, credentials, database_url):
    bad_email = record("bad-1")
    del bad_email["counter_party_details"][0]["poc_details"]["email"]
    records = [
        record("good-1"),
        bad_email,
        {"contract_data": {}},
        record("bad-3", contract_data="not an object"),
        record("good-2"),
    ]
    state = create_contracts(
        credentials, template_id(sandbox), records=records, database_url=database_url, return_state=True
    )
    assert state.is_completed() and "3 dead-lettered" in state.message
    assert posts(sandbox) == 2
    letters = {r.target: r for r in rows(database_url, dead_letters)}
    # A record without an external id is named by its place in this run (not "record 2" of any run).
    letters["record 2"] = letters.pop(f"record 2 of run {state.state_details.flow_run_id}")
    assert set(letters) == {"bad-1", "record 2", "bad-3"}
    assert "record 1 (external_id 'bad-1')" in letters["bad-1"].error_message
    assert "counter_party_details.0.poc_details.email" in letters["bad-1"].error_message
    assert "external_id" in letters["record 2"].error_message
    assert "contract_data" in letters["bad-3"].error_message
    assert all(r.status == "pending" and r.operation == "create_contract" for r in letters.values())
    assert letters["bad-1"].inputs["record"]["external_id"] == "bad-1"


def test_ambiguous_failures_are_reconciled_not_duplicated(sandbox, credentials, database_url):
    sandbox.script("POST", r"/api/v2.1/public/contracts/$", "ambiguous", times=2)  # committed, then 504
    records = [record(f"amb-{i}") for i in range(4)]
    summary = create_contracts(
        credentials, template_id(sandbox), records=records, database_url=database_url, concurrency=1, return_state=True
    ).result()
    assert summary["created"] == 4 and summary["dead_lettered"] == 0
    for i in range(4):
        assert len(in_spotdraft(credentials, f"amb-{i}")) == 1
    assert posts(sandbox) == 4  # the two ambiguous POSTs were not sent again


def test_a_permanent_api_failure_is_a_dead_letter_with_context(sandbox, credentials, database_url):
    summary = create_contracts(
        credentials, 99999, records=[record("x-1")], database_url=database_url, return_state=True
    ).result()  # no such template: the API answers 400
    assert summary["dead_lettered"] == 1
    [letter] = rows(database_url, dead_letters)
    assert letter.error_class == "BadRequestError" and letter.context["status"] == 400
    assert letter.context["external_ids"] == ["x-1"] and letter.context["method"] == "POST"
    assert letter.inputs["body"]["external_metadata"]["id"] == "x-1"


def test_send_to_counterparties_after_create_and_a_failed_send_is_its_own_dead_letter(
    sandbox, credentials, database_url
):
    sandbox.script("POST", r"/send_to_counterparties$", 402, times=1, body={"detail": "contract not ready"})
    records = [record("send-1"), record("send-2")]
    summary = create_contracts(
        credentials, template_id(sandbox), records=records, database_url=database_url, send_to_counterparties=True,
        concurrency=1, return_state=True,
    ).result()
    assert summary["created"] == 2 and summary["dead_lettered"] == 1
    sends = [r for r in sandbox.request_log("POST") if r.path.endswith("/send_to_counterparties")]
    assert len(sends) == 2
    assert {r.external_id for r in rows(database_url, created_contracts)} == {"send-1", "send-2"}
    [letter] = rows(database_url, dead_letters)
    assert letter.operation == "send_contract_to_counterparties" and letter.error_class == "BusinessRuleError"
    assert letter.target == letter.inputs["composite_id"] and letter.target.startswith("T-")


def test_contracts_recorded_but_not_yet_sent_are_sent_by_the_next_run(sandbox, credentials, database_url):
    records = [record("later-1")]
    create_contracts(credentials, template_id(sandbox), records=records, database_url=database_url)
    assert not [r for r in sandbox.request_log("POST") if r.path.endswith("/send_to_counterparties")]
    summary = create_contracts(
        credentials, template_id(sandbox), records=records, database_url=database_url, send_to_counterparties=True,
        return_state=True,
    ).result()
    assert summary["already_recorded"] == 1 and posts(sandbox) == 1
    assert len([r for r in sandbox.request_log("POST") if r.path.endswith("/send_to_counterparties")]) == 1
    [row] = rows(database_url, created_contracts)
    assert row.sent_at is not None


def test_a_contract_found_in_draft_is_sent_and_one_already_sent_is_not(sandbox, credentials, database_url, tmp_path):
    # Both were created by an earlier run whose local rows were lost (a crash before recording them).
    records = [record("lost-draft"), record("lost-sent")]
    create_contracts(credentials, template_id(sandbox), records=records, database_url=f"sqlite:///{tmp_path}/lost.db")
    sandbox.touch(in_spotdraft(credentials, "lost-sent")[0]["id"], status="REDLINING")

    summary = create_contracts(
        credentials, template_id(sandbox), records=records, database_url=database_url, send_to_counterparties=True,
        return_state=True,
    ).result()

    assert summary["found"] == 2 and summary["created"] == 0 and posts(sandbox) == 2
    sends = [r.path for r in sandbox.request_log("POST") if r.path.endswith("/send_to_counterparties")]
    draft_id = in_spotdraft(credentials, "lost-draft")[0]["id"]
    assert sends == [f"/api/v2.1/public/contracts/T-{draft_id}/send_to_counterparties"]
    sent_at = {r.external_id: r.sent_at for r in rows(database_url, created_contracts)}
    assert sent_at["lost-draft"] is not None and sent_at["lost-sent"] is None


def test_a_found_draft_recorded_but_not_sent_is_sent_by_the_next_run(sandbox, credentials, database_url, tmp_path):
    records = [record("found-later")]
    create_contracts(credentials, template_id(sandbox), records=records, database_url=f"sqlite:///{tmp_path}/lost.db")
    # Found and recorded, then (as if the run died before sending, or sending was not asked) not sent.
    create_contracts(credentials, template_id(sandbox), records=records, database_url=database_url)
    assert [r.outcome for r in rows(database_url, created_contracts)] == ["found"]

    create_contracts(credentials, template_id(sandbox), records=records, database_url=database_url,
                     send_to_counterparties=True)

    assert len([r for r in sandbox.request_log("POST") if r.path.endswith("/send_to_counterparties")]) == 1
    [row] = rows(database_url, created_contracts)
    assert row.sent_at is not None and posts(sandbox) == 1


def test_a_send_that_landed_but_answered_an_error_is_not_sent_again(sandbox, credentials, database_url):
    sandbox.script("POST", r"/send_to_counterparties$", "ambiguous", times=1)  # sent, then 504
    records = [record("sent-once")]
    first = create_contracts(credentials, template_id(sandbox), records=records, database_url=database_url,
                             send_to_counterparties=True, return_state=True).result()
    assert first["created"] == 1 and first["dead_lettered"] == 1  # not safe to repeat: given up on

    create_contracts(credentials, template_id(sandbox), records=records, database_url=database_url,
                     send_to_counterparties=True)

    assert len([r for r in sandbox.request_log("POST") if r.path.endswith("/send_to_counterparties")]) == 1


def test_an_unreadable_status_before_a_send_is_a_dead_letter_not_a_silent_skip(sandbox, credentials, database_url):
    records = [record("status-unknown")]
    create_contracts(credentials, template_id(sandbox), records=records, database_url=database_url)
    sandbox.script("GET", r"/status$", 403, times=1)

    summary = create_contracts(credentials, template_id(sandbox), records=records, database_url=database_url,
                               send_to_counterparties=True, return_state=True).result()

    assert summary["dead_lettered"] == 1
    [letter] = rows(database_url, dead_letters)
    assert letter.operation == "send_contract_to_counterparties" and letter.error_class == "PermissionDeniedError"
    assert not [r for r in sandbox.request_log("POST") if r.path.endswith("/send_to_counterparties")]


def test_records_from_csv_and_json_files(sandbox, credentials, database_url, tmp_path):
    csv_path = tmp_path / "deals.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "external_id",
                "contract_name",
                "contract_data.customer_name",
                "contract_data.billing_currency",
                "counterparty.organization_name",
                "counterparty.first_name",
                "counterparty.email",
            ]
        )
        writer.writerow(
            ["deal-1", "Deal one", "Acme", '{"type": "USD", "value": 5}', "Acme Inc.", "Avery", "a@acme.example"]
        )
        writer.writerow(["deal-2", "", "Beta", "", "Beta LLC", "Bo", "b@beta.example"])
    json_path = tmp_path / "deals.json"
    json_path.write_text(json.dumps({"records": [record("deal-3")]}))

    for path in (csv_path, json_path):
        create_contracts(credentials, template_id(sandbox), records_file=str(path), database_url=database_url)
    assert {r.external_id for r in rows(database_url, created_contracts)} == {"deal-1", "deal-2", "deal-3"}
    assert in_spotdraft(credentials, "deal-1")[0]["contract_name"] == "Deal one"


def test_csv_columns_map_onto_the_record_shape():
    assert csv_row_to_record(
        {
            "external_id": "d1",
            "contract_data.amount": "12000",
            "contract_data.address.city": "Paris",
            "contract_data.zip": "01234",
            "counterparty.is_individual": "true",
            "counterparty.first_name": "Al",
            "counterparty.email": "al@x.example",
            "contract_name": "",
        }
    ) == {
        "external_id": "d1",
        "contract_data": {"amount": 12000, "address": {"city": "Paris"}, "zip": "01234"},
        "counter_party_details": [
            {"is_individual": True, "poc_details": {"first_name": "Al", "email": "al@x.example"}}
        ],
    }


def test_no_records_at_all_is_a_clear_error(sandbox, credentials, database_url):
    state = create_contracts(credentials, template_id(sandbox), database_url=database_url, return_state=True)
    assert state.is_failed() and "records_file" in state.message
