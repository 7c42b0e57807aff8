"""The review as an operator answers it from the Prefect UI: paused for real and resumed through
`prefect.flow_runs.resume_flow_run`, which is what the UI's Resume form calls (the server checks the run
input against the form's JSON schema, then the flow validates it against the RunInput model); odd but
valid decisions, and letters whose stored bodies are odd.

Real sandbox over loopback HTTP, real Prefect (the in-process test harness: a real API server), real
SQLite.
"""

from __future__ import annotations

import json

import pytest
from prefect.flow_runs import resume_flow_run

from flows import create_contracts
from store.dead_lettering import reason
from tests.support.records import record, template_id
from tests.support.review import ended, paused_review
from tests.support.rows import letters

pytestmark = pytest.mark.usefixtures("prefect_api")


def two_refused_letters(credentials, database_url: str, prefix: str) -> list[int]:
    """Two create letters SpotDraft refused (400: no such template)."""
    create_contracts(credentials, 99999, records=[record(f"{prefix}-1"), record(f"{prefix}-2")],
                     database_url=database_url)
    found = letters(database_url)
    assert [r["status"] for r in found] == ["pending", "pending"]
    return [r["id"] for r in found]


# == the review's Resume form, through the real resume path ================================================
def test_a_payload_that_is_json_but_not_an_object_fails_only_its_own_decision(sandbox, credentials, sqlite_url):
    first, second = two_refused_letters(credentials, sqlite_url, "b10-json")
    with paused_review(credentials, sqlite_url) as review:
        # The form's editor takes any JSON, and its description says "or composite_id, as JSON".
        resume_flow_run(review.id, run_input={"reviewer": "ops@example.com", "decisions": [
            {"dead_letter_id": first, "action": "retry_with_edits", "payload": "T-123"},
            {"dead_letter_id": second, "action": "discard", "note": "a duplicate"},
        ]})
        state = ended(review)
    after = {r["id"]: r for r in letters(sqlite_url)}
    assert not state.is_failed(), f"one payload failed the whole review: {state.message}"
    assert after[second]["status"] == "discarded" and after[second]["decided_by"] == "ops@example.com"
    assert after[first]["status"] == "pending"


def test_a_send_letter_retried_with_a_number_for_its_composite_id_fails_only_that_decision(sandbox, credentials,
                                                                                           sqlite_url):
    sandbox.script("POST", r"/send_to_counterparties$", 402, times=1, body={"detail": "not ready yet"})
    create_contracts(credentials, template_id(sandbox), records=[record("b10-send")], database_url=sqlite_url,
                     send_to_counterparties=True)
    create_contracts(credentials, 99999, records=[record("b10-other")], database_url=sqlite_url)
    by_op = {r["operation"]: r for r in letters(sqlite_url)}
    send, other = by_op["send_contract_to_counterparties"], by_op["create_contract"]
    with paused_review(credentials, sqlite_url) as review:
        resume_flow_run(review.id, run_input={"reviewer": "ops", "decisions": [
            {"dead_letter_id": send["id"], "action": "retry_with_edits", "payload": {"composite_id": 12345}},
            {"dead_letter_id": other["id"], "action": "discard"},
        ]})
        state = ended(review)
    after = {r["id"]: r for r in letters(sqlite_url)}
    assert not state.is_failed(), f"one decision's payload failed the whole review: {state.message}"
    assert after[other["id"]]["status"] == "discarded"
    assert after[send["id"]]["status"] == "pending"


def test_a_script_may_leave_a_note_null_as_the_pause_input_allows(sandbox, credentials, sqlite_url):
    """DESIGN's pause input is {dead_letter_id, action, payload, note}; Decision.note is `str | None`."""
    first, _ = two_refused_letters(credentials, sqlite_url, "b10-note")
    refused = None
    with paused_review(credentials, sqlite_url) as review:
        try:
            resume_flow_run(review.id, run_input={"reviewer": "ops", "decisions": [
                {"dead_letter_id": first, "action": "discard", "note": None}]})
        except RuntimeError as error:  # refused by the server: the run is still paused; finish it properly
            refused = error
            resume_flow_run(review.id, run_input={"reviewer": "ops", "decisions": [
                {"dead_letter_id": first, "action": "discard", "note": ""}]})
        ended(review)
    assert refused is None, f"a null note was refused: {refused}"
    assert {r["id"]: r for r in letters(sqlite_url)}[first]["status"] == "discarded"


def test_a_blank_reviewer_is_not_recorded_as_unknown(sandbox, credentials, sqlite_url):
    first, _ = two_refused_letters(credentials, sqlite_url, "b10-who")
    with paused_review(credentials, sqlite_url) as review:
        try:
            resume_flow_run(review.id, run_input={"reviewer": "", "decisions": [
                {"dead_letter_id": first, "action": "discard"}]})
        except RuntimeError:  # refused, the run still waits: say who you are this time
            resume_flow_run(review.id, run_input={"reviewer": "ops@example.com", "decisions": [
                {"dead_letter_id": first, "action": "discard"}]})
        ended(review)
    decided = [(r["status"], r["decided_by"]) for r in letters(sqlite_url) if r["status"] != "pending"]
    assert all(who not in (None, "", "unknown") for _, who in decided), decided


def test_odd_but_valid_decisions_are_carried_out_once_each(sandbox, credentials, sqlite_url):
    """Holds: `about` edited (ignored), note "", an extra field in a row, a letter listed twice (the first
    decision stands), a letter not offered (refused), retry_with_edits without a payload (a plain retry)."""
    first, second = two_refused_letters(credentials, sqlite_url, "b10-odd")
    posts_before = len(sandbox.request_log("POST"))
    with paused_review(credentials, sqlite_url) as review:
        resume_flow_run(review.id, run_input={"reviewer": "ops", "decisions": [
            {"dead_letter_id": first, "action": "discard", "about": "EDITED by the person", "note": "", "x": 1},
            {"dead_letter_id": first, "action": "retry"},
            {"dead_letter_id": 999999, "action": "discard"},
            {"dead_letter_id": second, "action": "retry_with_edits", "payload": None},
        ]})
        state = ended(review)
    assert state.is_completed(), state.message
    assert "1 discarded" in state.message and "1 failed again" in state.message and "1 refused" in state.message
    after = {r["id"]: r for r in letters(sqlite_url)}
    assert after[first]["status"] == "discarded" and after[first]["outcome"] == {"note": None}
    assert after[second]["status"] == "pending" and after[second]["outcome"]["replay_failed"] is True
    assert len(sandbox.request_log("POST")) == posts_before + 1  # the retry sent once, the duplicate row nothing
    assert not [r for r in letters(sqlite_url) if r["claimed_by"]]  # every claim released


# == SpotDraft's reason, from the stored error body =========================================================
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


def test_a_review_offers_letters_whose_stored_bodies_are_odd(sandbox, credentials, sqlite_url):
    """Holds: bodies SpotDraft can send (a list of lists of dicts, huge text, masked secrets, non-ASCII)
    make a pending table and a form, and the review waits for a person."""
    bodies = [[[{"a": [{"b": ["deep"]}]}]], "<html>" + "x" * 50_000, {"client-secret": "anything", "e": ["\u202e\x00"]}]
    for index, body in enumerate(bodies):
        sandbox.script("POST", r"/contracts/?$", 400, times=1, body=body)
        create_contracts(credentials, template_id(sandbox), records=[record(f"b10-body-{index}")],
                         database_url=sqlite_url)
    assert len(letters(sqlite_url)) == len(bodies)
    with paused_review(credentials, sqlite_url) as review:
        resume_flow_run(review.id, run_input={"reviewer": "ops", "decisions": []})
        state = ended(review)
    assert state.is_completed(), state.message
    assert sandbox.client_secret not in json.dumps([r["context"] for r in letters(sqlite_url)], default=str)
