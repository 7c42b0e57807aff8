"""A SpotDraft-compatible API on loopback: seeded data, exact paths, faults on demand.

The embedded default for the demo and the server every test talks to. Start it in-process
(`with Sandbox(...) as sb:`), as a process (`SandboxProcess`, or `python -m sandbox`), and shape
what goes wrong with `Faults` and `sb.script(...)`; `sb.reset()` puts it back as it started
(controls.py declares every control once). It needs nothing but its own package: the
parts of SpotDraft's OpenAPI document it serves are distilled in `answers.json`.

Webhooks are real too: subscriptions made through the API receive signed deliveries of the changes
the sandbox makes (`sb.advance(id, "execute")`), and `sb.send_webhook(kind, url)` sends the forged,
unsigned, truncated, replayed and oversized ones a receiver must survive (see outbox.py).
"""

from .data import ANCHOR, LIFECYCLE, STATUSES, Contract, SandboxState, StepRefused
from .delivery import DeliveryAttempt, DeliverySettings
from .faults import Faults
from .outbox import MISBEHAVIOURS
from .process import SandboxProcess
from .recorder import RequestRecord
from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox

__all__ = [
    "ANCHOR",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "LIFECYCLE",
    "MISBEHAVIOURS",
    "STATUSES",
    "Contract",
    "DeliveryAttempt",
    "DeliverySettings",
    "Faults",
    "RequestRecord",
    "Sandbox",
    "SandboxProcess",
    "SandboxState",
    "StepRefused",
]
