"""`python -m flows.review_answer` against a review paused for real: `list` shows what it offers, `answer`
resumes it with the review's pause input and the decisions are carried out; bad input and runs that cannot be
answered are refused with nothing sent; nothing it prints holds a secret.

Real sandbox over loopback HTTP, real Prefect (the in-process test harness: a real API server), real SQLite.
The command runs in this process (`main(argv)`); tests/e2e/test_shell_commands.py runs it as a shell command
against a `prefect server` and a process worker.
"""

from __future__ import annotations

import json
import time

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows import create_contracts, review_failed_operations
from flows.review_answer import main
from tests.support.records import record, template_id
from tests.support.review import ended, paused_review
from tests.support.rows import letters

pytestmark = pytest.mark.usefixtures("prefect_api")


def two_refused_records(sandbox, credentials, database_url: str, prefix: str) -> list[dict]:
    """Two records refused before any request (their contact has no email): two pending create letters."""
    no_email = [{"is_individual": False, "organization_name": "Acme", "poc_details": {"first_name": "A"}}]
    create_contracts(credentials, template_id(sandbox), database_url=database_url, records=[
        record(f"{prefix}-1", counter_party_details=no_email), record(f"{prefix}-2", counter_party_details=no_email)])
    return letters(database_url)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_list_shows_the_offer_and_answer_carries_the_decisions_out(sandbox, credentials, sqlite_url, capsys, tmp_path):
    first, second = two_refused_records(sandbox, credentials, sqlite_url, "cli")
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(record("cli-1")), encoding="utf-8")
    with paused_review(credentials, sqlite_url) as review:
        status, listed, _ = run(capsys, "list", str(review.id))
        assert status == 0
        assert f"({review.id}): 2 dead letters wait for a decision" in listed
        for letter in (first, second):
            line = next(x for x in listed.splitlines() if x.split()[:1] == [str(letter["id"])])
            assert line.split()[1:3] == ["create_contract", letter["target"]]
            assert "poc_details.email" in line
        status, as_json, _ = run(capsys, "list", "--json")
        mine = next(r for r in json.loads(as_json) if r["run_id"] == str(review.id))
        assert [(x["id"], x["operation"], x["target"]) for x in mine["dead_letters"]] == [
            (first["id"], "create_contract", "cli-1"), (second["id"], "create_contract", "cli-2")]

        status, answered, err = run(capsys, "answer", str(review.id), "--reviewer", "ops@example.com",
                                    "--retry-with-edits", f"{first['id']}=@{fixed}", "--discard", str(second["id"]),
                                    "--note", f"{second['id']}=a duplicate in the CRM")
        assert status == 0, err
        state = ended(review)
    assert state.is_completed() and "1 replayed, 1 discarded" in state.message
    assert "The review ended Completed: 1 replayed, 1 discarded" in answered
    assert f"{first['id']}   retry_with_edits  replayed" in answered
    after = {r["id"]: r for r in letters(sqlite_url)}
    assert after[first["id"]]["status"] == "replayed" and after[first["id"]]["decided_by"] == "ops@example.com"
    assert after[second["id"]]["status"] == "discarded"
    assert after[second["id"]]["outcome"]["note"] == "a duplicate in the CRM"
    assert len(sandbox.state.by_external_id("cli-1")) == 1  # the corrected record was created, once
    assert sandbox.client_secret not in listed + as_json + answered + err


def test_bad_input_is_refused_and_nothing_is_sent(sandbox, credentials, sqlite_url, capsys):
    first, _ = two_refused_records(sandbox, credentials, sqlite_url, "cli-bad")
    with paused_review(credentials, sqlite_url) as review:
        ask = ("answer", str(review.id), "--reviewer", "ops")
        for argv, says in [
            ((*ask, "--retry", "999999"), f"dead letter 999999 is not offered by review {review_name(review)!r}"),
            ((*ask, "--retry-with-edits", f"{first['id']}=[1]"), "must be a JSON object"),
            ((*ask, "--retry-with-edits", f"{first['id']}={{oops"), "the corrected inputs are not JSON"),
            ((*ask, "--retry", str(first["id"]), "--discard", str(first["id"])), "is decided twice"),
            ((*ask,), "no decision given"),
            (("answer", "not-a-run", "--reviewer", "ops", "--all", "discard"), "'not-a-run' is not a flow run id"),
        ]:
            status, out, err = run(capsys, *argv)
            assert (status, out) == (2, ""), (argv, out, err)
            assert err.startswith("error: ") and says in err, (argv, err)
        with pytest.raises(SystemExit) as refused:  # argparse's own refusal, as for any unknown option
            main([*ask, "--all", "retyr"])
        assert refused.value.code == 2 and "invalid choice: 'retyr'" in capsys.readouterr().err
        assert review.thread.is_alive() and not review.out  # still waiting: nothing reached it
        assert [r["status"] for r in letters(sqlite_url)] == ["pending", "pending"]
        assert run(capsys, *ask, "--all", "leave")[0] == 0  # and it still takes a good answer
        state = ended(review)
    assert state.is_completed() and "2 left" in state.message


def review_name(review) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as api:
        return api.read_flow_run(review.id).name


def test_runs_that_cannot_be_answered_are_refused(sandbox, credentials, sqlite_url, capsys):
    created = create_contracts(credentials, template_id(sandbox), records=[record("cli-done")],
                               database_url=sqlite_url, return_state=True)
    over = review_failed_operations(credentials, database_url=sqlite_url, return_state=True)  # nothing to review
    assert over.is_completed() and over.message == "nothing to review"
    for run_id, says in [
        (created.state_details.flow_run_id, "is a run of create-contracts, not of review-failed-operations"),
        (over.state_details.flow_run_id, "is Completed, not paused for a decision: nothing to answer"),
        ("00000000-0000-0000-0000-000000000000", "no flow run 00000000-0000-0000-0000-000000000000"),
    ]:
        for command in (("list", str(run_id)), ("answer", str(run_id), "--reviewer", "ops", "--all", "discard")):
            status, out, err = run(capsys, *command)
            assert status == 2 and out == "" and says in err, (command, err)


def test_without_a_prefect_server_configured_it_says_so(capsys):
    """Unset, Prefect would start a temporary server of its own, which holds no review."""
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        status, _, err = run(capsys, "list")
    assert status == 2 and "PREFECT_API_URL is not set" in err


def test_list_waits_for_the_review_to_pause_then_says_why_not(capsys):
    began = time.monotonic()
    status, out, err = run(capsys, "list", "00000000-0000-0000-0000-000000000001", "--wait", "1.5")
    assert time.monotonic() - began >= 1.5
    assert status == 2 and out == "" and "no flow run 00000000-0000-0000-0000-000000000001" in err
