"""What an operator sees in the Prefect UI, read back from the Prefect API the UI reads.

Final states whose badge says what happened, summary tables that fit the UI's first page (ten
rows), keyed artifacts, and task runs named after what they do, never after a body or a secret.
"""

from __future__ import annotations

import re

import pytest
from prefect import flow
from prefect.client.schemas.objects import StateType

import tasks
from blocks import SpotDraftCredentials
from flows import create_contracts, sync_contracts
from flows.sync import summary_table
from tests.support.artifacts import artifacts_of, random_suffix, server_state, table_rows, task_run_names
from tests.support.records import record, template_id

pytestmark = pytest.mark.usefixtures("prefect_api")

UI_PAGE_ROWS = 10  # rows of a table artifact the Prefect UI shows before paging


# -- the final state's badge ----------------------------------------------------------------------------------
def test_a_create_run_whose_every_record_spotdraft_refuses_is_completed_and_named_for_its_dead_letters(
    sandbox, credentials, sqlite_url
):
    records = [record(f"nope-{i}") for i in range(3)]
    state = create_contracts(credentials, 99999, records=records, database_url=sqlite_url, return_state=True)  # 400s

    shown = server_state(state)
    assert shown.type == StateType.COMPLETED and shown.name == "Dead-lettered"
    assert "review_failed_operations" in shown.message and "3 dead-lettered" in shown.message
    assert state.name == "Dead-lettered" and state.result()["dead_lettered"] == 3  # the summary, as before


def test_a_create_run_with_some_records_refused_names_only_those(sandbox, credentials, sqlite_url):
    no_id = {"contract_data": {}}
    state = create_contracts(credentials, template_id(sandbox), records=[record("ok-1"), no_id, record("ok-2")],
                             database_url=sqlite_url, return_state=True)
    shown = server_state(state)
    assert (shown.type, shown.name) == (StateType.COMPLETED, "Dead-lettered")
    assert state.result()["created"] == 2


def test_a_clean_create_run_is_plain_completed(sandbox, credentials, sqlite_url):
    state = create_contracts(credentials, template_id(sandbox), records=[record("fine-1")], database_url=sqlite_url,
                             return_state=True)
    shown = server_state(state)
    assert (shown.type, shown.name) == (StateType.COMPLETED, "Completed")
    assert shown.message.startswith("created 1") and "dead-lettered" not in shown.message


def test_a_sync_run_that_dead_letters_is_named_for_it_and_a_clean_one_is_plain_completed(sandbox, credentials,
                                                                                          sqlite_url):
    victim = sandbox.snapshot()[2]["composite_id"]
    sandbox.script("GET", rf"/contracts/{victim}/key_pointers$", 403, times=1, body={"detail": "no access"})
    lettered = sync_contracts(credentials, database_url=sqlite_url, page_size=10, return_state=True)
    shown = server_state(lettered)
    assert (shown.type, shown.name) == (StateType.COMPLETED, "Dead-lettered")
    assert "review_failed_operations" in shown.message

    clean = sync_contracts(credentials, database_url=sqlite_url, page_size=10, return_state=True)
    shown = server_state(clean)
    assert (shown.type, shown.name) == (StateType.COMPLETED, "Completed")


def test_reference_data_that_cannot_be_stored_is_dead_lettered_counted_and_named(sandbox, credentials, sqlite_url):
    """A template without an id, or a counterparty the database refuses, is a dead letter like a contract's:
    counted in dead_lettered, so the run is named for it and the review is started (it used to be silent)."""
    import sqlalchemy as sa

    from store import dead_letters, engine_for

    real = sandbox.state.templates
    poison = [{"name": "no id"}, {"id": "", "name": "blank id"}, *({"id": t, "name": f"t{t}"} for t in list(real)[:2])]
    sandbox.script("GET", r"/templates/?$", 200, body={"items": poison})
    state = sync_contracts(credentials, database_url=sqlite_url, page_size=10, return_state=True)
    summary, shown = state.result(), server_state(state)
    assert summary["templates"] == 2 and summary["dead_lettered"] == 2
    assert (shown.type, shown.name) == (StateType.COMPLETED, "Dead-lettered")
    with engine_for(sqlite_url).connect() as conn:
        letters = conn.execute(sa.select(dead_letters.c.operation, dead_letters.c.target)
                               .where(dead_letters.c.status == "pending")).all()
    assert sorted(letters) == [("list_templates", "templates list item 1"), ("list_templates", "templates list item 2")]


# -- artifacts ------------------------------------------------------------------------------------------------
def test_the_sync_summary_fits_one_ui_page_and_keeps_every_figure(sandbox, credentials, sqlite_url):
    sync_contracts(credentials, database_url=sqlite_url, page_size=10)
    gone, victim = sandbox.snapshot()[3], sandbox.snapshot()[5]["composite_id"]
    sandbox.delete_contract(gone["id"])
    sandbox.script("GET", rf"/contracts/{victim}/key_pointers$", 403, times=1, body={"detail": "no access"})
    state = sync_contracts(credentials, database_url=sqlite_url, page_size=10, full_refresh=True, return_state=True)
    summary = state.result()
    assert summary["marked_deleted"] == 1 and summary["dead_lettered"] == 1  # figures that differ from the rest

    rows = table_rows(artifacts_of(state)["sync-contracts-summary"])
    assert len(rows) <= UI_PAGE_ROWS
    assert all(set(row) == {"metric", "value"} for row in rows)
    shown = {row["metric"]: row["value"] for row in rows}
    expected = {  # where each figure of the summary is, as the operator reads it
        "pass": ("pass", summary["pass"]),
        "pages": ("pages", str(summary["pages"])),
        "contracts_read": ("contracts", f"read {summary['contracts_read']},"),
        "contracts_written": ("contracts", f"written {summary['contracts_written']},"),
        "contracts_in_database": ("contracts", f"in database {summary['contracts_in_database']},"),
        "marked_deleted": ("contracts", "marked deleted 1"),
        "dead_lettered": ("dead-lettered", "1"),
        "templates": ("reference data", f"templates {summary['templates']}"),
        "counterparties": ("reference data", f"counterparties {summary['counterparties']}"),
        "requests": ("requests", f"{summary['requests']} ("),
        "retries": ("requests", f"retries {summary['retries']}"),
        "throttled_429": ("requests", f"throttled 429 {summary['throttled_429']}"),
        "rate_limit": ("rate limit", summary["rate_limit"]),
        "duration_s": ("duration", f"{summary['duration_s']} s"),
        "database": ("database", summary["database"]),
    }
    assert set(expected) | {"resumed"} == set(summary)  # every figure has its place (resumed: below)
    for key, (metric, text) in expected.items():
        assert text in shown[metric], (key, shown)
    assert "resumed" not in shown["pass"]


def test_a_resumed_pass_says_so_in_the_summary_table():
    summary = {"pass": "resumed full pass 1a2b3c4d then incremental since 2026-01-01 10:00:00 pass 5e6f7a8b",
               "resumed": True, "pages": 4, "contracts_read": 31, "contracts_written": 30,
               "contracts_in_database": 29, "marked_deleted": 2, "dead_lettered": 3, "templates": 5,
               "counterparties": 6, "requests": 77, "retries": 8, "throttled_429": 9,
               "rate_limit": "adaptive, never throttled", "duration_s": 1.25, "database": "sqlite:///x.db"}
    rows = summary_table(summary)
    assert len(rows) <= UI_PAGE_ROWS
    text = " | ".join(f"{r['metric']}: {r['value']}" for r in rows)
    assert text.startswith("pass: resumed full pass")
    for figure in ("read 31", "written 30", "in database 29", "marked deleted 2", "dead-lettered: 3", "templates 5",
                   "counterparties 6", "requests: 77", "retries 8", "throttled 429 9", "1.25 s", "sqlite:///x.db"):
        assert figure in text


def test_the_create_summary_fits_one_ui_page(sandbox, credentials, sqlite_url):
    state = create_contracts(credentials, template_id(sandbox), records=[record("sum-1")], database_url=sqlite_url,
                             return_state=True)
    rows = table_rows(artifacts_of(state)["create-contracts-summary"])
    assert len(rows) <= UI_PAGE_ROWS
    assert {r["metric"]: r["value"] for r in rows}["created"] == "1"


def test_the_sync_progress_artifact_has_a_key(sandbox, credentials, sqlite_url):
    state = sync_contracts(credentials, database_url=sqlite_url, page_size=10, reference_data=False, return_state=True)
    progress = [a for a in artifacts_of(state).values() if a.type == "progress"]
    assert [a.key for a in progress] == ["sync-contracts-progress"]
    assert float(progress[0].data) == 100.0


# -- task run names -------------------------------------------------------------------------------------------
def test_every_task_run_of_a_sync_is_named_after_what_it_does(sandbox, credentials, sqlite_url):
    from tests.support.sync_checks import stored

    # A full pass that fails at page 2, a contract it stored deleted meanwhile, then the pass resumed:
    # the resumed full pass counts the ids upstream and confirms the one deletion.
    sandbox.script("GET", r"/public/contracts/$", 403, times=1, query_regex=r"(^|&)page=2(&|$)")
    assert sync_contracts(credentials, database_url=sqlite_url, page_size=5, reference_data=False,
                          return_state=True).is_failed()
    sandbox.delete_contract(next(iter(stored(sqlite_url))))
    state = sync_contracts(credentials, database_url=sqlite_url, page_size=5, full_refresh=True, return_state=True)
    assert state.result()["marked_deleted"] == 1

    named = {"templates", "counterparties", "list contract ids", "confirm 1 deletion"}
    names = task_run_names(state, expected=5, including=named)
    assert not [n for n in names if random_suffix(n)], names
    assert named <= set(names)
    others = [n for n in names if n not in named]
    assert others and all(re.fullmatch(r"contracts page \d+", n) for n in others), names


def test_every_task_run_of_a_create_is_named_after_its_records(sandbox, credentials, sqlite_url):
    state = create_contracts(credentials, template_id(sandbox), records=[record(f"n-{i}") for i in range(3)],
                             database_url=sqlite_url, return_state=True)
    assert task_run_names(state, expected=1) == ["create contracts 0..2"]


def test_library_task_runs_say_the_operation_and_the_ids_never_a_body(sandbox, credentials):
    contract = sandbox.snapshot()[0]
    marker = "body-marker-5d1e"

    @flow(name="operator-view-tasks")
    def calls(creds: SpotDraftCredentials):
        tasks.list_templates(creds)
        tasks.get_contract_status(creds, contract["composite_id"])
        tasks.list_contracts(creds, page=2, limit=3)
        tasks.create_contract(creds, {"template_id": 99999, "contract_name": marker}, return_state=True)
        tasks.update_contract_note(creds, contract["id"], 424242, {"note": marker}, return_state=True)

    state = calls(credentials, return_state=True)
    names = task_run_names(state, expected=5)
    assert names == sorted([
        "list_templates",
        f"get_contract_status {contract['composite_id']}",
        "list_contracts page 2",
        "create_contract",
        f"update_contract_note contract_id={contract['id']} note_id=424242",
    ])
    assert not [n for n in names if marker in n]


def test_a_run_name_shows_only_short_ids_of_the_path_never_a_credential_or_a_known_secret():
    from client.redaction import register_secret
    from tasks.clickwrap import get_clickwrap

    namer = tasks.queue_native_integration_contracts.task_run_name
    assert namer(parameters={"integration_solution_entity_id": "ise-1", "credential_public_id": "cred-9",
                             "body": {"a": 1}}) == "queue_native_integration_contracts ise-1"
    assert tasks.get_rendered_email.task_run_name(parameters={"email_audit_key": "k-1"}) == "get_rendered_email"
    assert tasks.get_facet_options.task_run_name(parameters={"field_name": "x", "q": "acme"}) == "get_facet_options"

    status = tasks.get_contract_status.task_run_name
    assert status(parameters={"composite_id": "T-1\n2"}) == "get_contract_status T-1 2"
    assert status(parameters={"composite_id": {"not": "an id"}}) == "get_contract_status"
    long = status(parameters={"composite_id": "x" * 100})
    assert len(long) < len("get_contract_status ") + 41 and long.endswith("\u2026")
    register_secret("canary-Id-Secret-0b7c")
    assert "canary-Id-Secret-0b7c" not in get_clickwrap.task_run_name(parameters={"clickwrap_public_id":
                                                                                   "canary-Id-Secret-0b7c"})
