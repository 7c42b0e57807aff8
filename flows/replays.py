"""How the review carries out a dead letter again: one function per operation, registered with
`@replays("operation")` beside the flow that writes that operation's dead letters.

A replay takes (credentials, database_url, inputs, payload): `inputs` are what the first attempt sent,
`payload` a person's edit of them (None: retry as it was). It returns what it did, or raises: the
letter then failed again.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from client.redaction import MASK
from store import leases

Replay = Callable[[Any, str, dict[str, Any], dict[str, Any] | None], dict[str, Any]]
REPLAYS: dict[str, Replay] = {}

# The modules that register replays: imported before a replay is looked up, whoever imported what before.
_REGISTERING = ("flows.create", "flows.sync_pages", "flows.deletions", "flows.sync", "flows.sync_contract",
                "flows.review", "flows.analytics", "flows.archive")


def replays(operation: str) -> Callable[[Replay], Replay]:
    """Register the decorated function as the replay of `operation`'s dead letters."""
    def register(function: Replay) -> Replay:
        REPLAYS[operation] = function
        return function
    return register


def replay_for(operation: str) -> Replay:
    for module in _REGISTERING:
        importlib.import_module(module)
    if operation not in REPLAYS:
        raise ValueError(f"no replay is defined for {operation}; discard it once handled by hand")
    return REPLAYS[operation]


def exact_inputs(inputs: dict[str, Any], payload: dict[str, Any] | None) -> dict[str, Any]:
    """The inputs a replay sends: the person's edit, or exactly what the first attempt sent.

    A secret in the inputs (a field the spec marks secret, a credential) was not kept when the letter
    was written, so such a letter can only be replayed with the value given again as an edit.
    """
    if payload is not None:
        return payload
    if MASK in json.dumps(inputs, default=str):
        raise ValueError("these inputs held a secret that was not kept; retry_with_edits with the full inputs")
    return inputs


@contextlib.contextmanager
def leased(engine, key: str) -> Iterator[None]:
    """Replay only while no run is writing the same record (see store.leases); otherwise fail again, later."""
    with leases.lease(engine, key, leases.holder_id()) as held:
        if not held:
            raise ValueError(f"another run holds this record ({leases.describe(engine, key)}); retry it once that "
                             "run has ended or its lease has lapsed")
        yield
