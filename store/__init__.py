"""The storage layer the flows write: tables, engines, keyed writes, migrations, sync state, dead letters, leases.

It imports no flow. The names most code needs are here; each module holds one job (tables, engine, writes,
contract_reads, sync_state, sync_tickets, dead_letters, leases, migrations, migrate, database_url; webhook_outbox,
the webhook receiver's; analytics_tables, generated from the spec, and analytics_swap, which loads and swaps them).
"""

from store.analytics_tables import ANALYTICS_TABLES
from store.contract_reads import mark_deleted, mark_seen
from store.engine import database_now, dispose_engine, engine_for
from store.tables import (
    analytics_snapshots,
    archive_state,
    archive_writes,
    archived_documents,
    contract_syncs,
    contracts,
    counterparties,
    created_contracts,
    dead_letters,
    metadata,
    record_leases,
    sync_state,
    templates,
    utcnow,
    webhook_deliveries,
)
from store.writes import fit_row, storable, upsert, upsert_each

__all__ = [
    "ANALYTICS_TABLES",
    "analytics_snapshots",
    "archive_state",
    "archive_writes",
    "archived_documents",
    "contract_syncs",
    "contracts",
    "counterparties",
    "created_contracts",
    "database_now",
    "dead_letters",
    "dispose_engine",
    "engine_for",
    "fit_row",
    "mark_deleted",
    "mark_seen",
    "metadata",
    "record_leases",
    "storable",
    "sync_state",
    "templates",
    "upsert",
    "upsert_each",
    "utcnow",
    "webhook_deliveries",
]
