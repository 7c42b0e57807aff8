"""What a sync stored, read back, and the checks that the database holds what the source holds and that a
run closed its pass."""

from __future__ import annotations

import sqlalchemy as sa

from store import contracts, engine_for
from tests.support.rows import letters, position


def stored(database_url: str, *, live_only: bool = True) -> dict[str, dict]:
    with engine_for(database_url).connect() as conn:
        query = sa.select(contracts)
        if live_only:
            query = query.where(contracts.c.deleted_at.is_(None))
        return {r.id: dict(r._mapping) for r in conn.execute(query)}


def assert_database_equals_source(sandbox, database_url: str) -> None:
    source = {c["composite_id"]: c for c in sandbox.snapshot()}
    rows = stored(database_url)
    assert set(rows) == set(source)
    for key, contract in source.items():
        row = rows[key]
        assert row["contract_name"] == contract["contract_name"]
        assert row["contract_status"] == contract["contract_status"]
        assert row["record"]["id"] == key and row["composite_id"] == key


def assert_pass_closed_and_key_pointers_accounted_for(database_url: str) -> None:
    """The promises a sync run ends with: the pass closed, no pending letter for it, and every live
    contract's key pointers either stored or a pending dead letter."""
    assert position(database_url)["pass_id"] is None
    pending = [x for x in letters(database_url) if x["status"] == "pending"]
    assert not [x for x in pending if x["operation"] == "list_contracts"], pending
    lettered = {x["target"] for x in pending if x["operation"] == "get_contract_key_pointers"}
    missing = [key for key, row in stored(database_url).items()
               if row["key_pointers"] is None and key not in lettered]
    assert missing == []
