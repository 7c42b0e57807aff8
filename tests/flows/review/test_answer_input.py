"""The answer a person gives from a shell (`python -m flows.review_answer answer ...`), turned into the review's
pause input and checked against what the review offers, before anything is sent. Pure logic: a review's offer
written out by hand; the command against a real paused review is tests/flows/review/test_answer_command.py."""

from __future__ import annotations

import json
import uuid

import pytest

from flows.review import ReviewDecisions
from flows.review_answer import build_parser, choices_from
from flows.review_offers import AnswerError, Choices, Letter, Review, answer_for

REVIEW = Review(uuid.uuid4(), "review-failed-operations after 1a2b3c4d", (
    Letter(3, "create_contract", "crm-3", "counter_party_details.0.poc_details.email: Field required",
           "2026-01-01 10:00"),
    Letter(5, "list_contracts", "page 2", "401 Unauthorized", "2026-01-01 10:05"),
))
FIXED = {"external_id": "crm-3", "contract_data": {}, "counter_party_details": [
    {"is_individual": True, "poc_details": {"first_name": "A", "email": "a@example.com"}}]}


def parsed(*argv: str) -> Choices:
    return choices_from(build_parser().parse_args(["answer", *argv]))


def test_every_offered_letter_gets_a_decision_those_not_named_stay_pending():
    answer = answer_for(REVIEW, parsed("--reviewer", " ops@example.com ", "--discard", "5", "--note", "5=duplicate"))
    assert answer == {"reviewer": "ops@example.com", "decisions": [
        {"dead_letter_id": 3, "action": "leave"},
        {"dead_letter_id": 5, "action": "discard", "note": "duplicate"},
    ]}
    ReviewDecisions.model_validate(answer)  # the public pause input, as the review reads it


def test_all_decides_the_letters_not_named():
    answer = answer_for(REVIEW, parsed("--reviewer", "ops", "--retry", "5", "--all", "discard"))
    assert [(d["dead_letter_id"], d["action"]) for d in answer["decisions"]] == [(3, "discard"), (5, "retry")]


def test_corrected_inputs_come_inline_or_from_a_file(tmp_path):
    inline = answer_for(REVIEW, parsed("--reviewer", "ops", "--retry-with-edits", f"3={json.dumps(FIXED)}"))
    (tmp_path / "fixed.json").write_text(json.dumps(FIXED), encoding="utf-8")
    from_file = answer_for(REVIEW, parsed("--reviewer", "ops", "--retry-with-edits", f"3=@{tmp_path / 'fixed.json'}"))
    assert inline == from_file
    assert inline["decisions"][0] == {"dead_letter_id": 3, "action": "retry_with_edits", "payload": FIXED}


@pytest.mark.parametrize(("argv", "says"), [
    (["--retry", "7"], "dead letter 7 is not offered by review 'review-failed-operations after 1a2b3c4d'"),
    (["--retry", "7", "8"], "dead letters 7, 8 are not offered"),
    (["--note", "9=why"], "dead letter 9 is not offered"),
    (["--retry", "3", "--discard", "3"], "dead letter 3 is decided twice (retry and discard)"),
    ([], "no decision given"),
    (["--note", "3=why"], "no decision given"),
])
def test_choices_the_review_would_refuse_or_ignore_are_errors(argv, says):
    with pytest.raises(AnswerError) as caught:
        answer_for(REVIEW, parsed("--reviewer", "ops", *argv))
    assert says in str(caught.value)


def test_the_error_for_an_unknown_letter_names_those_offered():
    with pytest.raises(AnswerError, match=r"which offers 3, 5"):
        answer_for(REVIEW, parsed("--reviewer", "ops", "--retry", "4"))


@pytest.mark.parametrize(("choices", "says"), [
    (Choices("  ", rest="retry"), "the reviewer is empty"),
    (Choices("ops", actions=[(3, "retyr")]),
     "'retyr' is not an action; one of leave, retry, retry_with_edits, discard"),
    (Choices("ops", rest="skip"), "'skip' is not an action"),
    (Choices("ops", rest="retry_with_edits"), "retry_with_edits needs each letter's corrected inputs"),
    (Choices("ops", actions=[(3, "retry")], payloads={3: FIXED}), "corrected inputs go with retry_with_edits alone"),
    (Choices("ops", actions=[(3, "retry_with_edits")]), "retry_with_edits needs the corrected inputs"),
])
def test_answers_built_in_python_are_checked_the_same_way(choices, says):
    with pytest.raises(AnswerError) as caught:
        answer_for(REVIEW, choices)
    assert says in str(caught.value)


@pytest.mark.parametrize(("argv", "says"), [
    (["--retry", "x"], "--retry 'x': a dead letter's id is a number"),
    (["--retry", "3", str(uuid.UUID(int=7))], "that is a run id; give it first: answer RUN_ID"),
    (["--note", "3"], "--note expects ID=TEXT"),
    (["--retry-with-edits", "3"], "--retry-with-edits expects ID=JSON"),
    (["--retry-with-edits", "3=[1, 2]"], "must be a JSON object (the corrected record, request body or "),
    (["--retry-with-edits", "3=@/nonexistent/fixed.json"], "cannot read /nonexistent/fixed.json"),
])
def test_malformed_options_are_errors_before_the_server_is_asked(argv, says):
    with pytest.raises(AnswerError) as caught:
        parsed("--reviewer", "ops", *argv)
    assert says in str(caught.value)


def test_corrected_inputs_that_are_not_json_are_refused_without_echoing_them():
    """They may be a record's personal data: the message says where the JSON breaks, not what it holds."""
    with pytest.raises(AnswerError) as caught:
        parsed("--reviewer", "ops", "--retry-with-edits", '3={"email": "jane.private@example.com",')
    assert "not JSON" in str(caught.value) and "jane.private" not in str(caught.value)


def test_a_bad_action_for_all_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["answer", "--reviewer", "ops", "--all", "retry_with_edits"])
    assert exited.value.code == 2
    assert "invalid choice: 'retry_with_edits' (choose from 'leave', 'retry', 'discard')" in capsys.readouterr().err
