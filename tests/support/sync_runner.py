"""Run one sync pass in its own process, for the kill -9 tests: `python -m tests.support.sync_runner`.

Configuration comes from the environment (the secret never goes on a command line):
SANDBOX_URL, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, DATABASE_URL, FULL_REFRESH (0/1).
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from blocks import SpotDraftCredentials
    from flows import sync_contracts

    credentials = SpotDraftCredentials(
        client_id=os.environ["SANDBOX_CLIENT_ID"], client_secret=os.environ["SANDBOX_CLIENT_SECRET"],
        base_url=os.environ["SANDBOX_URL"],
    )
    state = sync_contracts(
        credentials, database_url=os.environ["DATABASE_URL"], full_refresh=os.environ.get("FULL_REFRESH") == "1",
        page_size=20, concurrency=4, reference_data=False, return_state=True,
    )
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())
