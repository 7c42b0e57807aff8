"""Every task, called once over real HTTP: a Prefect flow run against the sandbox on loopback.

One flow run calls each of the catalog's tasks once, with arguments synthesized from the catalog
and the request models (path parameters from the sandbox's seeded data where it keeps state, valid
placeholders otherwise), and records what the sandbox saw during each call. Each task then gets
its own test: it answered without error, and the sandbox saw exactly one request, with the
documented method and the documented path (trailing slash included).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

import tasks
from client.catalog import OPERATIONS, OPERATIONS_BY_NAME
from client.http import SpotDraftClient
from client.operation import Operation
from tests.support.task_inputs import model_body, path_value

PDF = b"%PDF-1.4\n% all-tasks test\n%%EOF\n"
UPLOAD_FIELDS = {"file_name", "file_content", "file_base64", "document_name", "document_base_64"}


def _field(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, dict) else getattr(record, name)


def arguments(op: Operation, seeds: dict[str, Any], downloads: Path) -> dict[str, Any]:
    fn = getattr(tasks, op.name).fn
    params = inspect.signature(fn).parameters
    args: dict[str, Any] = {}
    for p in op.params:
        if p.location == "path":
            args[p.name] = path_value(p, seeds)
        elif p.required:
            args[p.name] = {"recipient_email": seeds["user_email"], "contract_type_id": seeds["contract_type_id"],
                            "questionnaire_type": "INTAKE"}.get(p.name, "sample")
    if "body" in params and op.body_model is not None:
        body = model_body(op.body_model)
        if isinstance(body, dict) and "file" in params:
            body = {k: v for k, v in body.items() if k not in UPLOAD_FIELDS}
        if op.name == "create_contract":
            body["contract_template_id"] = seeds["template_id"]
            body["external_metadata"] = {"id": "all-tasks-created", "integration_name": "tests"}
        if op.name == "run_analytics_query":  # the sandbox runs it for real: a query, not a sample string
            body["query"] = "SELECT COUNT(*) AS n FROM contracts"
        args["body"] = body
    if "file" in params:
        args["file"], args["file_name"] = PDF, "sample.pdf"
    if "destination" in params:
        args["destination"] = str(downloads / f"{op.name}.bin")
    return args


# ------------------------------------------------------------------------------ one flow, every task
@pytest.fixture(scope="module")
def outcomes(prefect_api, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Each task's outcome (value or error) and the requests the sandbox saw while it ran."""
    from prefect import flow

    from blocks import SpotDraftCredentials
    from sandbox import Sandbox

    downloads = tmp_path_factory.mktemp("downloads")
    with Sandbox(contracts=20, seed=1) as sb:
        with SpotDraftClient(sb.client_id, sb.client_secret, base_url=sb.base_url) as c:
            contract = c.call("list_contracts", query={"page": 1, "limit": 1})["results"][0]
            templates = c.call("list_templates")["items"]
            counterparty = c.call("list_counterparties", query={"page": 1, "limit": 1})["results"][0]
            types_ = c.call("list_contract_types")
            # A workspace file exists only once its bytes are at the signed URL (the sandbox's store).
            [slot] = c.call("start_workspace_file_uploads",
                            body={"files": [{"filename": "seed.pdf", "content_type": "application/pdf"}]})["files"]
            c.upload_to_signed_url(slot["upload_url"], PDF, content_type="application/pdf")
        types_ = types_ if isinstance(types_, list) else types_.get("results") or types_.get("items")
        seeds = {
            "composite_id": contract["id"],
            "contract_id": int(str(contract["id"]).split("-")[-1]),
            "template_id": templates[0]["id"],
            "counterparty_id": counterparty["id"],
            "contract_type_id": types_[0]["id"],
            "user_email": sb.users[0],
            "file_id": slot["file_id"],
        }
        plan = {op.name: arguments(op, seeds, downloads) for op in OPERATIONS}
        credentials = SpotDraftCredentials(client_id=sb.client_id, client_secret=sb.client_secret,
                                           base_url=sb.base_url)
        seen: dict[str, dict[str, Any]] = {}

        @flow(name="call-every-spotdraft-task")
        def call_every_task() -> None:
            for op in OPERATIONS:
                before = len(sb.request_log())
                try:
                    # Without its tags: on the harness's SQLite server, acquiring a task's tag
                    # concurrency slots meets a busy database now and then, and Prefect's client waits
                    # 2 s before asking again (a third of this module's time). The tags are
                    # tests/unit/tasks/test_tasks_prefect.py's to check; here it is the route.
                    task = getattr(tasks, op.name).with_options(tags=[])
                    value, error = task(credentials, **plan[op.name]), None
                except Exception as exc:  # recorded; the per-task test reports it
                    value, error = None, exc
                seen[op.name] = {"value": value, "error": error, "requests": sb.request_log()[before:],
                                 "arguments": plan[op.name]}

        call_every_task()
    return seen


@pytest.mark.parametrize("name", sorted(OPERATIONS_BY_NAME))
def test_task_reaches_its_documented_route(outcomes, name):
    op = OPERATIONS_BY_NAME[name]
    outcome = outcomes[name]
    assert outcome["error"] is None, f"{name} failed: {outcome['error']!r}"
    seen = [(_field(r, "method"), _field(r, "route") or _field(r, "path")) for r in outcome["requests"]]
    expected = [(op.method, op.path)]
    if name == "create_contract":  # every create looks its external id up first (client.writes)
        expected.insert(0, ("GET", OPERATIONS_BY_NAME["get_contracts_by_external_metadata"].path))
    assert seen == expected, f"{name}: the sandbox saw {seen}"
    status = _field(outcome["requests"][-1], "status")
    assert isinstance(status, int) and 200 <= status < 300, f"{name}: answered {status}"


def test_every_task_was_called(outcomes):
    assert set(outcomes) == set(OPERATIONS_BY_NAME)


def test_answers_have_the_expected_shape(outcomes):
    assert "results" in outcomes["list_contracts"]["value"]
    assert outcomes["get_contract_status"]["value"]["contract_status"]
    created = outcomes["create_contract"]["value"]
    assert created["external_metadata"]["id"] == "all-tasks-created"
    hmac_key = outcomes["get_webhook_hmac_key"]["value"]["hmac_key"]
    assert isinstance(hmac_key, SecretStr) and hmac_key.get_secret_value()


def test_downloads_were_streamed_to_disk(outcomes):
    for op in OPERATIONS:
        if op.response_kind != "binary":
            continue
        result = outcomes[op.name]["value"]
        path = Path(result["path"])
        assert path == Path(outcomes[op.name]["arguments"]["destination"])
        assert path.stat().st_size == result["bytes"] > 0
        assert result["content_type"]
