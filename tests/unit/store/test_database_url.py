"""A database URL never carries a password into Prefect, and is never shown with one: whatever characters the
password holds (SQLAlchemy takes any text up to an @ for it, /, ? and # included, and an unencoded @ ends it)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest

from store.database_url import DATABASE_URL_PATTERN, check_database_url, shown_database_url
from tests.support.paths import ROOT

SECRET = "Sx7/q?r#t"  # a password with every character that ends a URL's authority elsewhere
WITH_PASSWORD = [
    f"postgresql+psycopg://etl:{SECRET}@db.example/sync",
    "postgresql+psycopg://etl:plain@db.example/sync",
    "postgresql+psycopg://etl:Sx7@tail99@db.example/sync",  # an unencoded @: SQLAlchemy's host is "tail99@db..."
    "postgresql://etl@db/x?password=pw",
]
WITHOUT = [
    "sqlite:///spotdraft.db",
    "postgresql+psycopg://etl@db.internal:5432/contracts?sslmode=require",
    "sqlite:///x.db?note=a:b@c",
]


@pytest.mark.parametrize("url", WITH_PASSWORD)
def test_a_url_with_a_password_is_refused_by_the_form_rule_and_by_the_flow(url):
    assert not re.search(DATABASE_URL_PATTERN, url)
    with pytest.raises(ValueError, match="carries a password") as refused:
        check_database_url(url)
    for part in ("Sx7", "tail99", "plain", "pw@"):
        assert part not in str(refused.value)


@pytest.mark.parametrize("url", WITHOUT)
def test_a_url_without_one_is_taken(url):
    assert re.search(DATABASE_URL_PATTERN, url) and check_database_url(url) == url


@pytest.mark.parametrize("url", WITH_PASSWORD[:3])
def test_a_shown_url_masks_all_of_the_password(url):
    shown = shown_database_url(url)
    assert "***" in shown and not any(part in shown for part in ("Sx7", "q?r", "tail99", "plain"))
    assert shown.endswith("@db.example/sync")


def test_the_prefect_server_refuses_a_deployment_run_with_such_a_password(prefect_api):
    """The form rule is the parameter schema Prefect's server enforces: a run it refuses is never stored."""
    from prefect.client.orchestration import get_client
    from prefect.utilities.callables import parameter_schema

    from flows.sync_contract import sync_contract

    async def try_runs() -> dict[str, str]:
        async with get_client() as api:
            flow_id = await api.create_flow_from_name("sync-contract")
            deployment = await api.create_deployment(
                flow_id=flow_id, name="database-url-rule", enforce_parameter_schema=True,
                parameter_openapi_schema=parameter_schema(sync_contract.fn).model_dump_for_openapi())
            outcome = {}
            for url in [*WITH_PASSWORD, WITHOUT[0]]:
                try:
                    run = await api.create_flow_run_from_deployment(
                        deployment, parameters={"contract_id": "5", "database_url": url, "credentials": {
                            "$ref": {"block_document_id": "00000000-0000-0000-0000-000000000000"}}})
                    outcome[url] = (await api.read_flow_run(run.id)).parameters["database_url"]
                except Exception as error:  # the server's 409: the parameters do not match the schema
                    outcome[url] = f"refused: {type(error).__name__}"
            return outcome

    outcome = asyncio.run(try_runs())
    assert all(outcome[url].startswith("refused") for url in WITH_PASSWORD), outcome
    assert outcome[WITHOUT[0]] == WITHOUT[0]


def test_the_migrate_command_shows_no_part_of_a_password_with_an_at_sign():
    done = subprocess.run(
        [sys.executable, "-m", "flows.migrate", "current", "postgresql+psycopg://etl:Sx7@tail99@127.0.0.1:1/db"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("error: "), done.stderr
    assert "Sx7" not in done.stderr and "tail99" not in done.stderr, done.stderr
