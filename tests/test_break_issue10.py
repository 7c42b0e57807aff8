"""Trying to break issue 10: the Prefect UI as the operator's console.

Real sandbox over loopback HTTP, real Prefect (the in-process test harness: a real API server), real
SQLite. Reviews are paused for real and resumed through `prefect.flow_runs.resume_flow_run`, which is
what the UI's Resume form calls: the server checks the run input against the form's JSON schema, then
the flow validates it against the RunInput model.

Failing on purpose, each a defect found (the rest holds and stays as coverage). Brought by issue 10:
- test_a_payload_that_is_json_but_not_an_object_fails_only_its_own_decision: the Resume form's "Corrected
  inputs" (JsonObject, schema `{}`) lets the server accept any JSON, e.g. `"T-123"` (its description says
  "or composite_id, as JSON"); the flow's model then refuses it and the whole review run fails: every
  decision of that submission is lost, and a failed review starts nothing. (Before, `dict | None` drew an
  object-or-null schema and the server refused it, the run still paused.)
- test_a_script_may_leave_a_note_null_as_the_pause_input_allows and
  test_records_file_null_through_the_api_is_accepted_as_the_flow_signature_documents: OptionalText's
  schema is `{"type": "string"}`, so the server refuses the null that the Python type (`str | None`),
  the README (`records_file=None`) and DESIGN's pause input allow, and that the schema allowed before.
- test_a_failed_run_retried_after_the_credentials_document_was_recreated_and_redeployed_can_run:
  `_replay_flow_run` restarts the deployment with the failed run's own parameters, whose credentials
  `$ref` holds the deleted document's id: redeploying, as the README says, does not help (a reference by
  slug survived this).
- test_a_run_name_never_carries_a_lone_surrogate and
  test_a_task_run_named_after_a_lone_surrogate_id_does_not_stay_pending_on_the_server: the name keeps a
  lone surrogate of an id; Prefect cannot serialise the task run's state events ("Error emitting event"),
  and the server shows the task run Pending for ever, under its random default name.
- test_a_run_name_never_shows_the_client_secret_of_its_own_credentials: a path id equal to the client
  secret of the credentials given to the same task is shown when no client was built on it yet in the
  process (the name is made before the task body builds one, which registers the secret).
- test_reason_never_raises_for_a_storable_letter (latent): `reason()` recurses once per level of the body
  (RecursionError from ~450 levels of dicts) and assumes `context` is a dict; `_table` and `_about` call it
  for every claimed letter outside any try, so one such letter fails every review that claims it, oldest
  first. No writer produces one today (the client's own parse gives up near 490 levels; `describe()` writes
  a dict or NULL), so this guards the review against the next writer.
Older than issue 10, found while attacking it:
- test_a_send_letter_retried_with_a_number_for_its_composite_id_fails_only_that_decision: `_replay_send`
  calls `.split` on the person's `composite_id`; the AttributeError escapes the review's except, the run
  fails midway and the decisions after it are never carried out.
- test_a_blank_reviewer_is_not_recorded_as_unknown: the prefilled `reviewer=""` makes the field optional
  in the form's schema; a decision is carried out and recorded as decided by "unknown".
- test_a_record_refused_as_a_repeated_external_id_stays_pending and
  test_records_without_external_id_from_two_runs_are_two_dead_letters: the run ends "Dead-lettered" with
  "1 dead-lettered", but the refused record's letter is closed as "replayed" by the first record's success
  (same target), or overwritten by another run's letter for the same "record 0" target: the record is lost
  and the review finds nothing (or only the later one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterId
from prefect.flow_runs import resume_flow_run

import tasks
from blocks import SpotDraftCredentials
from flows import create_contracts, review_failed_operations
from flows.dead_letters import reason
from flows.store import dead_letters, engine_for
from tests.support.records import record

pytestmark = pytest.mark.usefixtures("prefect_api")

ROOT = Path(__file__).resolve().parents[1]  # the repository
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'spotdraft.db'}"


def template_id(sandbox) -> int:
    return next(iter(sandbox.state.templates))


def letters(database_url: str) -> list[dict]:
    with engine_for(database_url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(dead_letters).order_by(dead_letters.c.id))]


def two_refused_letters(credentials, db: str, prefix: str) -> list[int]:
    """Two create letters SpotDraft refused (400: no such template)."""
    create_contracts(credentials, 99999, records=[record(f"{prefix}-1"), record(f"{prefix}-2")], database_url=db)
    found = letters(db)
    assert [r["status"] for r in found] == ["pending", "pending"]
    return [r["id"] for r in found]


# -- a review paused for real -------------------------------------------------------------------------------
def _paused_run_ids() -> set:
    async def read():
        async with get_client() as api:
            runs = await api.read_flow_runs(sort="START_TIME_DESC", limit=50)
            return {r.id for r in runs if r.state and r.state.is_paused()}

    return asyncio.run(read())


@contextlib.contextmanager
def paused_review(credentials, db: str, timeout_minutes: float = 1.0):
    """A review run waiting in its pause; resumed with no decision on the way out if a test left it waiting."""
    known = _paused_run_ids()
    out: list = []
    thread = threading.Thread(target=lambda: out.append(review_failed_operations(
        credentials, database_url=db, poll_seconds=1, timeout_minutes=timeout_minutes, return_state=True)),
        daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not (fresh := _paused_run_ids() - known):
        assert thread.is_alive() or not out, f"the review ended without pausing: {out and out[0]}"
        assert time.monotonic() < deadline, "the review never paused"
        time.sleep(0.3)
    review = SimpleNamespace(id=next(iter(fresh)), out=out, thread=thread)
    try:
        yield review
    finally:
        if thread.is_alive():
            with contextlib.suppress(Exception):
                resume_flow_run(review.id, run_input={"reviewer": "cleanup", "decisions": []})
            thread.join(60)


def ended(review):
    review.thread.join(90)
    assert review.out, "the review did not end"
    return review.out[0]


# == 5. the review's Resume form, through the real resume path ================================================
def test_a_payload_that_is_json_but_not_an_object_fails_only_its_own_decision(sandbox, credentials, db):
    first, second = two_refused_letters(credentials, db, "b10-json")
    with paused_review(credentials, db) as review:
        # The form's editor takes any JSON, and its description says "or composite_id, as JSON".
        resume_flow_run(review.id, run_input={"reviewer": "ops@example.com", "decisions": [
            {"dead_letter_id": first, "action": "retry_with_edits", "payload": "T-123"},
            {"dead_letter_id": second, "action": "discard", "note": "a duplicate"},
        ]})
        state = ended(review)
    after = {r["id"]: r for r in letters(db)}
    assert not state.is_failed(), f"one payload failed the whole review: {state.message}"
    assert after[second]["status"] == "discarded" and after[second]["decided_by"] == "ops@example.com"
    assert after[first]["status"] == "pending"


def test_a_send_letter_retried_with_a_number_for_its_composite_id_fails_only_that_decision(sandbox, credentials, db):
    sandbox.script("POST", r"/send_to_counterparties$", 402, times=1, body={"detail": "not ready yet"})
    create_contracts(credentials, template_id(sandbox), records=[record("b10-send")], database_url=db,
                     send_to_counterparties=True)
    create_contracts(credentials, 99999, records=[record("b10-other")], database_url=db)
    by_op = {r["operation"]: r for r in letters(db)}
    send, other = by_op["send_contract_to_counterparties"], by_op["create_contract"]
    with paused_review(credentials, db) as review:
        resume_flow_run(review.id, run_input={"reviewer": "ops", "decisions": [
            {"dead_letter_id": send["id"], "action": "retry_with_edits", "payload": {"composite_id": 12345}},
            {"dead_letter_id": other["id"], "action": "discard"},
        ]})
        state = ended(review)
    after = {r["id"]: r for r in letters(db)}
    assert not state.is_failed(), f"one decision's payload failed the whole review: {state.message}"
    assert after[other["id"]]["status"] == "discarded"
    assert after[send["id"]]["status"] == "pending"


def test_a_script_may_leave_a_note_null_as_the_pause_input_allows(sandbox, credentials, db):
    """DESIGN's pause input is {dead_letter_id, action, payload, note}; Decision.note is `str | None`."""
    first, _ = two_refused_letters(credentials, db, "b10-note")
    refused = None
    with paused_review(credentials, db) as review:
        try:
            resume_flow_run(review.id, run_input={"reviewer": "ops", "decisions": [
                {"dead_letter_id": first, "action": "discard", "note": None}]})
        except RuntimeError as error:  # refused by the server: the run is still paused; finish it properly
            refused = error
            resume_flow_run(review.id, run_input={"reviewer": "ops", "decisions": [
                {"dead_letter_id": first, "action": "discard", "note": ""}]})
        ended(review)
    assert refused is None, f"a null note was refused: {refused}"
    assert {r["id"]: r for r in letters(db)}[first]["status"] == "discarded"


def test_a_blank_reviewer_is_not_recorded_as_unknown(sandbox, credentials, db):
    first, _ = two_refused_letters(credentials, db, "b10-who")
    with paused_review(credentials, db) as review:
        try:
            resume_flow_run(review.id, run_input={"reviewer": "", "decisions": [
                {"dead_letter_id": first, "action": "discard"}]})
        except RuntimeError:  # refused, the run still waits: say who you are this time
            resume_flow_run(review.id, run_input={"reviewer": "ops@example.com", "decisions": [
                {"dead_letter_id": first, "action": "discard"}]})
        ended(review)
    decided = [(r["status"], r["decided_by"]) for r in letters(db) if r["status"] != "pending"]
    assert all(who not in (None, "", "unknown") for _, who in decided), decided


def test_odd_but_valid_decisions_are_carried_out_once_each(sandbox, credentials, db):
    """Holds: `about` edited (ignored), note "", an extra field in a row, a letter listed twice (the first
    decision stands), a letter not offered (refused), retry_with_edits without a payload (a plain retry)."""
    first, second = two_refused_letters(credentials, db, "b10-odd")
    posts_before = len(sandbox.request_log("POST"))
    with paused_review(credentials, db) as review:
        resume_flow_run(review.id, run_input={"reviewer": "ops", "decisions": [
            {"dead_letter_id": first, "action": "discard", "about": "EDITED by the person", "note": "", "x": 1},
            {"dead_letter_id": first, "action": "retry"},
            {"dead_letter_id": 999999, "action": "discard"},
            {"dead_letter_id": second, "action": "retry_with_edits", "payload": None},
        ]})
        state = ended(review)
    assert state.is_completed(), state.message
    assert "1 discarded" in state.message and "1 failed again" in state.message and "1 refused" in state.message
    after = {r["id"]: r for r in letters(db)}
    assert after[first]["status"] == "discarded" and after[first]["outcome"] == {"note": None}
    assert after[second]["status"] == "pending" and after[second]["outcome"]["replay_failed"] is True
    assert len(sandbox.request_log("POST")) == posts_before + 1  # the retry sent once, the duplicate row nothing
    assert not [r for r in letters(db) if r["claimed_by"]]  # every claim released


# == 6. flow parameters drawn for the UI ===================================================================
def _create_contracts_deployment(api, name: str, parameters: dict):
    from prefect.utilities.callables import parameter_schema

    flow_id = api.create_flow_from_name("create-contracts")
    return api.create_deployment(
        flow_id=flow_id, name=name, parameters=parameters, enforce_parameter_schema=True,
        parameter_openapi_schema=parameter_schema(create_contracts).model_dump_for_openapi(),
    )


def test_records_file_null_through_the_api_is_refused_clearly_before_the_run_exists(sandbox, db):
    """`create_contracts(..., records_file=None)` is the Python signature. Through a deployment the form's
    schema draws it as a plain text box (default ""), so the server refuses an explicit null, with a clear
    message and before any run exists (the README says: leave it out); leaving it out is accepted."""
    name = f"b10-null-{uuid.uuid4().hex[:8]}"
    SpotDraftCredentials(client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                         base_url=sandbox.base_url).save(name)
    from blocks.deploy_steps import credentials_reference

    given = {"template_id": template_id(sandbox), "records": [record("b10-null")]}
    with get_client(sync_client=True) as api:
        deployment_id = _create_contracts_deployment(
            api, name, {"credentials": credentials_reference(name)["reference"], "database_url": db})
        try:
            with pytest.raises(Exception, match=r"records_file.*None is not of type 'string'"):
                api.create_flow_run_from_deployment(deployment_id, parameters={**given, "records_file": None})
            assert api.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(
                any_=[deployment_id]))) == []
            run = api.create_flow_run_from_deployment(deployment_id, parameters=given)
            api.delete_flow_run(run.id)
        finally:
            api.delete_deployment(deployment_id)


@pytest.mark.parametrize("given", [
    {"records": json.dumps([record("b10-str")])},  # the list pasted as a JSON string
    {"records": {"external_id": "b10-obj"}},  # one object, not a list
    {"records": [record("b10-ok"), "not an object"]},
    {"records": None, "records_file": ""},  # the untouched form
], ids=["json-string", "object", "non-object-item", "nothing"])
def test_bad_records_input_is_refused_before_any_request_with_a_clear_error(sandbox, credentials, db, given):
    """Holds: the run fails, naming the parameter, and SpotDraft is never called."""
    before = len(sandbox.request_log())
    state = create_contracts(credentials, template_id(sandbox), database_url=db, return_state=True, **given)
    assert state.is_failed()
    assert "records" in state.message, state.message
    assert len(sandbox.request_log()) == before


# == 1. the deployments' credentials, by id, looked up by name when deploying ================================
def test_the_deploy_step_refers_to_the_named_document_of_its_own_type_by_id_never_to_its_data(sandbox):
    """Holds: a clear refusal for a missing document; a Secret block of the same name is not taken for it;
    only the id is returned, never the secret; the reference resolves to the document."""
    from prefect.blocks.core import Block
    from prefect.blocks.system import Secret

    from blocks.deploy_steps import credentials_reference

    name = f"b10-deploy-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ValueError, match=rf"no SpotDraft Credentials document named '{name}'.*create it first"):
        credentials_reference(name)
    Secret(value="not-the-credentials").save(name)
    with pytest.raises(ValueError, match="create it first"):
        credentials_reference(name)

    canary = f"canary-Deploy-{uuid.uuid4().hex[:10]}"
    SpotDraftCredentials(client_id=sandbox.client_id, client_secret=canary, base_url=sandbox.base_url).save(name)
    reference = credentials_reference(name)
    assert canary not in json.dumps(reference)
    with get_client(sync_client=True) as api:
        document = api.read_block_document_by_name(name, "spotdraft-credentials", include_secrets=False)
    assert reference == {"reference": {"$ref": {"block_document_id": str(document.id)}}}
    loaded = Block.load_from_ref(reference["reference"]["$ref"], _sync=True)
    assert isinstance(loaded, SpotDraftCredentials) and loaded.client_secret.get_secret_value() == canary


def test_a_failed_run_retried_after_the_credentials_document_was_recreated_and_redeployed_can_run(sandbox, db):
    """The README: "A document deleted and created again needs `prefect deploy` again". Done; then a person
    retries, from the review, a run that failed before: the new run must be able to load its credentials."""
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.states import Failed

    from blocks.deploy_steps import credentials_reference
    from flows.review import _replay_flow_run

    name = f"b10-recreated-{uuid.uuid4().hex[:8]}"

    def save_document():
        SpotDraftCredentials(client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                             base_url=sandbox.base_url).save(name, overwrite=True)
        return {"credentials": credentials_reference(name)["reference"], "database_url": db}

    with get_client(sync_client=True) as api:
        deployment_id = _create_contracts_deployment(api, name, save_document())
        created = []
        try:
            failed = api.create_flow_run_from_deployment(deployment_id, parameters={
                "template_id": template_id(sandbox), "records": [record("b10-recreated")]})
            created.append(failed.id)
            api.set_flow_run_state(failed.id, Failed(message="the worker died"), force=True)

            old = api.read_block_document_by_name(name, "spotdraft-credentials", include_secrets=False)
            api.delete_block_document(old.id)
            api.update_deployment(deployment_id, DeploymentUpdate(parameters=save_document()))  # `prefect deploy`

            try:
                outcome = _replay_flow_run(None, db, {"flow_run_id": str(failed.id)}, None)
                again = api.read_flow_run(uuid.UUID(outcome["new_flow_run_id"]))
                created.append(again.id)
                # What the worker does first with a run's parameters: resolve the Block reference, validate.
                create_contracts.validate_parameters(again.parameters)
                problem = None
            except Exception as error:
                problem = f"{type(error).__name__}: {error}; {error.__cause__!r}"
        finally:
            for run_id in created:
                with contextlib.suppress(Exception):
                    api.delete_flow_run(run_id)
            api.delete_deployment(deployment_id)
    assert problem is None, f"the retried run cannot start: {problem}"


# == 3. task run names ==========================================================================================
def test_a_run_name_never_carries_a_lone_surrogate():
    name = tasks.get_contract_status.task_run_name(parameters={"composite_id": "T-1\ud800"})
    name.encode("utf-8")  # what Prefect has to do to send it


def test_a_task_run_named_after_a_lone_surrogate_id_does_not_stay_pending_on_the_server(sandbox, credentials):
    from tools.prefect_server import flush_prefect_workers

    @flow(name="b10-surrogate-id")
    def calls(creds: SpotDraftCredentials):
        return tasks.get_contract_status(creds, "T-1\ud800", return_state=True).type.value

    state = calls(credentials, return_state=True)
    assert state.result() == "FAILED"  # refused before sending, as it should be
    flush_prefect_workers()
    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    deadline = time.monotonic() + 10
    while True:
        with get_client(sync_client=True) as api:
            shown = [(r.name, r.state.type.value if r.state else None) for r in api.read_task_runs(
                flow_run_filter=run_filter)]
        if (shown and all(s in TERMINAL for _, s in shown)) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert shown and all(s in TERMINAL for _, s in shown), f"task run left on the server as {shown}"


def test_a_run_name_never_shows_the_client_secret_of_its_own_credentials(sandbox):
    canary = f"canary-Name-{uuid.uuid4().hex[:12]}"  # never registered: no client built on it yet
    creds = SpotDraftCredentials(client_id=sandbox.client_id, client_secret=canary, base_url=sandbox.base_url)
    name = tasks.get_contract_status.task_run_name(parameters={"credentials": creds, "composite_id": canary})
    assert canary not in name, name


class _Unprintable(str):
    def __str__(self):
        raise RuntimeError("no")

    def split(self, *args, **kwargs):
        raise RuntimeError("no")


@pytest.mark.parametrize("poison", [
    "x" * 5_000_000, "T-1\n2\r\n3\t4", 10 ** 5000, -7, 3.5, True, None, b"T-1", {"composite_id": "T-1"},
    ["T-1", "T-2"], ("T-1",), _Unprintable("T-1"), "   ", "\u00e9\u4e2d\U0001f600" * 30,
    "https://user:hunter2pass@db.example/x?sig=AbCdEf0123&X-Amz-Signature=deadbeef",
], ids=lambda p: type(p).__name__ if not isinstance(p, str) else f"str{len(p)}")
def test_a_run_name_is_always_one_short_line_and_never_fails(poison):
    """Holds: whatever the id, the namer returns the operation's name (plus at most one short id)."""
    for task_ in (tasks.get_contract_status, tasks.update_contract_note, tasks.list_contracts):
        params = {"composite_id": poison, "contract_id": poison, "note_id": poison, "page": poison}
        name = task_.task_run_name(parameters=params)
        assert isinstance(name, str) and name.startswith(task_.name)
        assert "\n" not in name and "\r" not in name and len(name) <= len(task_.name) + 3 * 52
        assert "hunter2pass" not in name and "AbCdEf0123" not in name and "deadbeef" not in name


# == 4. SpotDraft's reason, from the stored error body =========================================================
def _nested(depth: int, leaf: object = "bad") -> object:
    value = leaf
    for _ in range(depth):
        value = {"field": value}
    return value


@pytest.mark.parametrize("letter", [
    {"context": {"body": _nested(600)}, "error_message": "BadRequestError [ctx]"},
    {"context": {"body": [[_nested(150)] * 2] * 2}, "error_message": "BadRequestError [ctx]"},
    {"context": "a context stored as text", "error_message": "boom [ctx]"},
    {"context": ["a", "list"], "error_message": "boom [ctx]"},
], ids=["body-600-deep", "lists-of-deep-dicts", "context-text", "context-list"])
def test_reason_never_raises_for_a_storable_letter(letter):
    """Every claimed letter's reason is computed before the pause, outside any try (`_table`, `_about`):
    one letter whose reason raises fails the review, and every later review that claims it (oldest first)."""
    text = reason(letter)
    assert isinstance(text, str) and len(text) <= 300


@pytest.mark.parametrize("body, expected", [
    ({"contract_data": {"customer_name": ["This field is required."]}},
     "contract_data.customer_name: This field is required."),
    ({"detail": "Invalid pk \"9\"", "errors": [{"field": ["bad"]}, "x"]}, 'Invalid pk "9"'),
    ({1: "numeric key", "": "empty key"}, "1: numeric key"),
    ({"a": {}}, "boom"),
    ([[]], "boom"),
    ("", "boom"),
    (None, "boom"),
    ({f"k{i}": ["m" * 50] * 5 for i in range(20_000)}, "k0: "),
    ("x" * 100_000, "xxx"),
    ({"client-secret": "[redacted]"}, "client-secret: [redacted]"),
], ids=["field", "mixed", "keys", "empty-dict", "empty-lists", "empty-text", "none", "wide", "huge-text",
        "masked"])
def test_reason_reads_any_body_as_one_short_line(body, expected):
    """Holds: odd, empty, huge and wide bodies give one reason of at most 300 characters."""
    text = reason({"context": {"body": body}, "error_message": "boom [context]", "advice": "advice"})
    assert expected in text and len(text) <= 300


def test_a_review_offers_letters_whose_stored_bodies_are_odd(sandbox, credentials, db):
    """Holds: bodies SpotDraft can send (a list of lists of dicts, huge text, masked secrets, non-ASCII)
    make a pending table and a form, and the review waits for a person."""
    bodies = [[[{"a": [{"b": ["deep"]}]}]], "<html>" + "x" * 50_000, {"client-secret": "anything", "e": ["\u202e\x00"]}]
    for index, body in enumerate(bodies):
        sandbox.script("POST", r"/contracts/?$", 400, times=1, body=body)
        create_contracts(credentials, template_id(sandbox), records=[record(f"b10-body-{index}")], database_url=db)
    assert len(letters(db)) == len(bodies)
    with paused_review(credentials, db) as review:
        resume_flow_run(review.id, run_input={"reviewer": "ops", "decisions": []})
        state = ended(review)
    assert state.is_completed(), state.message
    assert sandbox.client_secret not in json.dumps([r["context"] for r in letters(db)], default=str)


# == 2. runs that dead-letter say so, and what they say is reviewable =============================================
def test_a_record_refused_as_a_repeated_external_id_stays_pending(sandbox, credentials, db):
    first, second = record("b10-dup"), record("b10-dup")
    second["contract_data"]["customer_name"] = "Another customer entirely"
    state = create_contracts(credentials, template_id(sandbox), records=[first, second], database_url=db,
                             return_state=True)
    assert state.name == "Dead-lettered" and "1 dead-lettered" in state.message
    [letter] = letters(db)
    assert letter["status"] == "pending", (
        f"the refused record was closed as {letter['status']!r} by {letter['decided_by']!r}: "
        "the run says 1 dead-lettered, the review finds nothing")


def test_records_without_external_id_from_two_runs_are_two_dead_letters(sandbox, credentials, db):
    one, two = record("x"), record("y")
    del one["external_id"], two["external_id"]
    one["contract_data"]["customer_name"], two["contract_data"]["customer_name"] = "FIRST", "SECOND"
    for records in ([one], [two]):
        state = create_contracts(credentials, template_id(sandbox), records=records, database_url=db,
                                 return_state=True)
        assert state.name == "Dead-lettered" and "1 dead-lettered" in state.message
    kept = [r["inputs"]["record"]["contract_data"]["customer_name"] for r in letters(db) if r["status"] == "pending"]
    assert sorted(kept) == ["FIRST", "SECOND"], f"pending letters keep only {kept}"


# == 7. the project installed editable into .venv ===============================================================
def test_the_packages_import_and_the_block_registers_from_another_directory(tmp_path):
    """Holds: with .venv's python, from a directory that is not the repository and without PYTHONPATH."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    done = subprocess.run([sys.executable, "-c", "import flows.sync, flows.review, blocks, tasks, client; "
                           "print(flows.sync.__file__)"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(done.stdout.strip()).resolve() == ROOT / "flows" / "sync.py"
    done = subprocess.run([sys.executable, "-m", "prefect", "block", "register", "-m", "blocks"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
