"""Dead letters: every operation the flows gave up on, with what a person needs to decide about it.

One pending row per (operation, target): a contract that fails again on the next run updates its
pending row (new error, more attempts) rather than adding a second one, so the review queue stays
one line per problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from client.errors import SpotDraftError
from client.redaction import redact, scrub_known_values, scrub_text
from store.engine import database_now
from store.tables import dead_letters, utcnow
from store.writes import storable


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
            "error_message": storable(scrub_text(str(error))),
            "advice": error.advice,
            "context": storable(redact(error.context.as_dict())),
            "attempts": error.context.attempts,
        }
    return {
        "error_class": type(error).__name__,
        "error_message": storable(scrub_text(str(error))[:2000]),
        "advice": "Fix the input and retry it from the review flow",
        "context": None,
        "attempts": 0,
    }


REASON_CHARS = 300  # what a table cell shows; the full error stays in error_message and context
_FIELD_ONLY = {"detail", "message", "error", "errors", "non_field_errors"}  # keys that name no field


def reason(letter: dict[str, Any]) -> str:
    """Why it failed, in SpotDraft's own words where it gave any: what a person needs to decide.

    A 400's body names the fields and what is wrong with each (`contract_template_id: Invalid pk
    "999"`); the advice column only says what kind of error it is. Without a body, the error's
    message without the request's context in brackets. Never raises: one odd letter must not stop
    a review from offering the others.
    """
    try:
        context = letter.get("context")
        body = context.get("body") if isinstance(context, dict) else None
        said = "; ".join(_field_messages(body)) if body not in (None, "", {}, []) else ""
        text = said or str(letter.get("error_message") or "").split(" [", 1)[0] or str(letter.get("advice") or "")
    except Exception:
        text = str(letter.get("error_class") or "unreadable error")
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"


def _field_messages(body: Any, most: int = 50) -> list[str]:
    """`field.sub[0]: message` for the first `most` messages of an error body, walked without recursion
    (a body may be nested deeper than Python's stack)."""
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(body, "")]
    while stack and len(found) < most:
        value, path = stack.pop()
        if isinstance(value, dict):
            stack.extend((v, path if str(k) in _FIELD_ONLY else f"{path}.{k}".lstrip("."))
                         for k, v in reversed(list(value.items())))
        elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(value))))
        elif value not in (None, "", []):
            said = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
            found.append(f"{path}: {said}" if path else said)
    return found


def record(conn: Connection, *, operation: str, target: str | None, inputs: Any, error: BaseException) -> int:
    """Add (or refresh) the pending dead letter of `operation` on `target`; returns its id."""
    flow_name, flow_run_id = current_flow_run()
    values = {
        **describe(error),
        # Exactly what was sent, so a retry sends the same; only known secret values are kept out.
        "inputs": storable(scrub_known_values(inputs)),
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


# -- one review at a time per letter ------------------------------------------------------------------
# A review run claims the letters it offers, so a second review (started by a later failure while the
# first waits for a person) offers only the others, and a decision is carried out only by the review
# holding the claim. A claim holds while its review run is alive, however long that is (its pause has
# a timeout), and lapses as soon as Prefect reports that run over, however it ended; only when Prefect
# cannot be asked does `claimed_until` decide. So a review that crashed while waiting never keeps its
# letters from the next one, and a live one never loses them mid-decision.


def claim(engine, *, claimer: str, until, limit: int, first_from_run: str | None,
          claimer_alive: Callable[[str], bool | None]) -> list[dict[str, Any]]:
    """Claim up to `limit` pending letters nobody else holds; returns them, the triggering run's first.

    `until` is by the database's clock (store.database_now), as the lapse of others' claims is judged.
    """
    now = database_now(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(dead_letters).where(dead_letters.c.status == "pending").order_by(dead_letters.c.id)
        ).all()
    candidates = [dict(r._mapping) for r in rows]
    candidates.sort(key=lambda r: r["flow_run_id"] != first_from_run)
    alive: dict[str, bool | None] = {}  # True, False, or None when Prefect cannot say
    claimed = []
    for letter in candidates:
        if len(claimed) >= limit:
            break
        holder = letter["claimed_by"]
        if holder and holder != claimer:
            if holder not in alive:
                alive[holder] = claimer_alive(holder)
            unexpired = letter["claimed_until"] is not None and letter["claimed_until"] > now
            if alive[holder] or (alive[holder] is None and unexpired):
                continue
        with engine.begin() as conn:  # compare-and-set: two reviews starting together cannot both win
            won = conn.execute(
                dead_letters.update()
                .where(dead_letters.c.id == letter["id"], dead_letters.c.status == "pending",
                       dead_letters.c.claimed_by.is_(None) if holder is None else dead_letters.c.claimed_by == holder)
                .values(claimed_by=claimer, claimed_until=until)
            ).rowcount
        if won == 1:
            claimed.append({**letter, "claimed_by": claimer, "claimed_until": until})
    return claimed


def take(conn: Connection, letter_id: int, *, claimer: str, who: str) -> bool:
    """Whether the claimer may act on this letter now: still pending and still claimed by it."""
    return conn.execute(
        dead_letters.update()
        .where(dead_letters.c.id == letter_id, dead_letters.c.status == "pending",
               dead_letters.c.claimed_by == claimer)
        .values(decided_by=who, decided_at=utcnow())
    ).rowcount == 1


def release(engine, *, claimer: str) -> int:
    """Give back the letters a review still holds (left pending, failed again, or not answered)."""
    with engine.begin() as conn:
        return conn.execute(
            dead_letters.update().where(dead_letters.c.claimed_by == claimer)
            .values(claimed_by=None, claimed_until=None)
        ).rowcount or 0
