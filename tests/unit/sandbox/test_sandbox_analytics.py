"""The sandbox's analytics query API over real HTTP: GoogleSQL run for real, the answers the spec promises
(checked against PublicAnalyticsQueryResponse), every documented error code, and rows that agree with the
sandbox's own contracts."""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest
import yaml

from sandbox import Sandbox, SandboxProcess
from tests.support.paths import SPEC_PATH, require_spec

PATH = "/api/v2.1/public/analytics/query/"
STATUS = {"DRAFT": "Draft", "REDLINING": "Redlining", "SIGN": "Sign", "EXECUTED": "Executed",
          "ON_HOLD": "On Hold", "VOIDED": "Voided"}


@pytest.fixture(scope="module")
def sb():
    with Sandbox(contracts=120, seed=3) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def response_schema() -> dict:
    require_spec()
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec["components"]["schemas"]["PublicAnalyticsQueryResponse"]


def ask(sb, query, user_email=None, **body):
    headers = {**sb.headers, **({"user-email": user_email} if user_email else {})}
    return httpx.post(sb.base_url + PATH, json={"query": query, **body}, headers=headers, timeout=30)


def answer(sb, query, response_schema, **kwargs) -> dict:
    reply = ask(sb, query, **kwargs)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    jsonschema.validate(body, response_schema)
    assert body["row_count"] == len(body["rows"]) and all(list(r) == body["columns"] for r in body["rows"])
    return body


def refusal(reply: httpx.Response, status: int, code: str) -> str:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["code"] == code and body["status_code"] == status and body["message"] and body["detail"]
    return body["message"]


def test_rows_agree_with_the_contracts_the_sandbox_lists(sb, response_schema):
    body = answer(sb, "SELECT `contract_id`, contract_type_id, contract_type, contract_status, counterparty_name, "
                      "created_date FROM `Contracts` ORDER BY contract_id", response_schema)
    contracts = sb.snapshot()
    assert [r["contract_id"] for r in body["rows"]] == [c["id"] for c in contracts]
    for row, contract in zip(body["rows"], contracts, strict=True):
        assert row["contract_type_id"] == contract["contract_type_id"]
        assert row["contract_type"] == contract["contract_type_name"]
        assert row["contract_status"] == STATUS[contract["contract_status"]]
        assert row["counterparty_name"] == contract["counter_party_name"]
        assert row["created_date"] == contract["created"][:10]
    types = answer(sb, "SELECT contract_type_id, contract_type FROM contract_types_setup", response_schema)
    assert {r["contract_type_id"] for r in body["rows"]} <= {r["contract_type_id"] for r in types["rows"]}
    parties = answer(sb, "SELECT counterparty_name FROM counterparties_setup", response_schema)
    assert {r["counterparty_name"] for r in body["rows"]} <= {r["counterparty_name"] for r in parties["rows"]}
    orphans = ("SELECT DISTINCT c.workflow_id FROM contracts c LEFT JOIN workflows_setup w "
               "ON w.frozen_workflow_id = c.frozen_workflow_id WHERE w.workflow_id IS NULL")
    workflows = answer(sb, orphans, response_schema)
    assert workflows["rows"] == []  # every contract's frozen workflow is in workflows_setup


def test_googlesql_is_run_for_real(sb, response_schema):
    executed = [c for c in sb.snapshot() if c["contract_status"] == "EXECUTED"]
    body = answer(sb, "WITH done AS (SELECT * FROM contracts WHERE contract_status = 'Executed') "
                      "SELECT COUNT(*) AS n, COUNTIF(execution_time IS NOT NULL) AS timed, "
                      "MAX(DATE_DIFF(execution_date, created_date, DAY)) AS longest FROM done", response_schema)
    assert body["rows"][0]["n"] == len(executed) and body["rows"][0]["longest"] >= 0
    users = answer(sb, "SELECT id, is_active FROM users UNION ALL SELECT id, is_deleted FROM users", response_schema)
    assert len(users["rows"]) == 10 and {type(r["is_active"]) for r in users["rows"]} == {bool}


def test_at_most_5000_rows_an_answer_and_truncated_says_more_matched(sb, response_schema):
    body = answer(sb, "SELECT a.contract_id FROM contracts a CROSS JOIN contracts b", response_schema)
    assert (body["row_count"], body["truncated"]) == (5000, True)
    body = answer(sb, "SELECT a.contract_id FROM contracts a CROSS JOIN contracts b LIMIT 5000", response_schema)
    assert (body["row_count"], body["truncated"]) == (5000, False)


@pytest.mark.parametrize("query, status, code", [
    ("SELECT * FROM contract_tat_details", 400, "SD_PUBLIC_00041"),
    ("SELECT * FROM `project.dataset.contracts`", 400, "SD_PUBLIC_00041"),
    ("SELECT * FROM contracts JOIN secrets USING (contract_id)", 400, "SD_PUBLIC_00041"),
    ("DELETE FROM contracts WHERE TRUE", 400, "SD_PUBLIC_00040"),
    ("SELECT 1; SELECT 2", 400, "SD_PUBLIC_00040"),
    ("CREATE TABLE x AS SELECT * FROM contracts", 400, "SD_PUBLIC_00040"),
    ("SELECT * FROM (contracts", 400, "SD_PUBLIC_00042"),
    ("SELECT no_such_column FROM users", 400, "SD_PUBLIC_00042"),
])
def test_every_refusal_carries_spotdrafts_code(sb, query, status, code):
    refusal(ask(sb, query), status, code)


def test_the_query_is_refused_beyond_10000_characters(sb, response_schema):
    longest = "SELECT id FROM users WHERE " + " OR ".join(["id = 1"] * 2000)
    longest = longest[: 10_000 - 1].rsplit(" OR", 1)[0]
    assert answer(sb, longest, response_schema)["row_count"] == 1
    reply = ask(sb, longest + " OR id = 2" * 200)
    assert reply.status_code == 400 and "10000 characters" in reply.json()["query"][0]


def test_contracts_are_scoped_to_the_caller_and_workspace_wide_is_an_admins(sb, response_schema):
    everyone = answer(sb, "SELECT contract_id FROM contracts", response_schema)["row_count"]
    assert everyone == len(sb.snapshot())
    mine = {c["id"] for c in sb.snapshot() if c["created_by"] == "legal@sandbox.example"}
    scoped = answer(sb, "SELECT contract_id FROM contracts", response_schema, user_email="legal@sandbox.example")
    assert 0 < len(mine) < everyone and {r["contract_id"] for r in scoped["rows"]} == mine
    message = refusal(ask(sb, "SELECT COUNT(*) FROM contracts", user_email="legal@sandbox.example",
                          user_scoped=False), 403, "SD_PUBLIC_00044")
    assert "Admin" in message
    # The header says the same as the body field; other tables are not scoped at all.
    header = httpx.post(sb.base_url + PATH, json={"query": "SELECT COUNT(*) AS n FROM contracts"},
                        headers={**sb.headers, "user-email": "legal@sandbox.example",
                                 "X-Spotdraft-Analytics-User-Scoped": "no"})
    refusal(header, 403, "SD_PUBLIC_00044")
    users = answer(sb, "SELECT id FROM users", response_schema, user_email="legal@sandbox.example", user_scoped=False)
    assert users["row_count"] == 5
    assert answer(sb, "SELECT contract_id FROM contracts", response_schema, user_scoped=False)["row_count"] == everyone


def test_text_with_nul_and_lone_surrogates_arrives_as_json_escapes(sb, response_schema):
    sb.set_analytics_value("contracts", sb.snapshot()[0]["id"], "counterparty_name", "a\x00b\ud800c")
    reply = ask(sb, f"SELECT counterparty_name FROM contracts WHERE contract_id = {sb.snapshot()[0]['id']}")
    assert b'"a\\u0000b\\ud800c"' in reply.content
    assert json.loads(reply.content)["rows"] == [{"counterparty_name": "a\x00b\ud800c"}]
    with pytest.raises(ValueError, match="not an allowlisted analytics table with a key"):
        sb.set_analytics_value("counterparties_setup", 1, "status", "x")


def test_changes_to_the_workspace_show_in_the_next_answer(response_schema):
    with Sandbox(contracts=20, seed=5) as sb:
        count = "SELECT COUNT(*) AS n FROM contracts WHERE contract_status = 'Executed'"
        before = answer(sb, count, response_schema)["rows"][0]["n"]
        [added] = sb.add_contracts(1)
        for step in ("request_signature", "execute"):
            sb.advance(added.id, step)
        assert answer(sb, count, response_schema)["rows"][0]["n"] == before + 1
        sb.reset()
        assert answer(sb, count, response_schema)["rows"][0]["n"] == before


def test_the_501_switch_over_the_admin_api_of_a_sandbox_process():
    with SandboxProcess(contracts=5, seed=1) as sb:
        assert sb.analytics_enabled is True
        sb.analytics_enabled = False
        message = refusal(ask(sb, "SELECT 1 AS one"), 501, "SD_PUBLIC_00045")
        assert "PUBLIC_ANALYTICS_QUERY_API" in message
        sb.analytics_enabled = True
        assert ask(sb, "SELECT 1 AS one").json()["rows"] == [{"one": 1}]
        sb.set_analytics_value("users", 2, "designation", "x\ud800")
        assert ask(sb, "SELECT designation FROM users WHERE id = 2").json()["rows"] == [{"designation": "x\ud800"}]
        sb.analytics_enabled = False
        sb.reset()
        assert sb.analytics_enabled is True


def test_a_query_past_its_time_limit_is_a_502_execution_failure(sb):
    endpoint = next(r.handler.__self__ for r in sb.app.routes if r.path == PATH and r.handler is not None)
    endpoint.timeout_s = 0.05
    try:
        slow = "SELECT COUNT(*) FROM contracts a, contracts b, contracts c, contracts d"
        refusal(ask(sb, slow), 502, "SD_PUBLIC_00043")
    finally:
        endpoint.timeout_s = 60.0
