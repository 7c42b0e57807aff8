"""A database URL with a password is refused by the flows, the deployment form and the server, without
repeating the password (also inside a query value).

Real sandbox over loopback HTTP, real Prefect (the test harness), real SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest

from flows import create_contracts, review_failed_operations, sync_contracts

pytestmark = pytest.mark.usefixtures("prefect_api")


# -- database URLs never carry a password into Prefect -------------------------------------------------

@pytest.mark.parametrize("url", ["postgresql+psycopg://u:Canary-pw-1@127.0.0.1:1/db",
                                 "postgresql+psycopg://u@127.0.0.1:1/db?password=Canary-pw-1"])
def test_a_database_url_with_a_password_is_refused_without_repeating_it(credentials, sandbox, url):
    state = sync_contracts(credentials, database_url=url, return_state=True)
    assert state.is_failed()
    text = str(state.message) + repr(state.result(raise_on_failure=False))
    assert "PGPASSWORD" in text and "Canary-pw-1" not in text
    assert sandbox.requests == []  # nothing was sent
    # Prefect stored the run's parameters before the flow refused them: with the password masked.
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as api:
        stored = api.read_flow_run(state.state_details.flow_run_id).parameters
    assert "Canary-pw-1" not in json.dumps(stored) and stored["database_url"].startswith("postgresql+psycopg://u")


def test_the_deployment_form_and_server_refuse_a_database_url_with_a_password():
    import re

    from flows.common import DATABASE_URL_PATTERN

    for flow in (sync_contracts, create_contracts, review_failed_operations):
        schema = flow.parameters.model_dump()["properties"]["database_url"]
        assert schema["pattern"] == DATABASE_URL_PATTERN
    allowed = ["sqlite:///spotdraft.db", "postgresql+psycopg://etl@db.internal:5432/contracts?sslmode=require"]
    refused = ["postgresql+psycopg://etl:pw@db/x", "postgresql://etl@db/x?password=pw", "mysql://u@h/d?PASSWD=pw"]
    assert all(re.search(DATABASE_URL_PATTERN, u) for u in allowed)
    assert not any(re.search(DATABASE_URL_PATTERN, u) for u in refused)


@pytest.mark.parametrize("url", ["mssql+pyodbc:///?odbc_connect=DRIVER%3Dx%3BPWD%3DCanary-pw-2",
                                 "postgresql+psycopg://u@127.0.0.1:1/db?options=-c%20password%3DCanary-pw-2",
                                 "snowflake://u@acct/db?private_key_file_pwd=Canary-pw-2"])
def test_a_password_inside_a_query_value_is_refused_and_masked(credentials, url):
    from prefect.client.orchestration import get_client

    state = sync_contracts(credentials, database_url=url, return_state=True)
    assert state.is_failed() and "Canary-pw-2" not in str(state.message)
    with get_client(sync_client=True) as api:
        stored = api.read_flow_run(state.state_details.flow_run_id).parameters
    assert "Canary-pw-2" not in json.dumps(stored)
