"""Write the databases that releases before Alembic left behind, as SQL files the migration tests load.

Run once, by hand: `.venv/bin/python -m tests.data.dump_schema_snapshots` (needs git and PostgreSQL).
The schemas come from flows/store.py as committed in those releases (read with `git show`), never from
the working tree, so a rerun writes the same databases whatever the code is today:

- before_migrations: the last release without Alembic (a5da849), its `metadata.create_all`;
- first_release: the first release (2d9bf7c), without the columns and the table added since;
- first_release_columns_added: the first release's database after the last release without Alembic ran
  on it: its `_add_missing_columns` added the columns, without their comments.

Each gets the same rows (those columns its tables have). SQLite is dumped with `iterdump`, PostgreSQL
with `pg_dump --inserts` (its `\\restrict` lines, a random key per dump, dropped; psql loads it).
"""

from __future__ import annotations

import sqlite3
import subprocess
import tempfile
import types
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from tests.support.databases import new_database, postgres_bin, postgres_server

HERE = Path(__file__).resolve().parent
LAST_BEFORE_ALEMBIC, FIRST_RELEASE = "a5da849", "2d9bf7c"

ROWS: dict[str, list[dict]] = {
    "contracts": [
        {"id": "101", "composite_id": "T-101", "contract_name": "NDA \u2013 Ünïcode GmbH",
         "contract_status": "EXECUTED", "contract_type_id": 7, "contract_type_name": "NDA",
         "counter_party_name": "Ünïcode GmbH", "reference_id": "R-1", "created": "2024-01-02T03:04:05Z",
         "key_pointers": [{"label": "Term", "value": "2y"}],
         "record": {"id": 101, "contract_name": "NDA \u2013 Ünïcode GmbH", "nested": {"a": [1, 2, None]}},
         "synced_at": datetime(2024, 1, 2, 3, 4, 5, 123456), "deleted_at": None, "seen_in_pass": "pass-1"},
        {"id": "102", "composite_id": "H-102", "contract_name": None, "contract_status": "DRAFT",
         "contract_type_id": None, "contract_type_name": None, "counter_party_name": None, "reference_id": None,
         "created": None, "key_pointers": None, "record": {"id": 102},
         "synced_at": datetime(2024, 1, 3), "deleted_at": datetime(2024, 2, 1, 12), "seen_in_pass": None},
    ],
    "counterparties": [
        {"id": "c1", "name": "Acme", "is_individual": False, "record": {"id": "c1"}, "synced_at": datetime(2024, 1, 4)},
        {"id": "c2", "name": "Jane O'Neil", "is_individual": True, "record": {"id": "c2", "x": "y"},
         "synced_at": datetime(2024, 1, 5)},
    ],
    "templates": [
        {"id": "t1", "name": "MSA", "contract_type_id": 3, "record": {"id": "t1"}, "synced_at": datetime(2024, 1, 6)},
    ],
    "sync_state": [
        {"name": "contracts", "watermark": datetime(2024, 1, 1), "pass_id": "pass-2",
         "pass_started_at": datetime(2024, 1, 7), "pass_since": None, "pass_full": True, "next_page": 3,
         "page_total": 250, "page_size": 100, "updated_at": datetime(2024, 1, 7, 1)},
    ],
    "created_contracts": [
        {"external_id": "crm-1", "contract_id": "201", "template_id": 3, "contract_name": "MSA Acme",
         "outcome": "created", "sent_at": datetime(2024, 1, 8), "record": {"external_id": "crm-1"},
         "flow_run_id": "run-1", "created_at": datetime(2024, 1, 8)},
        {"external_id": "crm-2", "contract_id": "202", "template_id": None, "contract_name": None,
         "outcome": "found", "sent_at": None, "record": None, "flow_run_id": None, "created_at": datetime(2024, 1, 9)},
    ],
    "record_leases": [
        {"key": "create:crm-3", "holder": "run-2", "expires_at": datetime(2024, 1, 10)},
    ],
    "dead_letters": [
        {"operation": "get_contract", "target": "T-101", "inputs": {"composite_id": "T-101"},
         "error_class": "SpotDraftServerError", "error_message": "503 Service Unavailable", "advice": "retry later",
         "context": {"status": 503, "path": "/api/v2.1/public/contracts/T-101"}, "attempts": 4,
         "flow_name": "sync-contracts", "flow_run_id": "run-3", "created_at": datetime(2024, 1, 11),
         "status": "pending", "decided_by": None, "decided_at": None, "outcome": None,
         "claimed_by": "run-4", "claimed_until": datetime(2024, 1, 12)},
        {"operation": "create_contract", "target": "crm-4", "inputs": {"external_id": "crm-4"},
         "error_class": "SpotDraftValidationError", "error_message": "400", "advice": None, "context": None,
         "attempts": 1, "flow_name": "create-contracts", "flow_run_id": "run-5", "created_at": datetime(2024, 1, 13),
         "status": "replayed", "decided_by": "ops@example.com", "decided_at": datetime(2024, 1, 14),
         "outcome": {"contract_id": "203"}, "claimed_by": None, "claimed_until": None},
    ],
}


def store_at(commit: str) -> types.ModuleType:
    """flows/store.py as committed in `commit`, as a module of its own (it imports nothing of ours)."""
    source = subprocess.run(["git", "show", f"{commit}:flows/store.py"], cwd=HERE, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f"store_{commit}")
    exec(compile(source, f"{commit}:flows/store.py", "exec"), module.__dict__)
    return module


def fill(url: str, variant: str) -> None:
    """Create `variant`'s schema at `url` with the code of its release, and write the rows."""
    old = store_at(FIRST_RELEASE if variant.startswith("first_release") else LAST_BEFORE_ALEMBIC)
    engine = sa.create_engine(url)
    old.metadata.create_all(engine)
    with engine.begin() as conn:
        for table in old.metadata.sorted_tables:
            rows = [{k: v for k, v in row.items() if k in table.c} for row in ROWS[table.name]]
            if rows:
                conn.execute(table.insert(), rows)
    if variant == "first_release_columns_added":
        store_at(LAST_BEFORE_ALEMBIC)._add_missing_columns(engine)
    engine.dispose()


def dump_sqlite(variant: str) -> None:
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "spotdraft.db"
        fill(f"sqlite:///{path}", variant)
        with sqlite3.connect(path) as conn:
            text = "\n".join(conn.iterdump()) + "\n"
    (HERE / f"schema_{variant}_sqlite.sql").write_text(text)


def dump_postgresql(server_url: str, variant: str) -> None:
    url = new_database(server_url)
    fill(url, variant)
    plain = sa.engine.make_url(url)
    dump = subprocess.run([f"{postgres_bin()}/pg_dump", "--inserts", "--no-owner", "--no-privileges",
                           "-h", plain.host, "-p", str(plain.port), "-U", plain.username, plain.database],
                          check=True, capture_output=True, text=True).stdout
    kept = [line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))]
    (HERE / f"schema_{variant}_postgresql.sql").write_text("\n".join(kept) + "\n")


VARIANTS = ("before_migrations", "first_release", "first_release_columns_added")

if __name__ == "__main__":
    for name in VARIANTS:
        dump_sqlite(name)
    with postgres_server() as server:
        for name in VARIANTS:
            dump_postgresql(server, name)
