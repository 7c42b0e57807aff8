"""The per-contract sync's tickets (table contract_syncs): a counter of changes asked for, and the one a read covered.

Every change that needs a contract read again takes a ticket: a delivery the webhook receiver stored, or a run of
flows.sync_contract that started. A read that began after ticket N was taken stores N as `covered` with its rows,
so a change is synced once `covered` reaches its ticket. The design: docs/design/sync.md (`flows/sync_contract.py`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.tables import contract_syncs


def bump_ticket(conn: Connection, key: str) -> int:
    """A new ticket for contract `key` (its integer id as text), in the caller's transaction.

    The UPDATE comes first: on SQLite it takes the write lock at once, so transactions that bump tickets
    wait for each other (busy_timeout) instead of failing to upgrade a read.
    """
    bump = contract_syncs.update().where(contract_syncs.c.contract_id == key).values(
        requested=contract_syncs.c.requested + 1)
    if not conn.execute(bump).rowcount:
        try:
            with conn.begin_nested():
                conn.execute(contract_syncs.insert().values(contract_id=key, requested=1, covered=0))
        except sa.exc.IntegrityError:  # another transaction made the row between the two statements
            conn.execute(bump)
    return conn.execute(sa.select(contract_syncs.c.requested).where(contract_syncs.c.contract_id == key)).scalar_one()


def take_ticket(engine: Engine, key: str) -> int:
    """A new ticket for this contract in a transaction of its own: the number of tickets issued so far."""
    with engine.begin() as conn:
        return bump_ticket(conn, key)


def counters(bind: Engine | Connection, key: str) -> tuple[int, int]:
    """(requested, covered) of the contract; (0, 0) for one that never took a ticket."""
    query = sa.select(contract_syncs.c.requested, contract_syncs.c.covered).where(contract_syncs.c.contract_id == key)
    if isinstance(bind, Connection):
        row = bind.execute(query).first()
    else:
        with bind.connect() as conn:
            row = conn.execute(query).first()
    return (row.requested, row.covered) if row else (0, 0)
