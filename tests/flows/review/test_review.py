"""review_failed_operations: paused for real, resumed through the Prefect API the way the UI's form does."""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.flow_runs import resume_flow_run

from flows import create_contracts, review_failed_operations
from store import created_contracts, dead_letters, engine_for
from tests.support.review import good_record, start_review, wait_until_paused

pytestmark = pytest.mark.usefixtures("prefect_api")


def letters(database_url: str) -> dict[str, sa.Row]:
    with engine_for(database_url).connect() as conn:
        return {r.target: r for r in conn.execute(sa.select(dead_letters))}


def run_input_schema(flow_run_id) -> dict:
    async def read():
        async with get_client() as api:
            run = (await api.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))))[0]
            keyset = run.state.state_details.run_input_keyset
            return json.loads(await api.read_flow_run_input(flow_run_id, keyset["schema"]))

    return asyncio.run(read())


@pytest.fixture
def two_dead_letters(sandbox, credentials, database_url):
    template = next(iter(sandbox.state.templates))
    bad = good_record("rev-bad")
    del bad["counter_party_details"][0]["poc_details"]["email"]
    create_contracts(credentials, template, records=[bad], database_url=database_url)
    create_contracts(credentials, 99999, records=[good_record("rev-api")], database_url=database_url)
    found = letters(database_url)
    assert set(found) == {"rev-bad", "rev-api"}
    return template, found


def test_a_persons_decisions_are_carried_out_and_recorded(sandbox, credentials, database_url, two_dead_letters):
    template, found = two_dead_letters
    thread, out = start_review(credentials, database_url, triggered_by="some-run")
    paused = wait_until_paused()
    schema = run_input_schema(paused.id)
    assert {"reviewer", "decisions"} <= set(schema["properties"])  # the form behind the Resume button

    fixed = good_record("rev-bad")
    resume_flow_run(paused.id, run_input={
        "reviewer": "ops@example.com",
        "decisions": [
            {"dead_letter_id": found["rev-bad"].id, "action": "retry_with_edits", "payload": fixed},
            {"dead_letter_id": found["rev-api"].id, "action": "discard", "note": "created by the first run"},
        ],
    })
    thread.join(timeout=120)
    state = out[0]
    assert state.is_completed() and "1 replayed, 1 discarded" in state.message

    after = letters(database_url)
    assert after["rev-bad"].status == "replayed" and after["rev-bad"].decided_by == "ops@example.com"
    assert after["rev-bad"].outcome["edited"] is True
    assert after["rev-api"].status == "discarded" and after["rev-api"].outcome["note"] == "created by the first run"
    contracts_now = credentials.get_client().call(
        "get_contracts_by_external_metadata", path_params={"external_metadata_id": "rev-bad"}
    )
    assert len(contracts_now) == 1
    with engine_for(database_url).connect() as conn:
        row = conn.execute(sa.select(created_contracts).where(created_contracts.c.external_id == "rev-bad")).one()
    assert row.template_id == template


def test_a_retry_that_fails_again_goes_back_to_pending_with_the_new_error(sandbox, credentials, database_url,
                                                                           two_dead_letters):
    _, found = two_dead_letters
    thread, out = start_review(credentials, database_url)
    paused = wait_until_paused()
    still_bad = good_record("rev-bad")
    still_bad["counter_party_details"][0]["poc_details"] = {"first_name": "A"}
    posts_before = len(sandbox.request_log("POST"))
    resume_flow_run(paused.id, run_input={"reviewer": "ops", "decisions": [
        {"dead_letter_id": found["rev-bad"].id, "action": "retry_with_edits", "payload": still_bad},
        {"dead_letter_id": found["rev-api"].id, "action": "retry"},  # template 99999 still does not exist
    ]})
    thread.join(timeout=120)
    assert "2 failed again" in out[0].message
    after = letters(database_url)
    assert after["rev-bad"].status == "pending" and "poc_details.email" in after["rev-bad"].error_message
    assert after["rev-api"].status == "pending" and after["rev-api"].error_class == "BadRequestError"
    assert len(sandbox.request_log("POST")) == posts_before + 1  # the invalid edit never reached the wire


def test_stale_letters_and_bodies_without_external_id_are_not_replayed(sandbox, credentials, database_url,
                                                                        two_dead_letters):
    _, found = two_dead_letters
    thread, out = start_review(credentials, database_url)
    paused = wait_until_paused()
    with engine_for(database_url).begin() as conn:  # resolved by someone else while the review waited
        conn.execute(dead_letters.update().where(dead_letters.c.id == found["rev-bad"].id).values(status="discarded"))
    body_without_id = {"contract_template_id": 100, "contract_data": {}, "counter_party_details": []}
    posts_before = len(sandbox.request_log("POST"))
    resume_flow_run(paused.id, run_input={"reviewer": "ops", "decisions": [
        {"dead_letter_id": found["rev-bad"].id, "action": "retry"},
        {"dead_letter_id": found["rev-api"].id, "action": "retry_with_edits", "payload": body_without_id},
        {"dead_letter_id": found["rev-api"].id, "action": "discard"},  # listed twice: the first decision stands
    ]})
    thread.join(timeout=120)
    assert "1 no longer pending" in out[0].message and "1 failed again" in out[0].message
    after = letters(database_url)
    assert after["rev-bad"].status == "discarded" and after["rev-api"].status == "pending"
    assert "external_metadata.id" in after["rev-api"].error_message
    assert len(sandbox.request_log("POST")) == posts_before


def test_a_retry_with_an_edited_template_records_the_template_sent(sandbox, credentials, database_url,
                                                                   two_dead_letters):
    template, found = two_dead_letters
    body = dict(found["rev-api"].inputs["body"])
    assert body["contract_template_id"] == 99999  # the template that does not exist
    thread, out = start_review(credentials, database_url)
    resume_flow_run(wait_until_paused().id, run_input={"reviewer": "ops", "decisions": [
        {"dead_letter_id": found["rev-api"].id, "action": "retry_with_edits",
         "payload": {**body, "contract_template_id": template}},
    ]})
    thread.join(timeout=120)
    assert letters(database_url)["rev-api"].status == "replayed", out[0].message
    with engine_for(database_url).connect() as conn:
        row = conn.execute(sa.select(created_contracts).where(created_contracts.c.external_id == "rev-api")).one()
    assert row.template_id == template


def test_no_answer_in_time_leaves_everything_pending(credentials, database_url, two_dead_letters):
    thread, out = start_review(credentials, database_url, timeout_minutes=0.05)
    thread.join(timeout=120)
    assert out[0].is_completed() and "left pending" in out[0].message
    assert {r.status for r in letters(database_url).values()} == {"pending"}


def test_nothing_pending_means_no_pause(credentials, database_url):
    state = review_failed_operations(credentials, database_url=database_url, return_state=True)
    assert state.is_completed() and state.message == "nothing to review"


def test_a_replayed_send_is_recorded_so_the_create_flow_does_not_send_again(sandbox, credentials, database_url):
    template = next(iter(sandbox.state.templates))
    sandbox.script("POST", r"/send_to_counterparties$", 402, times=1, body={"detail": "not ready yet"})
    create_contracts(credentials, template, records=[good_record("rev-send")], database_url=database_url,
                     send_to_counterparties=True)
    [letter] = letters(database_url).values()
    assert letter.operation == "send_contract_to_counterparties"

    thread, out = start_review(credentials, database_url)
    resume_flow_run(wait_until_paused().id, run_input={
        "reviewer": "ops@example.com", "decisions": [{"dead_letter_id": letter.id, "action": "retry"}],
    })
    thread.join(timeout=120)
    assert out[0].is_completed() and letters(database_url)[letter.target].status == "replayed"
    with engine_for(database_url).connect() as conn:
        assert conn.execute(sa.select(created_contracts.c.sent_at)).scalar_one() is not None

    create_contracts(credentials, template, records=[good_record("rev-send")], database_url=database_url,
                     send_to_counterparties=True)
    assert len([r for r in sandbox.request_log("POST") if r.path.endswith("/send_to_counterparties")]) == 2


def test_a_send_that_landed_despite_its_error_is_not_sent_again_by_the_review(sandbox, credentials, database_url):
    template = next(iter(sandbox.state.templates))
    sandbox.script("POST", r"/send_to_counterparties$", "ambiguous", times=1)  # it went out, then 504
    create_contracts(credentials, template, records=[good_record("rev-landed")], database_url=database_url,
                     send_to_counterparties=True)
    [letter] = letters(database_url).values()

    thread, out = start_review(credentials, database_url)
    resume_flow_run(wait_until_paused().id, run_input={
        "reviewer": "ops@example.com", "decisions": [{"dead_letter_id": letter.id, "action": "retry"}],
    })
    thread.join(timeout=120)

    assert out[0].is_completed()
    after = letters(database_url)[letter.target]
    assert after.status == "replayed" and after.outcome["result"]["sent"] is False
    assert len([r for r in sandbox.request_log("POST") if r.path.endswith("/send_to_counterparties")]) == 1
    with engine_for(database_url).connect() as conn:
        assert conn.execute(sa.select(created_contracts.c.sent_at)).scalar_one() is not None
