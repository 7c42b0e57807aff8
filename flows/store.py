"""The tables the flows write, and the few statements they need, with SQLAlchemy Core.

Any database SQLAlchemy supports works; SQLite (the default) and PostgreSQL are tested. Every write
is keyed (upserts on the primary key), so a page written twice leaves one row per record, and the
sync's checkpoint is written in the same transaction as the page it describes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from client.text import NOT_UTF8, NOT_UTF8_OR_NUL, replace_unfit
from flows.migrations import upgrade_schema

# Changing a table here needs an Alembic revision too (flows/migrations/versions/; see flows/migrate.py):
# databases are upgraded by those revisions, never by create_all.
metadata = sa.MetaData()


def utcnow() -> datetime:
    """Naive UTC: stored the same way in SQLite (no time zones) and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def database_now(bind: Engine | Connection) -> datetime:
    """Now by the database's clock, naive UTC: for times that runs on different workers compare.

    Which read is newer (`contracts.read_at`) and whether a lease or a claim has lapsed are decided
    between workers; their own clocks may disagree by minutes, the database they share has one.
    PostgreSQL is asked (`clock_timestamp()`, not the transaction's start). A SQLite file is only
    shared by processes of one host, whose clock is the database's. Other dialects: this process's clock.
    """
    if bind.dialect.name != "postgresql":
        return utcnow()
    query = sa.text("SELECT timezone('UTC', clock_timestamp())")
    if isinstance(bind, Connection):
        return bind.execute(query).scalar_one()
    with bind.connect() as conn:
        return conn.execute(query).scalar_one()


contracts = sa.Table(
    "contracts", metadata,
    sa.Column("id", sa.Text, primary_key=True, comment="SpotDraft's contract id, as text"),
    sa.Column("composite_id", sa.Text, comment="T-<id> or H-<id>, as the per-contract endpoints take it"),
    sa.Column("contract_name", sa.Text),
    sa.Column("contract_status", sa.Text),
    sa.Column("contract_type_id", sa.Integer),
    sa.Column("contract_type_name", sa.Text),
    sa.Column("counter_party_name", sa.Text),
    sa.Column("reference_id", sa.Text),
    sa.Column("created", sa.Text),
    sa.Column("key_pointers", sa.JSON, comment="as received; NULL when enrichment failed (see dead_letters)"),
    sa.Column("record", sa.JSON, nullable=False, comment="the list answer's record, as received"),
    sa.Column("synced_at", sa.DateTime, nullable=False),
    sa.Column("deleted_at", sa.DateTime, comment="set by a full refresh when the contract is gone upstream"),
    sa.Column("seen_in_pass", sa.Text, comment="id of the last sync pass that read this contract"),
    sa.Column("read_at", sa.DateTime, comment="when the read this row came from began; an older read never "
              "overwrites it (upsert)"),
    # A full pass and a per-contract sync may write one contract at the same time: the read begun later
    # wins, whichever commits last. (Our clocks, not SpotDraft's: the list answer carries no update time.)
    info={"newer_read_wins": "read_at"},
)

counterparties = sa.Table(
    "counterparties", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("is_individual", sa.Boolean),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("synced_at", sa.DateTime, nullable=False),
)

templates = sa.Table(
    "templates", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("contract_type_id", sa.Integer),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("synced_at", sa.DateTime, nullable=False),
)

sync_state = sa.Table(
    "sync_state", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("watermark", sa.DateTime, comment="start of the last complete pass; next pass reads from here"),
    sa.Column("pass_id", sa.Text, comment="the pass under way; NULL when none is"),
    sa.Column("pass_started_at", sa.DateTime),
    sa.Column("pass_since", sa.DateTime, comment="the pass's last_updated_on filter; NULL = everything"),
    sa.Column("pass_full", sa.Boolean, nullable=False, default=False),
    sa.Column("next_page", sa.Integer, nullable=False, default=1),
    sa.Column("page_total", sa.Integer, comment="total_results seen on the last committed page"),
    sa.Column("page_size", sa.Integer, comment="the pass's page size, kept when it is resumed"),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

created_contracts = sa.Table(
    "created_contracts", metadata,
    sa.Column("external_id", sa.Text, primary_key=True, comment="the upstream record's id"),
    sa.Column("contract_id", sa.Text, nullable=False, comment="SpotDraft's contract id"),
    sa.Column("template_id", sa.Integer),
    sa.Column("contract_name", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False, comment="created, or found (it existed already)"),
    sa.Column("sent_at", sa.DateTime, comment="when it was sent to its counterparties; NULL: not (yet) sent"),
    sa.Column("record", sa.JSON),
    sa.Column("flow_run_id", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

record_leases = sa.Table(
    "record_leases", metadata,
    sa.Column("key", sa.Text, primary_key=True, comment="what is being written: create:<external id>"),
    sa.Column("holder", sa.Text, nullable=False, comment="the flow run (or process) writing it now"),
    sa.Column("expires_at", sa.DateTime, nullable=False, comment="when another run may take it over"),
)

contract_syncs = sa.Table(
    "contract_syncs", metadata,
    sa.Column("contract_id", sa.Text, primary_key=True, comment="SpotDraft's integer contract id, as text"),
    sa.Column("requested", sa.Integer, nullable=False, default=0,
              comment="tickets issued: runs of sync_contract started for it"),
    sa.Column("covered", sa.Integer, nullable=False, default=0,
              comment="the highest ticket issued before a stored read began"),
    sa.Column("synced_at", sa.DateTime, comment="when that read was stored"),
    sa.Column("flow_run_id", sa.Text, comment="the run that stored it"),
)

dead_letters = sa.Table(
    "dead_letters", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("operation", sa.Text, nullable=False, comment="catalog operation (task) name"),
    sa.Column("target", sa.Text, comment="what it was about: a composite id, an external id, a page"),
    sa.Column("inputs", sa.JSON, nullable=False, comment="the operation's inputs, no secret"),
    sa.Column("error_class", sa.Text, nullable=False),
    sa.Column("error_message", sa.Text, nullable=False),
    sa.Column("advice", sa.Text),
    sa.Column("context", sa.JSON, comment="host, method, path, status, request id, workspace, ... body"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("flow_name", sa.Text),
    sa.Column("flow_run_id", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.Text, nullable=False, default="pending", comment="pending, replayed or discarded"),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("outcome", sa.JSON, comment="the replay's result or its new error"),
    sa.Column("claimed_by", sa.Text, comment="the review run offering this letter now; one review at a time"),
    sa.Column("claimed_until", sa.DateTime, comment="when that claim lapses if the review never answers"),
    sa.Index("ix_dead_letters_status", "status"),
)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(database_url: str) -> Engine:
    """One engine per URL per process, its database brought to this release's schema on first use.

    The upgrade (flows.migrations) is serialised across processes and costs one version read when
    there is nothing to do; a database a newer release upgraded raises SchemaTooNew instead.
    """
    with _engines_lock:
        if database_url not in _engines:
            _engines[database_url] = _upgraded_engine(database_url)
        return _engines[database_url]


def dispose_engine(database_url: str) -> None:
    """Close the pooled connections of the URL's engine, if this process made one (it reconnects on use)."""
    with _engines_lock:
        engine = _engines.get(database_url)
    if engine is not None:
        engine.dispose()


def _upgraded_engine(database_url: str) -> Engine:
    engine = sa.create_engine(database_url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # durable per-page commits, readers not blocked
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may wait for another process
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

    upgrade_schema(engine)
    return engine


def upsert(conn: Connection, table: sa.Table, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert rows, or update them in place when their primary key exists. Returns the row count."""
    rows = list(rows)
    if not rows:
        return 0
    dialect = conn.engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # portable fallback: one merge per row
        return _merge_rows(conn, table, rows)
    keys = [c.name for c in table.primary_key.columns]
    statement = insert(table)
    update = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys and c.name in rows[0]}
    where = None
    if (version := _version_column(table, rows[0])) is not None:
        where = sa.or_(version.is_(None), statement.excluded[version.name] >= version)
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=update, where=where), rows)
    return len(rows)


def mark_deleted(conn: Connection, composite_ids: Iterable[str], read_at: datetime) -> int:
    """Mark contracts deleted upstream, as seen by a read begun at `read_at`; returns how many were marked.

    A deletion is a read like any other and takes part in "the newer read wins" both ways: it is not
    applied over a row stored from a read begun later, and it stamps `read_at`, so an older read
    committed after it (a full pass's page read before the deletion) cannot bring the contract back.
    """
    ids, marked = list(composite_ids), 0
    for start in range(0, len(ids), 500):
        marked += conn.execute(
            contracts.update()
            .where(contracts.c.composite_id.in_(ids[start:start + 500]), contracts.c.deleted_at.is_(None),
                   sa.or_(contracts.c.read_at.is_(None), contracts.c.read_at <= read_at))
            .values(deleted_at=utcnow(), read_at=read_at)
        ).rowcount or 0
    return marked


def mark_seen(conn: Connection, ids: list[str], pass_id: str) -> None:
    """Note that a pass read these contracts, whichever read's data their rows keep.

    Apart from the upsert: a row a newer read has written keeps that read's data, but the pass did see
    the contract, and must not take it for a deletion candidate (sync_state.vanished).
    """
    for start in range(0, len(ids), 500):
        conn.execute(contracts.update().where(contracts.c.id.in_(ids[start:start + 500]))
                     .values(seen_in_pass=pass_id))


def _version_column(table: sa.Table, row: Mapping[str, Any]) -> sa.Column | None:
    """The column whose larger value wins a conflict (table.info["newer_read_wins"]), when the rows set it."""
    name = table.info.get("newer_read_wins")
    return table.c[name] if name and name in row else None


# The largest value a column of each kind holds everywhere we run (PostgreSQL's INTEGER is 32 bits).
_INT_RANGE = (-(2**31), 2**31 - 1)


def fit_row(table: sa.Table, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`row` with each value made to fit its column, and what had to change (empty when nothing).

    SpotDraft's answers are data we do not control: a dict where a name belongs, "abc" or 10**12
    where an integer belongs, a NUL character PostgreSQL refuses in text. Each table keeps the
    record as received in its JSON column; the typed columns get the nearest fitting value (JSON
    text for a structure, NULL for a number that is not one), so one odd record cannot fail a page.
    """
    fitted, changes = dict(row), []
    for name, value in row.items():
        column = table.c.get(name)
        if column is None or value is None or isinstance(column.type, sa.DateTime):
            continue
        new = storable(value) if isinstance(column.type, sa.JSON) else _fit(column.type, value)
        if new is not value and new != value:
            fitted[name] = new
            changes.append(f"{name}: {type(value).__name__} {_preview(value)} stored as {_preview(new)}")
    return fitted, changes


def _fit(kind: sa.types.TypeEngine, value: Any) -> Any:
    if isinstance(kind, sa.Boolean):
        return value if isinstance(value, bool) else None
    if isinstance(kind, sa.Integer):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool) and _INT_RANGE[0] <= value <= _INT_RANGE[1]
        return value if ok else None
    if isinstance(kind, sa.String):  # Text too
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        return replace_unfit(text, NOT_UTF8_OR_NUL)  # NUL too: PostgreSQL refuses it in text
    return value


def storable(value: Any) -> Any:
    """A JSON-like value every database can store: lone surrogates (valid JSON, not UTF-8) become U+FFFD.

    For JSON columns (the record as received, a dead letter's inputs); NUL stays, as JSON escapes it.
    """
    return replace_unfit(value, NOT_UTF8)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def upsert_each(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> list[tuple[dict, Exception]]:
    """Upsert rows together, or, when the database refuses the batch, one by one: returns the refused rows.

    Each attempt runs in a savepoint, so a refused row rolls back alone and the rest of the page
    (and its checkpoint, written in the same transaction) still commits. Rows are grouped by the
    columns they set (a row may leave a column out to keep its stored value).
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return [refused for group in groups.values() for refused in _upsert_group(conn, table, group)]


def _upsert_group(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> list[tuple[dict, Exception]]:
    try:
        with conn.begin_nested():
            upsert(conn, table, rows)
        return []
    except _REFUSED:
        pass
    refused = []
    for row in rows:
        try:
            with conn.begin_nested():
                upsert(conn, table, [row])
        except _REFUSED as error:
            refused.append((row, error))
    return refused


# A row the database or its driver will not take (a value it cannot encode, a constraint).
_REFUSED = (sa.exc.DBAPIError, sa.exc.StatementError, UnicodeError, ValueError)


def _merge_rows(conn: Connection, table: sa.Table, rows: list[Mapping[str, Any]]) -> int:
    keys = [c.name for c in table.primary_key.columns]
    for row in rows:
        where = sa.and_(*(table.c[k] == row[k] for k in keys))
        if conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar():
            if (version := _version_column(table, row)) is not None:
                where = sa.and_(where, sa.or_(version.is_(None), version <= row[version.name]))
            conn.execute(table.update().where(where).values(**row))
        else:
            conn.execute(table.insert().values(**row))
    return len(rows)
