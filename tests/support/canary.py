"""The secret canaries' tools in one import, for tests with canary values of their own (the archive's): a `Place`
scanned for given values, and the sandbox's signatures carrying one. The REST reads of a real `prefect server` and the
scans of files and databases are the canary test's own (tests/support/prefect_rest.py, secret_canary.py)."""

from __future__ import annotations

from tests.support.prefect_rest import flow_run, paged, pause_schedules, read_events, rest, runs_of
from tests.support.prefect_rest import wait_for_run as wait_for
from tests.support.prefect_server import TERMINAL, cli
from tests.support.secret_canary import Place, canary_signatures, scan_files, sqlite_dump

__all__ = ["TERMINAL", "Place", "canary_signatures", "cli", "flow_run", "paged", "pause_schedules", "read_events",
           "rest", "runs_of", "scan_files", "sqlite_dump", "wait_for"]
