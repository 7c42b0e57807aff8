"""review_failed_operations: a person decides what happens to each dead letter, in the Prefect UI.

The run lists the pending dead letters as a table artifact, then pauses with a typed form behind
its Resume button: for each letter, retry, retry with an edited payload, discard, or leave it.
Decisions are carried out through the same tasks the flows use (so the same validation, retry
policy and reconciliation apply) and recorded on each letter: `replayed` with the result, back to
`pending` with the new error, or `discarded` with who and when. A timeout leaves everything pending.

Why pause and not suspend: the run holds no expensive resource while it waits (a process of about
90 MB and a worker slot) and its work before the pause is one query; suspending would free them but
rerun the flow from the top on resume, which needs persisted results for no gain here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.logging import get_run_logger
from prefect.states import Completed
from pydantic import BaseModel, Field

import tasks
from blocks import SpotDraftCredentials
from client import SpotDraftError, writes
from client.redaction import redact
from flows import dead_letters
from flows.create import DRAFT
from flows.params import form
from flows.records import RecordError, validate_record
from flows.store import contracts, created_contracts, engine_for, upsert, utcnow
from flows.store import dead_letters as letters_table
from flows.sync import DEFAULT_DATABASE_URL


class Action(StrEnum):
    leave = "leave"
    retry = "retry"
    retry_with_edits = "retry_with_edits"
    discard = "discard"


class Decision(BaseModel):
    dead_letter_id: int = Field(description="The id of the dead letter (first column of the table).")
    action: Action = Field(Action.leave, description="leave it pending, retry it, retry it edited, or discard it.")
    payload: dict[str, Any] | None = Field(
        None, description="For retry_with_edits: the corrected inputs (a record, a request body, or a composite_id)."
    )
    note: str | None = Field(None, description="Why, for the record.")


class ReviewDecisions(RunInput):
    reviewer: str = Field(description="Who is deciding (recorded on each dead letter).")
    decisions: list[Decision] = Field(description="One entry per dead letter to act on.")


def pending_letters(database_url: str, limit: int, first_from_run: str | None) -> list[dict[str, Any]]:
    with engine_for(database_url).connect() as conn:
        rows = conn.execute(
            sa.select(letters_table).where(letters_table.c.status == "pending").order_by(letters_table.c.id)
        ).all()
    letters = [dict(r._mapping) for r in rows]
    letters.sort(key=lambda r: r["flow_run_id"] != first_from_run)  # the triggering run's first
    return letters[:limit]


def _target_label(letter: dict[str, Any]) -> str:
    return letter["target"] or "-"


def _table(letters: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "id": str(r["id"]), "operation": r["operation"], "target": _target_label(r), "error": r["error_class"],
            "advice": r["advice"] or "", "attempts": str(r["attempts"]), "when": f"{r['created_at']:%Y-%m-%d %H:%M}",
            "run": (r["flow_name"] or "") + (f" {r['flow_run_id'][:8]}" if r["flow_run_id"] else ""),
        }
        for r in letters
    ]


def replay(credentials: SpotDraftCredentials, database_url: str, letter: dict[str, Any],
           payload: dict[str, Any] | None) -> dict[str, Any]:
    """Carry out a dead letter's operation again (edited when `payload` is given); returns the outcome."""
    operation, inputs = letter["operation"], letter["inputs"] or {}
    engine = engine_for(database_url)
    if operation == "create_contract":
        template_id = int((payload or {}).get("template_id") or inputs["template_id"])
        if "record" in inputs or (payload and "external_id" in payload):
            _, body = validate_record(payload if payload is not None else inputs["record"], 0, template_id)
        else:
            body = payload if payload is not None else inputs["body"]
        external_id = writes.external_id_of(body)
        if external_id is None:  # without it a create cannot be reconciled, nor recorded against its record
            raise ValueError("the body has no external_metadata.id; add the upstream record's id")
        contract = tasks.create_contract(credentials, body)
        with engine.begin() as conn:
            upsert(conn, created_contracts, [{
                "external_id": external_id, "contract_id": str(contract.get("id")), "template_id": template_id,
                "contract_name": contract.get("contract_name"), "outcome": "created by review", "record": contract,
                "flow_run_id": dead_letters.current_flow_run()[1], "created_at": utcnow(),
            }])
        return {"contract_id": str(contract.get("id")), "external_id": external_id}
    if operation == "get_contract_key_pointers":
        composite_id = (payload or inputs)["composite_id"]
        key_pointers = tasks.get_contract_key_pointers(credentials, composite_id)
        with engine.begin() as conn:
            conn.execute(contracts.update().where(contracts.c.composite_id == composite_id)
                         .values(key_pointers=key_pointers, synced_at=utcnow()))
        return {"composite_id": composite_id, "key_pointers": len(key_pointers or [])}
    if operation == "send_contract_to_counterparties":
        composite_id = (payload or inputs)["composite_id"]
        body = (payload or {}).get("body") or inputs["body"]
        # Sending is not safe to repeat: a send that landed despite its error (or one made since)
        # has taken the contract out of DRAFT, and is not sent again.
        status = tasks.get_contract_status(credentials, composite_id).get("contract_status")
        if status == DRAFT:
            tasks.send_contract_to_counterparties(credentials, composite_id, body)
        with engine.begin() as conn:  # either way it went out: create_contracts must not send it again
            conn.execute(created_contracts.update()
                         .where(created_contracts.c.contract_id.in_([composite_id, composite_id.split("-")[-1]]))
                         .values(sent_at=utcnow()))
        return {"composite_id": composite_id, "sent": status == DRAFT, "status_before": status}
    if operation == "list_contracts":
        from flows.sync import sync_contracts

        summary = sync_contracts(credentials, database_url=database_url, return_state=True).result()
        return {"sync": summary["pass"], "contracts_read": summary["contracts_read"]}
    raise ValueError(f"no replay is defined for {operation}; discard it once handled by hand")


def _still_pending(engine, letter_id: int) -> bool:
    with engine.connect() as conn:
        status = conn.execute(sa.select(letters_table.c.status).where(letters_table.c.id == letter_id)).scalar()
    return status == "pending"


def _decide(conn, letter_id: int, **values: Any) -> None:
    conn.execute(letters_table.update().where(letters_table.c.id == letter_id).values(**values))


def _leave_pause() -> None:
    """The run is still Paused on the server after a pause times out; Prefect refuses Completed from Paused."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run
    from prefect.states import Running

    with get_client(sync_client=True) as api:
        api.set_flow_run_state(flow_run.id, Running(message="no decision in time"), force=True)


def _run_name() -> str:
    from prefect.runtime import flow_run

    sender = (flow_run.parameters or {}).get("triggered_by")
    return f"review-failed-operations{' after ' + str(sender)[-8:] if sender else ''}"


@flow(name="review-failed-operations", flow_run_name=_run_name, log_prints=False)
def review_failed_operations(
    credentials: SpotDraftCredentials = form(
        "SpotDraft credentials", "The credentials Block used to retry operations."
    ),
    database_url: str = form(
        "Database URL", "Where the dead_letters table is (the same URL the sync and create flows use).",
        DEFAULT_DATABASE_URL,
    ),
    triggered_by: str | None = form(
        "Triggered by flow run", "The run whose failure or dead letters started this review (set by the trigger).",
        None,
    ),
    timeout_minutes: Annotated[float, Field(gt=0)] = form(
        "Wait for a decision (minutes)", "After this long without an answer the run ends and leaves everything "
        "pending.", 24 * 60,
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
    letters = pending_letters(database_url, limit, triggered_by)
    if not letters:
        logger.info("No pending dead letters")
        return Completed(message="nothing to review", data={"pending": 0})
    create_table_artifact(key="dead-letters-pending", table=_table(letters),
                          description=f"{len(letters)} pending dead letters" +
                          (f", first those of run {triggered_by}" if triggered_by else ""))
    lines = [f"- **{r['id']}** `{r['operation']}` on `{_target_label(r)}`: {r['error_class']}: {r['advice']}"
             for r in letters]
    description = (
        "Decide for each dead letter: `retry`, `retry_with_edits` (put the corrected inputs in payload), "
        "`discard`, or `leave` it pending.\n\n" + "\n".join(lines)
    )
    form_with_defaults = ReviewDecisions.with_initial_data(
        description=description, reviewer="",
        decisions=[Decision(dead_letter_id=r["id"]) for r in letters],
    )
    logger.info("Waiting for a decision on %d dead letters (Resume in the UI)", len(letters))
    try:
        answer = pause_flow_run(wait_for_input=form_with_defaults, timeout=int(timeout_minutes * 60),
                                poll_interval=poll_seconds)
    except FlowPauseTimeout:
        logger.warning("No decision within %s minutes: all %d dead letters stay pending", timeout_minutes, len(letters))
        _leave_pause()
        return Completed(message=f"no decision; {len(letters)} left pending", data={"pending": len(letters)})

    by_id = {r["id"]: r for r in letters}
    engine = engine_for(database_url)
    results = []
    decided: set[int] = set()
    for decision in answer.decisions:
        letter = by_id.get(decision.dead_letter_id)
        if letter is None or decision.action is Action.leave or letter["id"] in decided:
            continue  # unknown, left alone, or listed twice (the first decision stands)
        decided.add(letter["id"])
        if not _still_pending(engine, letter["id"]):  # resolved meanwhile (a later sync, another review)
            results.append({"id": str(letter["id"]), "action": decision.action.value, "outcome": "no longer pending"})
            continue
        when, who = utcnow(), answer.reviewer or "unknown"
        if decision.action is Action.discard:
            with engine.begin() as conn:
                _decide(conn, letter["id"], status="discarded", decided_by=who, decided_at=when,
                        outcome={"note": decision.note})
            results.append({"id": str(letter["id"]), "action": "discard", "outcome": "discarded"})
            continue
        payload = decision.payload if decision.action is Action.retry_with_edits else None
        try:
            outcome = replay(credentials, database_url, letter, payload)
        except (SpotDraftError, RecordError, ValueError, KeyError, TypeError) as error:
            logger.warning("Dead letter %s failed again: %s", letter["id"], error)
            with engine.begin() as conn:
                _decide(conn, letter["id"], status="pending", decided_by=who, decided_at=when,
                        outcome={"replay_failed": True, "note": decision.note, "payload": redact(payload)},
                        **{k: v for k, v in dead_letters.describe(error).items() if k != "attempts"})
            results.append({"id": str(letter["id"]), "action": decision.action.value,
                            "outcome": f"failed again: {type(error).__name__}"})
            continue
        with engine.begin() as conn:
            _decide(conn, letter["id"], status="replayed", decided_by=who, decided_at=when,
                    outcome={"result": redact(outcome), "note": decision.note, "edited": payload is not None})
        results.append({"id": str(letter["id"]), "action": decision.action.value, "outcome": "replayed"})

    create_table_artifact(key="dead-letters-review", table=results or [{"id": "-", "action": "-", "outcome": "-"}],
                          description=f"Decisions of {answer.reviewer or 'unknown'}")
    create_markdown_artifact(
        key="dead-letters-review-summary",
        markdown=f"**{answer.reviewer or 'unknown'}** decided on {len(results)} of {len(letters)} dead letters.",
    )
    replayed = sum(r["outcome"] == "replayed" for r in results)
    discarded = sum(r["outcome"] == "discarded" for r in results)
    stale = sum(r["outcome"] == "no longer pending" for r in results)
    failed = len(results) - replayed - discarded - stale
    message = f"{replayed} replayed, {discarded} discarded, {failed} failed again, {len(letters) - len(results)} left"
    if stale:
        message += f", {stale} no longer pending"
    logger.info(message)
    return Completed(message=message, data={"results": results})
