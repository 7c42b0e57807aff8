"""sync_analytics against the sandbox over real HTTP, into real SQLite and PostgreSQL: every allowlisted table copied
whole (12,345 contracts: more than two answers' worth), row counts equal to what the API counts, the headline
artifact, and what happens to each kind of failure (the 403 and the 501, which do not reach the database's
writes, on SQLite only)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from blocks import SpotDraftCredentials
from client.analytics_catalog import ALLOWLISTED
from flows import sync_analytics
from flows.analytics_report import ALL_TYPES, WINDOW_DAYS
from flows.replays import replay_for
from sandbox import Sandbox
from store import ANALYTICS_TABLES, engine_for
from tests.support.analytics import QUERY_PATH, analytics_requests, api_count, snapshots, stored_count
from tests.support.artifacts import artifacts_of, table_rows
from tests.support.rows import letters
from tests.support.sandboxes import credentials_for

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(scope="module")
def big():
    with Sandbox(contracts=12_345, seed=11) as sb:
        yield sb


def test_every_allowlisted_table_is_copied_whole_with_the_apis_counts(big, database_url):
    credentials = credentials_for(big)
    state = sync_analytics(credentials, database_url=database_url, return_state=True)
    assert state.is_completed() and state.name == "Completed", state.message
    summary = state.result()
    recorded = snapshots(database_url)
    for table in ALLOWLISTED:
        expected = api_count(credentials, table)
        assert stored_count(database_url, table) == expected == summary["tables"][table]["rows"], table
        assert recorded[table]["row_count"] == expected and recorded[table]["user_scoped"] is None
    contracts = summary["tables"]["contracts"]
    assert (contracts["rows"], contracts["pages"], contracts["paging"]) == (12_345, 3, "keyset on contract_id")
    assert summary["tables"]["counterparties_setup"]["paging"] == "ordered by every column"
    with engine_for(database_url).connect() as conn:
        table = ANALYTICS_TABLES["contracts"]
        ids = [r[0] for r in conn.execute(sa.select(table.c.contract_id).order_by(table.c.contract_id))]
        first = conn.execute(sa.select(table).where(table.c.contract_id == ids[0])).one()._mapping
    assert ids == [c["id"] for c in big.snapshot()]
    assert isinstance(first["created_date"], dt.date) and first["workspace_id"] == 1

    # The headline: per contract type, what the API itself counts as executed in the artifact's window.
    rows = table_rows(artifacts_of(state)["sync-analytics-headline"])
    executed = {r["contract type"]: int(r["executed"]) for r in rows}
    end = max(dt.date.fromisoformat(c["last_updated_on"][:10]) for c in big.snapshot()
              if c["contract_status"] == "EXECUTED")
    start = end - dt.timedelta(days=WINDOW_DAYS - 1)
    answer = credentials.get_client().call("run_analytics_query", body={"query": (
        "SELECT contract_type, COUNT(*) AS n FROM contracts WHERE contract_status = 'Executed' "
        f"AND execution_date BETWEEN '{start}' AND '{end}' GROUP BY contract_type")})
    expected = {r["contract_type"]: r["n"] for r in answer["rows"]}
    assert executed == {**expected, ALL_TYPES: sum(expected.values())}
    assert all(float(r["median execution (days)"]) <= float(r["p90 execution (days)"])
               for r in rows if r["median execution (days)"] != "-")
    summary_table = table_rows(artifacts_of(state)["sync-analytics-summary"])
    assert [r["table"] for r in summary_table] == [f"analytics_{t}" for t in ALLOWLISTED]


def test_refusals_are_each_tables_own_and_a_502_is_retried(database_url):
    """A table outside the allowlist (400 SD_PUBLIC_00041) is its dead letter, the others sync; an execution
    failure (502 SD_PUBLIC_00043) is retried; text with NUL and lone surrogates, and a time that has no UTC
    (year 1 at +05:00 is year 0 in UTC), are stored fitted."""
    with Sandbox(contracts=40, seed=2) as sb:
        first = sb.snapshot()[0]["id"]
        sb.set_analytics_value("contracts", first, "counterparty_name", "Acme\x00 \ud800Ltd")
        sb.set_analytics_value("contracts", first, "sign_starts", "0001-01-01T00:00:00+05:00")
        failed = {"detail": "Query execution failed.", "status_code": 502, "code": "SD_PUBLIC_00043",
                  "message": "Query execution failed."}
        sb.script("POST", QUERY_PATH, 502, times=2, body=failed)
        tables = ["contracts", "contract_tat_details", "users"]
        state = sync_analytics(credentials_for(sb), database_url=database_url, tables=tables, return_state=True)

        assert state.is_completed() and state.name == "Dead-lettered"
        summary = state.result()
        assert summary["tables"]["contracts"]["rows"] == 40 and summary["tables"]["users"]["rows"] == 5
        assert summary["tables"]["contract_tat_details"]["error"].startswith("SD_PUBLIC_00041: ")
        [letter] = letters(database_url)
        assert letter["operation"] == "run_analytics_query"
        assert letter["target"] == "analytics table contract_tat_details"
        assert letter["context"]["status"] == 400 and letter["context"]["body"]["code"] == "SD_PUBLIC_00041"
        assert letter["inputs"] == {"table": "contract_tat_details", "user_scoped": None, "page_rows": 5000}
        assert [r.status for r in analytics_requests(sb)][:3] == [502, 502, 200]
        with engine_for(database_url).connect() as conn:
            table = ANALYTICS_TABLES["contracts"]
            name, starts = conn.execute(sa.select(table.c.counterparty_name, table.c.sign_starts)
                                        .where(table.c.contract_id == first)).one()
        assert name == "Acme\ufffd \ufffdLtd" and starts is None


def test_workspace_wide_contracts_without_the_admin_role_is_that_tables_403(sqlite_url):
    with Sandbox(contracts=40, seed=2) as sb:
        legal = SpotDraftCredentials(client_id=sb.client_id, client_secret=sb.client_secret, base_url=sb.base_url,
                                     user_email="legal@sandbox.example")
        state = sync_analytics(legal, database_url=sqlite_url, user_scoped=False, return_state=True)
        assert state.name == "Dead-lettered"
        summary = state.result()
        assert summary["tables"]["contracts"]["error"].startswith("SD_PUBLIC_00044: ")
        assert all(summary["tables"][t]["error"] is None for t in ALLOWLISTED if t != "contracts")
        [letter] = letters(sqlite_url)
        assert letter["target"] == "analytics table contracts" and letter["context"]["status"] == 403
        assert stored_count(sqlite_url, "contracts") == 0 and stored_count(sqlite_url, "users") == 5

        # Scoped (the API's default), the same user gets the contracts it may see.
        state = sync_analytics(legal, database_url=sqlite_url, tables=["contracts"], return_state=True)
        assert state.name == "Completed"
        mine = sum(c["created_by"] == "legal@sandbox.example" for c in sb.snapshot())
        assert stored_count(sqlite_url, "contracts") == mine == api_count(legal, "contracts")
        assert letters(sqlite_url)[0]["status"] == "replayed"  # settled by the later success


def test_a_501_ends_the_run_at_once_with_one_dead_letter(sqlite_url):
    with Sandbox(contracts=40, seed=2) as sb:
        credentials = credentials_for(sb)
        sync_analytics(credentials, database_url=sqlite_url, tables=["users"])
        before = snapshots(sqlite_url)
        sb.analytics_enabled = False
        sb.reset_log()
        state = sync_analytics(credentials, database_url=sqlite_url, return_state=True)

        assert state.is_failed()
        assert state.message.startswith("analytics not enabled for this workspace: ask SpotDraft support to enable "
                                        "PUBLIC_ANALYTICS_QUERY_API")
        assert [r.status for r in analytics_requests(sb)] == [501]  # not retried, no other table tried
        [letter] = letters(sqlite_url)
        assert (letter["target"], letter["status"]) == ("analytics query API", "pending")
        assert letter["inputs"]["tables"] == list(ALLOWLISTED)
        assert letter["context"]["body"]["code"] == "SD_PUBLIC_00045"
        assert snapshots(sqlite_url) == before and stored_count(sqlite_url, "users") == 5

        # Once SpotDraft has turned the feature on, the review's retry of that one letter syncs every table.
        sb.analytics_enabled = True
        done = replay_for("run_analytics_query")(credentials, sqlite_url, letter["inputs"], None)
        assert done["tables"]["contracts"] == 40 and set(done["tables"]) == set(ALLOWLISTED)
        assert letters(sqlite_url)[0]["status"] == "replayed"  # settled by the run the replay started


def test_an_unknown_table_or_a_bad_parameter_is_refused_before_any_request(sqlite_url):
    with Sandbox(contracts=5, seed=2) as sb:
        state = sync_analytics(credentials_for(sb), database_url=sqlite_url, tables=["contracts", "secrets"],
                               return_state=True)
        assert state.is_failed() and "'secrets'; choose from the analytics catalog" in state.message
        for bad in ({"page_rows": 0}, {"page_rows": 5001}, {"tables": "contracts"}, {"tables": []},
                    {"user_scoped": "sometimes"}):
            state = sync_analytics(credentials_for(sb), database_url=sqlite_url, return_state=True, **bad)
            assert state.is_failed(), bad
        assert analytics_requests(sb) == []
