"""What a sync stored, read back, and the check that the database holds what the source holds."""

from __future__ import annotations

import sqlalchemy as sa

from store import contracts, engine_for


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
