"""Which letters a review claims: a second review offers only what the paused one does not, a review that
ended frees its letters, a live review keeps them past the claims' expiry, and a run that failed without
a letter gets one from its review.

Real sandbox over loopback HTTP, real Prefect (the test harness), real SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from prefect.flow_runs import resume_flow_run

from flows import create_contracts, review_failed_operations
from store import dead_letters, engine_for, utcnow
from tests.support.review import good_record, resume_with, start_review, wait_until_paused
from tests.support.rows import letters_by_target, rows

pytestmark = pytest.mark.usefixtures("prefect_api")


def letter_for(sandbox, credentials, database_url: str, external_id: str) -> dict:
    """A create run whose one record is refused before any request (its contact has no email): its dead letter."""
    record = good_record(external_id)
    del record["counter_party_details"][0]["poc_details"]["email"]
    create_contracts(credentials, next(iter(sandbox.state.templates)), records=[record], database_url=database_url)
    return letters_by_target(database_url)[external_id]


def paused_review(credentials, database_url: str):
    """A review started in a thread, once it has paused for decisions: (its thread, its run)."""
    thread, _ = start_review(credentials, database_url)
    return thread, wait_until_paused()


# -- one review per letter at a time; a failure while a review waits gets its own ---------------------

def test_a_second_review_offers_only_what_the_paused_one_does_not(sandbox, credentials, database_url):
    first = letter_for(sandbox, credentials, database_url, "lr-first")
    thread_a, paused_a = paused_review(credentials, database_url)
    assert letters_by_target(database_url)["lr-first"]["claimed_by"] == str(paused_a.id)

    second = letter_for(sandbox, credentials, database_url, "lr-second")
    thread_b, out_b = start_review(credentials, database_url)
    paused_b = wait_until_paused(other_than={paused_a.id})  # fails the test if the second review never pauses
    assert letters_by_target(database_url)["lr-second"]["claimed_by"] == str(paused_b.id)
    assert letters_by_target(database_url)["lr-first"]["claimed_by"] == str(paused_a.id)

    # B is told to discard A's letter: refused. A discards it; B discards its own.
    resume_flow_run(paused_b.id, run_input={"reviewer": "b", "decisions": [
        {"dead_letter_id": first["id"], "action": "discard"},
        {"dead_letter_id": second["id"], "action": "discard"},
    ]})
    thread_b.join(timeout=120)
    assert "1 refused" in out_b[0].message
    assert letters_by_target(database_url)["lr-first"]["status"] == "pending"
    resume_flow_run(paused_a.id, run_input={"reviewer": "a", "decisions": [
        {"dead_letter_id": first["id"], "action": "discard"}]})
    thread_a.join(timeout=120)
    after = letters_by_target(database_url)
    assert after["lr-first"]["status"] == "discarded" and after["lr-first"]["decided_by"] == "a"
    assert after["lr-second"]["decided_by"] == "b"


def test_a_review_that_ended_frees_its_letters_for_the_next(sandbox, credentials, database_url):
    letter_for(sandbox, credentials, database_url, "lr-free")
    review_failed_operations(credentials, database_url=database_url, timeout_minutes=0.02, poll_seconds=1)
    assert letters_by_target(database_url)["lr-free"]["claimed_by"] is None
    # A stale claim of a run that no longer runs (crashed while paused) does not hold the letter either.
    with engine_for(database_url).begin() as conn:
        conn.execute(dead_letters.update().values(claimed_by=str(uuid.uuid4()),
                                                  claimed_until=utcnow() + timedelta(days=1)))
    thread, paused = paused_review(credentials, database_url)
    assert letters_by_target(database_url)["lr-free"]["claimed_by"] == str(paused.id)
    resume_flow_run(paused.id, run_input={"reviewer": "ops", "decisions": []})
    thread.join(timeout=120)


def test_a_run_that_failed_without_a_letter_gets_one_from_its_review(sandbox, credentials, database_url, tmp_path):
    missing = str(tmp_path / "no-such-file.csv")
    failed = create_contracts(credentials, 1, records_file=missing, database_url=database_url, return_state=True)
    assert failed.is_failed()
    run_id = str(failed.state_details.flow_run_id)
    assert rows(database_url, dead_letters) == []

    thread, _ = start_review(credentials, database_url, triggered_by=run_id)
    wait_until_paused()
    [letter] = rows(database_url, dead_letters)
    assert letter["operation"] == "flow_run" and letter["flow_run_id"] == run_id
    assert "no-such-file" in letter["error_message"]
    resume_with([{"dead_letter_id": letter["id"], "action": "retry"}])
    thread.join(timeout=120)
    # Not started from a deployment: the retry says so and the letter stays pending, never lost.
    after = rows(database_url, dead_letters)[0]
    assert after["status"] == "pending" and "deployment" in after["error_message"]


def test_a_live_review_keeps_its_letters_even_past_the_claims_expiry(sandbox, credentials, database_url):
    letter_for(sandbox, credentials, database_url, "lr-held")
    thread, paused = paused_review(credentials, database_url)
    with engine_for(database_url).begin() as conn:  # its claim's expiry passes while it still waits
        conn.execute(dead_letters.update().values(claimed_until=utcnow() - timedelta(minutes=1)))
    other = review_failed_operations(credentials, database_url=database_url, return_state=True)
    assert other.message == "nothing to review"
    assert letters_by_target(database_url)["lr-held"]["claimed_by"] == str(paused.id)
    resume_flow_run(paused.id, run_input={"reviewer": "ops", "decisions": []})
    thread.join(timeout=120)
