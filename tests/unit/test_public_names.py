"""Every public name DESIGN.md promises (tests outside this repository rely on them) is where it says,
with the parameters it says: the Block, the tasks, the flows, the tables, the settings, the review's input,
the events, the deployments and the commands."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import yaml

from tests.support.paths import ROOT


def parameters(function) -> list[str]:
    return list(inspect.signature(getattr(function, "fn", function)).parameters)


def test_the_block_and_its_fields():
    from blocks import SpotDraftCredentials

    fields = SpotDraftCredentials.model_fields
    assert {"client_id", "client_secret", "region", "user_email", "base_url"} <= set(fields)
    assert fields["region"].default == "US" and fields["user_email"].default is None
    assert callable(SpotDraftCredentials.get_client)


@pytest.mark.parametrize("name, first", [
    ("list_contracts", ["credentials", "page", "limit"]),
    ("get_contract_status", ["credentials", "composite_id"]),
    ("create_contract", ["credentials", "body"]),
    ("get_contracts_by_external_metadata", ["credentials", "external_metadata_id"]),
    ("get_contract_key_pointers", ["credentials", "composite_id"]),
    ("list_templates", ["credentials"]),
    ("list_counterparties", ["credentials"]),
])
def test_the_named_tasks(name, first):
    import tasks

    assert parameters(getattr(tasks, name))[:len(first)] == first


def test_every_operation_is_a_task_taking_credentials_first():
    import tasks
    from client import OPERATIONS

    assert len(OPERATIONS) == 114
    for operation in OPERATIONS:
        assert parameters(getattr(tasks, operation.name))[0] == "credentials", operation.name


@pytest.mark.parametrize("flow, expected", [
    ("sync_contracts", ["credentials", "database_url", "full_refresh"]),
    ("create_contracts", ["credentials", "template_id", "records", "records_file", "database_url"]),
    ("review_failed_operations", ["credentials", "database_url"]),
    ("sync_contract", ["credentials", "contract_id", "database_url"]),
    ("register_webhook", ["credentials", "url", "activities"]),
    ("unregister_webhook", ["credentials", "webhook_id"]),
    ("sync_analytics", ["credentials", "database_url", "tables", "user_scoped"]),
    ("archive_contracts", ["credentials", "storage", "database_url", "statuses", "format", "path_template"]),
])
def test_the_flows(flow, expected):
    import flows

    assert [p for p in parameters(getattr(flows, flow)) if p in expected] == expected


def test_the_tables_and_their_keys():
    from store import metadata

    tables = metadata.tables
    assert {"contracts", "counterparties", "templates", "created_contracts", "dead_letters",
            "archived_documents"} <= set(tables)
    assert {"analytics_contracts", "analytics_users", "analytics_snapshots"} <= set(tables)
    assert [c.name for c in tables["contracts"].primary_key] == ["id"]
    assert {"contract_id", "version_id", "path", "bytes", "sha256", "archived_at"} <= set(
        tables["archived_documents"].c.keys())
    assert {"operation", "status"} <= set(tables["dead_letters"].c.keys())


def test_the_settings_read_from_the_environment(monkeypatch):
    from client import RateLimitSettings, RetrySettings

    for name, value in (("SPOTDRAFT_RETRY_MAX_ATTEMPTS", "7"), ("SPOTDRAFT_RETRY_BASE_DELAY", "0.5"),
                        ("SPOTDRAFT_RETRY_MAX_DELAY", "9"), ("SPOTDRAFT_RETRY_WINDOW", "33"),
                        ("SPOTDRAFT_RATE_LIMIT", "12")):
        monkeypatch.setenv(name, value)
    retry = RetrySettings()
    assert (retry.max_attempts, retry.base_delay, retry.max_delay, retry.window) == (7, 0.5, 9, 33)
    assert RateLimitSettings().rate_limit == 12


def test_the_review_input():
    from flows.review import Action, Decision, ReviewDecisions

    assert {"reviewer", "decisions"} <= set(ReviewDecisions.model_fields)
    assert {"dead_letter_id", "action", "payload", "note"} <= set(Decision.model_fields)
    assert {a.value for a in Action} == {"leave", "retry", "retry_with_edits", "discard"}


def test_the_events():
    from datetime import UTC, datetime

    from webhooks.delivery import Delivery

    delivery = Delivery.from_body(b'{"contract_id": 42, "activity": "CONTRACT_EXECUTED"}')
    assert delivery.event_name == "spotdraft.contract.executed"
    event = delivery.to_event(datetime.now(UTC))
    assert event.resource.id == "spotdraft.contract.42" and event.resource["spotdraft.contract.id"] == "42"


def test_the_deployments():
    config = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text(encoding="utf-8"))
    names = {(d["entrypoint"].split(":")[1], d["name"]) for d in config["deployments"]}
    flow_names = {"sync_contracts": "sync-contracts", "create_contracts": "create-contracts",
                  "sync_contract": "sync-contract", "review_failed_operations": "review-failed-operations",
                  "sync_analytics": "sync-analytics", "archive_contracts": "archive-contracts"}
    found = {f"{flow_names[f]}/{d}" for f, d in names if f in flow_names}
    assert {"sync-contracts/sync-contracts-hourly", "create-contracts/create-contracts",
            "sync-contract/sync-contract-on-change", "review-failed-operations/review-failed-operations",
            "sync-analytics/sync-analytics-daily",
            "archive-contracts/archive-contracts-daily", "archive-contracts/archive-contract-on-execution"} <= found


@pytest.mark.parametrize("module", ["flows.migrate", "webhooks", "webhooks.sync_worker", "sandbox"])
def test_the_commands(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "usage" in done.stdout.lower(), done.stderr
