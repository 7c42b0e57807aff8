"""The secret canaries' tools for tests with canary values of their own (the archive's): a `Place` scanned for
given values, and the sandbox's signatures carrying one. The REST reads of a real `prefect server` and the
scans of files and databases are the canary test's own (tests/support/prefect_rest.py, secret_canary.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.support.prefect_rest import flow_run, paged, pause_schedules, read_events, rest, runs_of
from tests.support.prefect_rest import wait_for_run as wait_for
from tests.support.prefect_server import TERMINAL, cli
from tests.support.secret_canary import scan_files, sqlite_dump

__all__ = ["TERMINAL", "Place", "canary_signatures", "cli", "flow_run", "paged", "pause_schedules", "read_events",
           "rest", "runs_of", "scan_files", "sqlite_dump", "wait_for"]


def canary_signatures(sandbox, signature: str, *, whole: bool = False) -> None:
    """Every signature the sandbox's store hands out (and checks) carries `signature`: workspace files' and
    contract documents' URLs alike. With `whole`, every signature is exactly `signature` (for a scripted answer
    that repeats the one it was sent)."""
    store = sandbox.app.storage
    sign = store._signature
    store._signature = lambda method, file_id, expires: signature + ("" if whole else sign(method, file_id, expires))


@dataclass
class Place:
    """One place a secret could leak to, and what its scan found of `canaries` (label -> value)."""

    name: str
    canaries: dict[str, str]
    items: int = 0
    size: int = 0
    hits: list[str] = field(default_factory=list)

    def scan(self, what: str, content: str | bytes, count: int = 1) -> None:
        data = content.encode("utf-8", "backslashreplace") if isinstance(content, str) else content
        self.items += count
        self.size += len(data)
        for label, canary in self.canaries.items():
            for match in re.finditer(re.escape(canary.encode()), data):
                start, end = max(0, match.start() - 160), match.end() + 60
                snippet = data[start:end].decode("utf-8", "replace").replace("\n", "\\n")
                self.hits.append(f"{label} in {what}: ...{snippet}...")
