"""`make demo`: sync the sandbox's contracts into spotdraft-demo.db through a real Prefect flow run.

It starts what it needs and stops it afterwards: the sandbox (a SpotDraft-compatible API on
loopback, seeded) and a local Prefect server whose state lives in ./.prefect-home.
Prefect is imported only after the server is up, so its settings point at that server.

The database sits beside the flows' default one (store.database_url.data_directory(), usually
~/.local/share/spotdraft/) but is a file of its own: the sandbox's contracts, and the sync's watermark
after reading them, must never meet a real workspace's in the default database.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFECT_HOME = ROOT / ".prefect-home"


def main() -> int:
    from sandbox import Sandbox
    from store.database_url import data_directory
    from tools.prefect_server import flush_prefect_workers, local_prefect_server

    database = data_directory() / "spotdraft-demo.db"
    database.parent.mkdir(parents=True, exist_ok=True)

    print("Starting the sandbox SpotDraft API and a local Prefect server (first start takes a few seconds)...")
    with Sandbox(contracts=250, seed=42) as sb, local_prefect_server(PREFECT_HOME) as prefect_env:
        os.environ.update(prefect_env)
        from blocks import SpotDraftCredentials
        from flows import sync_contracts

        credentials = SpotDraftCredentials(client_id=sb.client_id, client_secret=sb.client_secret,
                                           base_url=sb.base_url)
        database_url = f"sqlite:///{database}"
        state = sync_contracts(credentials, database_url=database_url, return_state=True)
        flush_prefect_workers()
        if not state.is_completed():
            print(f"\nThe sync ended {state.name}: {state.message}", file=sys.stderr)
            return 1
        summary = state.result()
    print(f"\nsynced {summary['contracts_read']} contracts into {database}")
    print(f"""
Look at it:
  sqlite3 {database} "select id, contract_name, contract_status from contracts limit 5"
  or, without the sqlite3 shell:
  .venv/bin/python -c "import sqlite3; db = sqlite3.connect('{database}'); \\
      print(db.execute('select count(*) from contracts').fetchone())"
  Tables: contracts, counterparties, templates, created_contracts, dead_letters, sync_state.
Run it again: `make demo` reads only what changed since this pass (incremental).
See the run in Prefect's UI: PREFECT_HOME={PREFECT_HOME.name} .venv/bin/prefect server start, then http://127.0.0.1:4200
""")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
