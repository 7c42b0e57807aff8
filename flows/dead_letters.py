"""Dead letters: every operation the flows gave up on, with what a person needs to decide about it.

One pending row per (operation, target): a contract that fails again on the next run updates its
pending row (new error, more attempts) rather than adding a second one, so the review queue stays
one line per problem.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from client.errors import SpotDraftError
from client.redaction import redact, scrub_text
from flows.store import dead_letters, utcnow


def current_flow_run() -> tuple[str | None, str | None]:
    """(flow name, flow run id) of the run we are in, if any."""
    try:
        from prefect.runtime import flow_run

        return flow_run.flow_name, (str(flow_run.id) if flow_run.id else None)
    except Exception:  # outside Prefect
        return None, None


def describe(error: BaseException) -> dict[str, Any]:
    """The columns that describe an error: class, one-line message, advice, context, attempts."""
    if isinstance(error, SpotDraftError):
        return {
            "error_class": type(error).__name__,
            "error_message": scrub_text(str(error)),
            "advice": error.advice,
            "context": redact(error.context.as_dict()),
            "attempts": error.context.attempts,
        }
    return {
        "error_class": type(error).__name__,
        "error_message": scrub_text(str(error))[:2000],
        "advice": "Fix the input and retry it from the review flow",
        "context": None,
        "attempts": 0,
    }


def record(conn: Connection, *, operation: str, target: str | None, inputs: Any, error: BaseException) -> int:
    """Add (or refresh) the pending dead letter of `operation` on `target`; returns its id."""
    flow_name, flow_run_id = current_flow_run()
    values = {
        **describe(error),
        "inputs": redact(inputs),
        "flow_name": flow_name,
        "flow_run_id": flow_run_id,
        "created_at": utcnow(),
    }
    existing = conn.execute(
        sa.select(dead_letters.c.id, dead_letters.c.attempts).where(
            dead_letters.c.operation == operation,
            dead_letters.c.target == target,
            dead_letters.c.status == "pending",
        )
    ).first()
    if existing is not None:
        values["attempts"] = (existing.attempts or 0) + values["attempts"]
        conn.execute(dead_letters.update().where(dead_letters.c.id == existing.id).values(**values))
        return existing.id
    result = conn.execute(
        dead_letters.insert().values(operation=operation, target=target, status="pending", **values)
    )
    return result.inserted_primary_key[0]


def resolve(conn: Connection, *, operation: str, targets: list[str], outcome: dict[str, Any]) -> int:
    """Mark pending dead letters as replayed when a later run did the same work successfully."""
    if not targets:
        return 0
    result = conn.execute(
        dead_letters.update()
        .where(
            dead_letters.c.operation == operation,
            dead_letters.c.target.in_(targets),
            dead_letters.c.status == "pending",
        )
        .values(status="replayed", decided_by="automatic: a later run succeeded", decided_at=utcnow(),
                outcome=outcome)
    )
    return result.rowcount or 0
