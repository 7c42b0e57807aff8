"""Run archive_contracts in its own process, for the kill -9 tests: `python -m tests.support.archive_runner`.

Configuration comes from the environment (the secret never goes on a command line): SANDBOX_URL,
SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, DATABASE_URL, and STORAGE, a JSON object: {"basepath": ...} for a
LocalFileSystem, or {"basepath": "s3://...", "settings": {...}} for a RemoteFileSystem.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    from prefect.filesystems import LocalFileSystem, RemoteFileSystem

    from blocks import SpotDraftCredentials
    from flows import archive_contracts

    credentials = SpotDraftCredentials(
        client_id=os.environ["SANDBOX_CLIENT_ID"], client_secret=os.environ["SANDBOX_CLIENT_SECRET"],
        base_url=os.environ["SANDBOX_URL"],
    )
    given = json.loads(os.environ["STORAGE"])
    storage = RemoteFileSystem(**given) if "://" in given["basepath"] else LocalFileSystem(**given)
    state = archive_contracts(credentials, storage, database_url=os.environ["DATABASE_URL"], full=True,
                              concurrency=3, page_size=10, return_state=True)
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())
