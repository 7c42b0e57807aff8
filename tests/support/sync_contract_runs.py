"""One run of sync_contract, its final state, and waiting for what a run in another thread does."""

from __future__ import annotations

import time

from flows.sync_contract import sync_contract


def run(credentials, contract_id, database_url: str, settle_seconds: float = 0):
    """A run of sync_contract, its final state; no settling unless asked for."""
    return sync_contract(credentials, contract_id, database_url=database_url, settle_seconds=settle_seconds,
                         return_state=True)


def wait(condition, timeout: float = 60.0) -> None:
    """Until `condition()` holds; fails after `timeout` seconds (a deadline: flow runs in threads beside the test,
    seconds slower on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
