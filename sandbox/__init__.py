"""A SpotDraft-compatible API on loopback: seeded data, exact paths, faults on demand.

The embedded default for the demo and the server every test talks to. Start it in-process
(`with Sandbox(...) as sb:`), as a process (`SandboxProcess`, or `python -m sandbox`), and shape
what goes wrong with `Faults` and `sb.script(...)`. It needs nothing but its own package: the
parts of SpotDraft's OpenAPI document it serves are distilled in `answers.json`.
"""

from .data import ANCHOR, STATUSES, Contract, SandboxState
from .faults import Faults
from .recorder import RequestRecord
from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, SandboxProcess

__all__ = [
    "ANCHOR",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "STATUSES",
    "Contract",
    "Faults",
    "RequestRecord",
    "Sandbox",
    "SandboxProcess",
    "SandboxState",
]
