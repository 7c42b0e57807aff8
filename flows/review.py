"""review_failed_operations: a person decides what happens to each dead letter, in the Prefect UI.

The run lists the pending dead letters as a table artifact, then pauses with a typed form behind
its Resume button: for each letter, retry, retry with an edited payload, discard, or leave it.
Decisions are carried out through the same tasks the flows use (so the same validation, retry
policy and reconciliation apply) and recorded on each letter: `replayed` with the result, back to
`pending` with the new error, or `discarded` with who and when. A timeout leaves everything pending.
Each review claims the letters it offers (store.dead_lettering.claim): several reviews may wait at
once, each offering its own letters, and only the holder of a claim carries out a decision on it.

Why pause and not suspend: the run holds no expensive resource while it waits (a process of about
90 MB and a worker slot) and its work before the pause is one query; suspending would free them but
rerun the flow from the top on resume, which needs persisted results for no gain here.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.logging import get_run_logger
from prefect.states import Completed
from pydantic import BaseModel, ConfigDict, Field

from blocks import SpotDraftCredentials
from client.redaction import redact
from flows.common import data_flow, database_url_or_default, shown_database_url
from flows.params import OptionalText, database_url_form, form
from flows.replays import replay_for
from flows.review_reruns import FLOW_RUN, _read_flow_run, _replay_flow_run  # noqa: F401 (registers the replay)
from store import database_now, dead_lettering, engine_for, utcnow
from store import dead_letters as letters_table

MAX_WAIT_MINUTES = 30 * 24 * 60  # a review waits for a person at most 30 days (its letters are held meanwhile)


class Action(StrEnum):
    leave = "leave"
    retry = "retry"
    retry_with_edits = "retry_with_edits"
    discard = "discard"


def _no_none_defaults(schema: dict[str, Any]) -> None:
    """Leave `"default": null` out of a form's fields: the UI would put null in the text box and then refuse
    it ("None is not of type 'string'"); without it the box starts empty, and a script may still send null."""
    for field in schema.get("properties", {}).values():
        if "default" in field and field["default"] is None:
            del field["default"]


class Decision(BaseModel):
    model_config = ConfigDict(json_schema_extra=_no_none_defaults)

    dead_letter_id: int = Field(title="Dead letter", description="The dead letter's id (first column of the table).")
    about: str = Field(
        "", title="What failed, and SpotDraft's reason",
        description="Filled in by the review, to read: changing it changes nothing.",
    )
    action: Action = Field(Action.leave, description="leave it pending, retry it, retry it edited, or discard.")
    # Any JSON, checked per decision in _review: one that is not an object fails that decision only.
    payload: Any = Field(
        None, title="Corrected inputs",
        description="For retry_with_edits only: the corrected record, request body or {\"composite_id\": ...}, "
                    "as a JSON object.",
    )
    note: OptionalText = Field(None, description="Why, for the record.")


class ReviewDecisions(RunInput):
    reviewer: str = Field(min_length=1, description="Who is deciding (recorded on each dead letter).")
    decisions: list[Decision] = Field(description="One row per dead letter offered; set each one's action.")


# Where the form is: the button is at the top right of the run's page, and in its ⋮ menu on a narrow window.
HOW_TO_ANSWER = (
    "Open this flow run and press **Resume** (top right of the run's page; on a narrow window it is in the "
    "**⋮** menu). The form has one row per dead letter: set its action to `retry`, `retry_with_edits` (with "
    "the corrected inputs), `discard`, or leave it as `leave` to keep it pending, then **Submit**."
)


def _target_label(letter: dict[str, Any]) -> str:
    return letter["target"] or "-"


def _about(letter: dict[str, Any]) -> str:
    return f"{letter['operation']} on {_target_label(letter)}: {letter['reason']}"


def _table(letters: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Four columns that fit the run's pane; the rest of each letter is in the dead_letters table."""
    return [
        {"id": str(r["id"]), "failed": f"{r['operation']} on {_target_label(r)}",
         "reason": r["reason"], "since": f"{r['created_at']:%Y-%m-%d %H:%M}"}
        for r in letters
    ]


def replay(credentials: SpotDraftCredentials, database_url: str, letter: dict[str, Any],
           payload: dict[str, Any] | None) -> dict[str, Any]:
    """Carry out a dead letter's operation again (edited when `payload` is given); returns the outcome."""
    return replay_for(letter["operation"])(credentials, database_url, letter["inputs"] or {}, payload)


# -- Prefect runs: whose claim is alive, and failed runs that left no dead letter -------------------------
_LIVE_STATES = {"SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"}


def _run_alive(flow_run_id: str) -> bool | None:
    """Whether a claim's review run may still answer; None when Prefect cannot say (the claim's expiry decides)."""
    try:
        run = _read_flow_run(flow_run_id)
    except Exception:
        return None
    return run is not None and (run.state is None or run.state.type.value in _LIVE_STATES)


def _database_of(triggered_by: str | None, default: str | None) -> str | None:
    """The database of the run that started this review, else `default` (None: the worker's default).

    Read from Prefect when the review starts rather than copied into its parameters by the trigger:
    a URL that should never have been given (one with a password) is then not copied anywhere.
    """
    if not triggered_by:
        return default
    try:
        run = _read_flow_run(triggered_by)
    except Exception as error:
        get_run_logger().warning("Could not read run %s; reviewing %s: %s", triggered_by,
                                 shown_database_url(default) if default else "the default database", error)
        return default
    url = (run.parameters or {}).get("database_url") if run is not None else None
    return url if isinstance(url, str) and url else default


class FlowRunFailed(Exception):
    """A run of a data flow failed or crashed without recording what it gave up on."""


def _letter_for_failed_run(engine, triggered_by: str | None) -> None:
    """A Failed or Crashed run that left no dead letter (killed, out of memory, a bug) gets one.

    Every failure is offered to a person: the flows record what they give up on, but a run that dies
    cannot, so the review it triggered records it, once (the letter is keyed by the run's id).
    """
    if not triggered_by:
        return
    try:
        run = _read_flow_run(triggered_by)
    except Exception as error:  # the review goes on with the letters there are; say why this one is missing
        get_run_logger().warning("Could not read run %s to check how it ended: %s", triggered_by, error)
        return
    if run is None or run.state is None or run.state.type.value not in ("FAILED", "CRASHED"):
        return
    with engine.begin() as conn:
        known = conn.execute(sa.select(sa.func.count()).select_from(letters_table)
                             .where(letters_table.c.flow_run_id == str(run.id))).scalar()
        if known:
            return
        error = FlowRunFailed(f"flow run {run.name} ended {run.state.type.value}: {run.state.message or 'no message'}")
        letter_id = dead_lettering.record(conn, operation=FLOW_RUN, target=f"flow run {run.id}",
                                        inputs={"flow_run_id": str(run.id), "deployment_id":
                                                str(run.deployment_id) if run.deployment_id else None},
                                        error=error)
        conn.execute(letters_table.update().where(letters_table.c.id == letter_id)
                     .values(flow_run_id=str(run.id), flow_name=run.name))


def _decide(conn, letter_id: int, **values: Any) -> None:
    """Record the outcome on the letter; one a later run settled meanwhile is not reopened or discarded."""
    still_open = letters_table.c.status == "pending" if values["status"] != "replayed" else sa.true()
    conn.execute(letters_table.update().where(letters_table.c.id == letter_id, still_open).values(**values))


def _leave_pause() -> None:
    """The run is still Paused on the server after a pause times out; Prefect refuses Completed from Paused."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run
    from prefect.states import Running

    with get_client(sync_client=True) as api:
        api.set_flow_run_state(flow_run.id, Running(message="no decision in time"), force=True)


def _run_name(parameters: dict[str, Any]) -> str:
    sender = parameters.get("triggered_by")
    return f"review-failed-operations{' after ' + str(sender)[-8:] if sender else ''}"


@data_flow("review-failed-operations", run_name=_run_name)
def review_failed_operations(
    credentials: SpotDraftCredentials = form(
        "SpotDraft credentials", "The credentials Block used to retry operations."
    ),
    database_url: OptionalText = database_url_form(
        "Where the dead_letters table is (the same URL the sync and create flows use). A review started by a "
        "failing run reads that run's database instead.",
    ),
    triggered_by: OptionalText = form(
        "Triggered by flow run", "The run whose failure or dead letters started this review (set by the trigger).",
        None, shown_default="",
    ),
    timeout_minutes: Annotated[float, Field(gt=0, le=MAX_WAIT_MINUTES)] = form(
        "Wait for a decision (minutes)", "After this long without an answer the run ends and leaves everything "
        "pending (at most 30 days).", 24 * 60,
    ),
    limit: Annotated[int, Field(ge=1, le=500)] = form(
        "Dead letters per review", "At most this many pending dead letters are offered in one review.", 50
    ),
    poll_seconds: Annotated[int, Field(ge=1, le=60)] = form(
        "Check for an answer every (seconds)", "How often the paused run looks for the person's answer.", 10
    ),
):
    """List pending dead letters, wait for a person's decisions, carry them out and record each outcome."""
    logger = get_run_logger()
    database_url = database_url_or_default(_database_of(triggered_by, database_url))
    engine = engine_for(database_url)
    me = _this_run_id()
    _letter_for_failed_run(engine, triggered_by)
    claimed_until = database_now(engine) + timedelta(minutes=timeout_minutes + 5)
    letters = dead_lettering.claim(engine, claimer=me, until=claimed_until, limit=limit, first_from_run=triggered_by,
                                 claimer_alive=_run_alive)
    if not letters:
        logger.info("No pending dead letters that another review is not already offering")
        return Completed(message="nothing to review", data={"pending": 0})
    try:
        return _review(credentials, database_url, engine, me, letters, triggered_by, timeout_minutes, poll_seconds)
    finally:  # whatever happened, what is still pending is free for the next review
        dead_lettering.release(engine, claimer=me)


def _this_run_id() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.id) if flow_run.id else f"local-{uuid.uuid4()}"


def _review(credentials, database_url: str, engine, me: str, letters: list[dict[str, Any]],
            triggered_by: str | None, timeout_minutes: float, poll_seconds: int) -> Any:
    logger = get_run_logger()
    letters = [{**r, "reason": dead_lettering.reason(r)} for r in letters]  # read once, shown three times
    create_table_artifact(key="dead-letters-pending", table=_table(letters),
                          description=f"{len(letters)} dead letters wait for a decision" +
                          (f", first those of run {triggered_by}" if triggered_by else "") + ". " + HOW_TO_ANSWER)
    listed = "\n".join(f"- **{r['id']}** {_about(r)}" for r in letters)
    form_with_defaults = ReviewDecisions.with_initial_data(
        description=f"{len(letters)} dead letters wait for a decision:\n\n{listed}\n\n"
                    "Set each row's action below, then Submit.",
        # One row per letter; the reviewer is left to the person (required: a decision is recorded under it).
        decisions=[Decision(dead_letter_id=r["id"], about=_about(r)).model_dump(mode="json", exclude_none=True)
                   for r in letters],
    )
    logger.info("Waiting for a decision on %d dead letters. %s", len(letters), HOW_TO_ANSWER.replace("**", ""))
    try:
        answer = pause_flow_run(wait_for_input=form_with_defaults, timeout=int(timeout_minutes * 60),
                                poll_interval=poll_seconds)
    except FlowPauseTimeout:
        logger.warning("No decision within %s minutes: all %d dead letters stay pending", timeout_minutes, len(letters))
        _leave_pause()
        return Completed(message=f"no decision; {len(letters)} left pending", data={"pending": len(letters)})

    by_id = {r["id"]: r for r in letters}
    results: list[dict[str, str]] = []
    counts: Counter[Outcome] = Counter()
    decided: set[int] = set()
    who = answer.reviewer
    for decision in answer.decisions:
        letter = by_id.get(decision.dead_letter_id)
        if decision.action is Action.leave or (letter is not None and letter["id"] in decided):
            continue  # left alone, or listed twice (the first decision stands)
        if letter is not None:
            decided.add(letter["id"])
        outcome, detail = _carry_out(credentials, database_url, engine, me, who, letter, decision)
        counts[outcome] += 1
        results.append({"id": str(decision.dead_letter_id), "action": decision.action.value,
                        "outcome": f"{outcome.value}: {detail}" if detail else outcome.value})

    create_table_artifact(key="dead-letters-review", table=results or [{"id": "-", "action": "-", "outcome": "-"}],
                          description=f"Decisions of {who}")
    create_markdown_artifact(
        key="dead-letters-review-summary",
        markdown=f"**{who}** decided on {len(results)} of {len(letters)} dead letters.",
    )
    acted = sum(counts[o] for o in (Outcome.replayed, Outcome.discarded, Outcome.failed_again,
                                    Outcome.no_longer_pending))
    message = (f"{counts[Outcome.replayed]} replayed, {counts[Outcome.discarded]} discarded, "
               f"{counts[Outcome.failed_again]} failed again, {len(letters) - acted} left")
    if counts[Outcome.no_longer_pending]:
        message += f", {counts[Outcome.no_longer_pending]} no longer pending"
    if counts[Outcome.refused]:
        message += f", {counts[Outcome.refused]} refused (not offered by this review)"
    logger.info(message)
    return Completed(message=message, data={"results": results})


class Outcome(StrEnum):
    """What became of one decision (the review's message counts them)."""

    replayed = "replayed"
    discarded = "discarded"
    failed_again = "failed again"
    no_longer_pending = "no longer pending"  # resolved meanwhile (a later sync), or its claim lapsed
    refused = "refused"  # not offered by this review: another review's, or no such letter


def _carry_out(credentials, database_url: str, engine, me: str, who: str, letter: dict[str, Any] | None,
               decision: Decision) -> tuple[Outcome, str]:
    """Carry out one person's decision on one letter, record it on the letter; (outcome, detail)."""
    logger = get_run_logger()
    if letter is None:
        return Outcome.refused, "not offered by this review"
    with engine.begin() as conn:
        if not dead_lettering.take(conn, letter["id"], claimer=me, who=who):
            return Outcome.no_longer_pending, ""
    when = utcnow()
    if decision.action is Action.discard:
        with engine.begin() as conn:
            _decide(conn, letter["id"], status="discarded", decided_by=who, decided_at=when,
                    outcome={"note": decision.note or None})
        return Outcome.discarded, ""
    payload = decision.payload if decision.action is Action.retry_with_edits else None
    try:
        if payload is not None and not isinstance(payload, dict):
            raise ValueError(f"the corrected inputs must be a JSON object, not {type(payload).__name__}")
        result = replay(credentials, database_url, letter, payload)
    except Exception as error:  # whatever fails, fails this decision only: the others are still carried out
        logger.warning("Dead letter %s failed again: %s", letter["id"], error)
        with engine.begin() as conn:
            _decide(conn, letter["id"], status="pending", decided_by=who, decided_at=when,
                    outcome={"replay_failed": True, "note": decision.note or None, "payload": redact(payload)},
                    **{k: v for k, v in dead_lettering.describe(error).items() if k != "attempts"})
        return Outcome.failed_again, type(error).__name__
    with engine.begin() as conn:
        _decide(conn, letter["id"], status="replayed", decided_by=who, decided_at=when,
                outcome={"result": redact(result), "note": decision.note or None, "edited": payload is not None})
    return Outcome.replayed, ""
