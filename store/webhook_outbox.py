"""The webhook receiver's outbox (table webhook_deliveries): each verified delivery, its Prefect event until the
Prefect API has it, and its change until a sync has stored it.

The design, and why: docs/design/webhooks.md (section `store/webhook_outbox.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.engine import database_now
from store.sync_tickets import bump_ticket
from store.tables import contract_syncs
from store.tables import webhook_deliveries as deliveries

RETENTION = timedelta(days=7)  # as long as a Prefect server keeps events by default: a replay within it is known
SYNCED = "synced"


@dataclass(frozen=True)
class PendingSync:
    """A contract with deliveries no stored read has covered yet."""

    contract_id: str
    first_received: datetime
    last_received: datetime
    ticket: int  # the highest ticket of those deliveries: a read that covers it covers them all
    deliveries: int


@dataclass(frozen=True)
class UnsentEvent:
    event_id: str
    event: str  # the event as JSON
    received_at: datetime


def record_delivery(engine: Engine, *, event_id: str, contract_id: str, event_name: str, event: str) -> bool:
    """Store a verified delivery and take a ticket for its contract, in one transaction: True once committed.

    False for a delivery stored before (a replay: the same bytes give the same event id), and then nothing is
    written. The ticket is taken first: on SQLite that statement takes the write lock, so two copies of one
    delivery arriving at once wait for each other, and the second finds the first's row.
    """
    try:
        with engine.begin() as conn:
            ticket = bump_ticket(conn, contract_id)
            conn.execute(deliveries.insert().values(
                event_id=event_id, contract_id=contract_id, event_name=event_name, event=event, ticket=ticket,
                received_at=database_now(conn)))
        return True
    except sa.exc.IntegrityError:
        if is_recorded(engine, event_id):  # the ticket taken above was rolled back with the row
            return False
        raise


def is_recorded(engine: Engine, event_id: str) -> bool:
    with engine.connect() as conn:
        found = conn.execute(sa.select(deliveries.c.event_id).where(deliveries.c.event_id == event_id)).first()
    return found is not None


def unsent_events(engine: Engine, limit: int = 100) -> list[UnsentEvent]:
    """The oldest events the Prefect API has not accepted yet, in the order they were received."""
    query = (sa.select(deliveries.c.event_id, deliveries.c.event, deliveries.c.received_at)
             .where(deliveries.c.emitted_at.is_(None)).order_by(deliveries.c.received_at).limit(limit))
    with engine.connect() as conn:
        return [UnsentEvent(*row) for row in conn.execute(query)]


def mark_sent(engine: Engine, event_ids: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.event_id.in_(event_ids), deliveries.c.emitted_at.is_(None))
                     .values(emitted_at=database_now(conn)))


def settle_covered(engine: Engine, contract_id: str | None = None) -> int:
    """Mark the deliveries whose ticket a stored read covered (of one contract, or all) as synced; how many."""
    covered = (sa.select(contract_syncs.c.covered).where(contract_syncs.c.contract_id == deliveries.c.contract_id)
               .scalar_subquery())
    condition = [deliveries.c.settled_at.is_(None), deliveries.c.ticket <= covered]
    if contract_id is not None:
        condition.append(deliveries.c.contract_id == contract_id)
    with engine.begin() as conn:
        return conn.execute(deliveries.update().where(*condition)
                            .values(settled_at=database_now(conn), outcome=SYNCED)).rowcount


def pending_syncs(engine: Engine) -> list[PendingSync]:
    """Each contract with deliveries no stored read has covered, the one waiting longest first (a read only: it is
    asked several times a second)."""
    first = sa.func.min(deliveries.c.received_at)
    covered = sa.func.coalesce(contract_syncs.c.covered, 0)
    same_contract = contract_syncs.c.contract_id == deliveries.c.contract_id
    query = (sa.select(deliveries.c.contract_id, first, sa.func.max(deliveries.c.received_at),
                       sa.func.max(deliveries.c.ticket), sa.func.count())
             .select_from(deliveries.outerjoin(contract_syncs, same_contract))
             .where(deliveries.c.settled_at.is_(None), deliveries.c.ticket > covered)
             .group_by(deliveries.c.contract_id).order_by(first))
    with engine.connect() as conn:
        return [PendingSync(*row) for row in conn.execute(query)]


def give_up(engine: Engine, contract_id: str, up_to_ticket: int, outcome: str) -> int:
    """Settle the contract's deliveries up to `up_to_ticket` without a sync (a failed run the review has)."""
    with engine.begin() as conn:
        return conn.execute(deliveries.update().where(
            deliveries.c.contract_id == contract_id, deliveries.c.settled_at.is_(None),
            deliveries.c.ticket <= up_to_ticket).values(settled_at=database_now(conn), outcome=outcome[:500])).rowcount


def prune(engine: Engine, older_than: timedelta = RETENTION) -> int:
    """Forget deliveries sent and settled more than `older_than` ago; a replay of one is then a new delivery."""
    with engine.begin() as conn:
        horizon = database_now(conn) - older_than
        return conn.execute(deliveries.delete().where(
            deliveries.c.emitted_at.is_not(None), deliveries.c.settled_at < horizon)).rowcount


@dataclass(frozen=True)
class Backlog:
    unsent: int
    unsynced: int
    oldest_unsynced: datetime | None
    now: datetime


def backlog(engine: Engine) -> Backlog:
    """What still waits: events not yet sent, deliveries not yet synced, and when the oldest of those came."""
    with engine.connect() as conn:
        unsent = conn.execute(sa.select(sa.func.count()).where(deliveries.c.emitted_at.is_(None))).scalar_one()
        unsynced, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(deliveries.c.received_at))
                                        .where(deliveries.c.settled_at.is_(None))).one()
        return Backlog(unsent, unsynced, oldest, database_now(conn))
