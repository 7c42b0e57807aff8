"""The sandbox's controls (the test's hands), each declared once, with its admin route.

`@control(METHOD, path, ...)` on a method of `Controls` makes it a `Sandbox` method as written (it
runs on the in-process app), an admin route under `/_sandbox/` (admin.py) and a `SandboxProcess`
method that calls that route (process.py). `GET /_sandbox/` lists them all.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from .wire import iso, parse_iso

if TYPE_CHECKING:
    from .app import SandboxApp
    from .data import Contract
    from .delivery import DeliveryAttempt
    from .faults import Faults
    from .recorder import RequestRecord

F = TypeVar("F", bound=Callable[..., Any])
CONTROLS: list[Control] = []  # in declaration order
VIEWS: dict[str, str] = {}  # property -> the control it calls without arguments


@dataclass(frozen=True)
class Control:
    name: str  # the Python name on Sandbox and SandboxProcess (an admin route only: python=False)
    method: str  # the admin route: METHOD /_sandbox/{path}; {name} segments are parameters
    path: str
    fn: Callable[..., Any]  # (controls, **params) -> what the in-process call returns
    key: str | None = None  # the HTTP answer is {key: value}, and the process returns answer[key]
    status: int = 200
    wire: dict[str, str] = field(default_factory=dict)  # parameter -> its name on the wire
    reply: Callable[[Controls, Any], Any] | None = None  # (controls, value) -> the HTTP answer
    echo: bool = False  # the process returns the HTTP answer though the in-process call returns None
    blocking: bool = False  # served off the event loop: it waits (on delivery lanes)
    local: tuple[str, ...] = ()  # parameters only the process uses (never sent)
    wait: Callable[[dict[str, Any]], float] | None = None  # the process's HTTP timeout, from the arguments
    serve: Callable[..., Any] | None = None  # async (controls, params) -> (status, answer): its own route
    role: str = "method"  # "method", "getter" or "setter" (of the property `name`)
    python: bool = True

    @cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.fn)

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]

    def arguments(self, params: dict[str, Any]) -> dict[str, Any]:
        """The call's keyword arguments from what came over the wire (names mapped back, values converted).
        One the control does not take is a TypeError (400); a **parameter takes the rest, or one object."""
        names = {wire: name for name, wire in self.wire.items()}
        parameters = self.signature.parameters
        rest = next((p.name for p in parameters.values() if p.kind is p.VAR_KEYWORD), None)
        args: dict[str, Any] = {}
        for wire, value in params.items():
            name = names.get(wire, wire)
            if name == rest:  # the **parameter sent as one object (poison's "fields")
                args.update(value or {})
            elif name not in parameters:  # one of the **parameter's, None included
                args[name] = value
            elif value is not None:  # None: the parameter's default
                args[name] = CONVERT[name](value) if name in CONVERT else value
        self.signature.bind(None, **args)  # TypeError for a missing or unexpected one
        return args

    def answer(self, controls: Controls, value: Any) -> Any:
        if self.reply is not None:
            return self.reply(controls, value)
        return {self.key: to_wire(value)} if self.key else to_wire(value)

    @property
    def quiet(self) -> bool:
        """The process's call returns None (as the in-process one does)."""
        return self.signature.return_annotation in (None, "None") and not self.echo

    def result(self, answer: Any) -> Any:
        """What the process's call returns, from the HTTP answer."""
        if self.quiet:
            return None
        return answer[self.key] if self.key else answer


def control(method: str, path: str, **options: Any) -> Callable[[F], F]:
    """Declare the function a control (see Control for the options); it is returned as it is."""

    def register(fn: F) -> F:
        CONTROLS.append(Control(fn.__name__, method, path, fn, **options))
        return fn

    return register


def view(name: str, of: str, doc: str) -> property:
    """A property that is a control called without arguments (on Sandbox and SandboxProcess alike)."""
    VIEWS[name] = of
    return property(lambda self: getattr(self, of)(), doc=doc)


def to_wire(value: Any) -> Any:
    """The JSON form of a control's value or argument: records as their dicts, datetimes in ISO."""
    if hasattr(value, "snapshot"):
        return value.snapshot()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return iso(value) if isinstance(value, datetime) else value


def contract_key(raw: Any) -> int | str:
    raw = str(raw)
    return int(raw) if raw.isdigit() else raw


CONVERT: dict[str, Callable[[Any], Any]] = {  # parameters as they arrive over HTTP, by name
    "contract": contract_key, "at": lambda v: parse_iso(v) if isinstance(v, str) else v, "count": int,
    "times": int, "timeout": float, "reseed": int, "size": int, "version_id": int, "link_lifetime_s": float,
}  # fmt: skip


def routes() -> Iterator[Control]:
    """Every control's admin route, the most literal first (so `contracts/{id}` never hides one)."""
    taken = [(c.method, c.path) for c in CONTROLS]
    assert len(set(taken)) == len(taken), "two controls on one admin route"
    return iter(sorted(CONTROLS, key=lambda c: sum(s.startswith("{") for s in c.segments)))


class Controls:
    """The controls as methods on one app: `Sandbox` is one of these; admin.py makes one per app."""

    app: SandboxApp

    def __init__(self, app: SandboxApp):
        self.app = app

    # ------------------------------------------------------------------ contracts

    @control("POST", "contracts", key="contracts", status=201)
    def add_contracts(self, count: int, overrides: dict[str, Any] | None = None,
                      remove: tuple[str, ...] | list[str] = ()) -> list[Contract]:  # fmt: skip
        """`count` new contracts; with `overrides`/`remove`, poison records from the start (see poison)."""
        return self.app.state.add_contracts(count, overrides, remove)

    @control("DELETE", "contracts/{contract}", key="deleted")
    def delete_contract(self, contract: int | str) -> Contract:
        return self.app.state.delete(contract)

    @control("POST", "contracts/{contract}/{step}")
    def advance(self, contract: int | str, step: str, performed_by: str | None = None) -> Contract:
        """One lifecycle step, announced to webhook subscribers: send, request_signature, sign, execute,
        update_metrics (data.LIFECYCLE). StepRefused when the contract's status does not allow it."""
        return self.app.state.advance(contract, step, performed_by)

    @control("POST", "touch", wire={"contract": "id"})
    def touch(self, contract: int | str, *, name: str | None = None, status: str | None = None,
              at: Any = None) -> Contract:  # fmt: skip
        """Mark a contract changed now (or `at`), optionally renaming or re-statusing it. Not announced."""
        return self.app.state.touch(contract, name=name, status=status, at=at)

    @control("POST", "poison", wire={"contract": "id"})
    def poison(self, contract: int | str, *, remove: tuple[str, ...] | list[str] = (), **fields: Any) -> Contract:
        """Make one contract's list answers lie: `fields` replace list-answer fields with any JSON value,
        `remove` leaves fields out (even "id"). E.g. sb.poison(1003, contract_name={"en": "x"})."""
        return self.app.state.poison(contract, fields, remove)

    @control("POST", "contracts/{contract}/versions", key="document", status=201)
    def new_version(self, contract: int | str, size: int | None = None, file_name: str | None = None) -> dict[str, Any]:
        """A new version of the contract's document (announced as CONTRACT_VERSION_UPLOADED): `size` in bytes,
        `file_name` without extension (any text). Returns its PDF as `document` describes it."""
        self.app.state.new_version(contract, size=size, file_name=file_name)
        return self.app.documents.describe(contract)

    @control("GET", "contracts/{contract}/document", key="document")
    def document(self, contract: int | str, format: str = "PDF", version_id: int | None = None) -> dict[str, Any]:
        """The file a download link gives (the current version's, or version_id's): its version_id, file_name,
        bytes, sha256 and content_type, made as the store sends it."""
        return self.app.documents.describe(contract, format, version_id)

    @control("PUT", "documents/settings", reply=lambda c, _: {"link_lifetime_s": c.app.documents.link_lifetime_s})
    def set_download_links(self, link_lifetime_s: float) -> None:
        """How long a download link is valid, in seconds (SpotDraft's are temporary); negative: expired on arrival."""
        self.app.documents.link_lifetime_s = float(link_lifetime_s)

    @control("GET", "state/contracts", key="contracts")
    def snapshot(self) -> list[dict[str, Any]]:
        """Every live contract with its hidden fields, ascending by id (what a sync must reproduce)."""
        return self.app.state.snapshot()

    @control("GET", "state/external_ids", key="external_ids")
    def external_id_counts(self) -> dict[str, int]:
        """Live contracts per external_metadata.id."""
        return self.app.state.external_id_counts()

    @control("GET", "state/duplicates", key="duplicates")
    def duplicates(self) -> dict[str, list[int]]:
        """External ids held by more than one live contract -> their contract ids."""
        return self.app.state.duplicates()

    @property
    @control("GET", "settings", key="duplicate_rule", role="getter")
    def duplicate_rule(self) -> bool:
        """Whether a create with a taken external_metadata.id answers 409 (SpotDraft promises no such rule)."""
        return self.app.state.duplicate_rule

    @duplicate_rule.setter
    @control("PUT", "settings", wire={"value": "duplicate_rule"}, role="setter",
             reply=lambda c, _: {"duplicate_rule": c.app.state.duplicate_rule})  # fmt: skip
    def duplicate_rule(self, value: bool) -> None:
        self.app.state.duplicate_rule = bool(value)

    # ------------------------------------------------------------------ analytics

    @property
    @control("GET", "analytics", key="analytics_enabled", role="getter")
    def analytics_enabled(self) -> bool:
        """Whether the analytics query API answers; False: 501 SD_PUBLIC_00045 (the workspace lacks the feature)."""
        return self.app.state.analytics_enabled

    @analytics_enabled.setter
    @control("PUT", "analytics", wire={"value": "analytics_enabled"}, role="setter",
             reply=lambda c, _: {"analytics_enabled": c.app.state.analytics_enabled})  # fmt: skip
    def analytics_enabled(self, value: bool) -> None:
        self.app.state.analytics_enabled = bool(value)

    @control("POST", "analytics/values", reply=lambda c, _: {"set": True})
    def set_analytics_value(self, table: str, key: Any, column: str, value: Any) -> None:
        """Analytics answers show `value` (any JSON value: text with NUL or a lone surrogate...) in `column` of
        the row of `table` whose key is `key`; the contract list is left as it is."""
        self.app.state.set_analytics_value(table, key, column, value)

    # ------------------------------------------------------------------ webhooks

    @control("PUT", "webhooks/key", reply=lambda c, _: {"hmac_key": "replaced"})
    def set_webhook_key(self, hmac_key: str) -> None:
        """Replace the workspace's webhook HMAC key (Base64); later deliveries are signed with it."""
        self.app.webhooks.set_key(hmac_key)

    @property
    @control("GET", "webhooks", key="webhooks", role="getter")
    def webhooks(self) -> list[dict[str, Any]]:
        """The workspace's subscriptions, as the create operation answered them."""
        return [s.as_json() for s in self.app.webhooks.all()]

    @control("GET", "webhooks/deliveries", key="deliveries", reply=lambda c, found: {
        "total": c.app.outbox.sender.log.total, "deliveries": to_wire(found)})  # fmt: skip
    def webhook_deliveries(self, url: str | None = None, activity: str | None = None,
                           kind: str | None = None) -> list[DeliveryAttempt]:  # fmt: skip
        """Every delivery attempt, oldest first (see sandbox/delivery.py)."""
        return self.app.outbox.sender.log.records(url, activity, kind)

    @control("DELETE", "webhooks/deliveries", reply=lambda c, _: {"total": 0})
    def reset_webhook_deliveries(self) -> None:
        self.app.outbox.sender.log.reset()

    @control("PUT", "webhooks/settings")
    def set_webhook_delivery(self, **changes: Any) -> dict[str, Any]:
        """attempts, backoff_s, max_backoff_s, timeout_s (DeliverySettings)."""
        self.app.outbox.settings.update(**changes)
        return self.app.outbox.settings.as_dict()

    @control("POST", "webhooks/wait", key="idle", blocking=True, wait=lambda a: a["timeout"] + 5)
    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Until every queued delivery has been sent (or given up); False on timeout."""
        return self.app.outbox.sender.wait_idle(timeout)

    @control("POST", "webhooks/send", key="attempts", local=("timeout",), wait=lambda a: a["timeout"],
             serve=lambda c, params: _send_over_http(c, params))  # fmt: skip
    def send_webhook(self, kind: str, url: str | None = None, *, timeout: float = 30.0,
                     **options: Any) -> list[DeliveryAttempt]:  # fmt: skip
        """Send one misbehaving delivery (outbox.MISBEHAVIOURS) and wait for its attempt.
        Options: webhook_id, contract, activity, size, keep, delivery_id."""
        delivery = self.app.outbox.misbehave(kind, url=url, **options)
        return delivery.finished.result(timeout)

    # ------------------------------------------------------------------ faults and evidence

    @control("POST", "script", status=201, reply=lambda c, _: {"pending": c.app.injector.pending_script()})
    def script(self, method: str | None, path_regex: str, outcome: int | str, times: int = 1,
               headers: dict[str, str] | None = None, body: Any = None,
               query_regex: str | None = None) -> None:  # fmt: skip
        """The next `times` requests matching method and path (and query) get `outcome`; see FaultInjector.script."""
        self.app.injector.script(method, path_regex, outcome, times, headers, body, query_regex)

    @control("DELETE", "script", reply=lambda c, _: {"pending": []})
    def clear_script(self) -> None:
        self.app.injector.clear_script()

    @property
    @control("GET", "faults", role="getter")
    def faults(self) -> Faults:
        return self.app.faults

    @control("PUT", "faults", echo=True, reply=lambda c, _: c.app.faults.as_dict())
    def set_faults(self, reseed: int | None = None, **changes: Any) -> None:
        self.app.faults.update(**changes)
        if reseed is not None:
            self.app.injector.reseed(reseed)

    @control("GET", "requests", key="requests", reply=lambda c, found: {
        "total": c.app.log.total, "counts": dict(c.app.log.counts()), "requests": to_wire(found)})  # fmt: skip
    def request_log(self, method: str | None = None, path: str | None = None) -> list[RequestRecord]:
        """What reached the server, oldest first; `path` matches the request path or its route template."""
        return self.app.log.records(method, path)

    requests = view("requests", "request_log", "Every request record, oldest first.")

    @control("GET", "requests/counts", key="counts")
    def request_counts(self) -> dict[str, int]:
        return dict(self.app.log.counts())

    @control("DELETE", "requests", reply=lambda c, _: {"total": 0})
    def reset_log(self) -> None:
        self.app.log.reset()

    @control("POST", "reset", blocking=True, reply=lambda c, _: {"reset": True})
    def reset(self) -> None:
        """Back to the sandbox as it started: seeded contracts, settings and faults as constructed, the
        same credentials, key and ports; no script, log, subscription or delivery (queued ones dropped)."""
        self.app.reset()


# ---------------------------------------------------------------------------- admin routes only


@control("GET", "", python=False)
def index(c: Controls) -> list[dict[str, Any]]:
    return [{"name": x.name, "method": x.method, "path": f"/_sandbox/{x.path}",
             "params": [p for p in x.signature.parameters if p not in ("self", "c")]} for x in CONTROLS]  # fmt: skip


@control("GET", "health", python=False)
def health(c: Controls) -> dict[str, Any]:
    return {"status": "ok", "contracts": len(c.app.state.contracts)}


@control("GET", "state", python=False)
def state(c: Controls) -> dict[str, Any]:
    """seed, version, every contract with hidden fields, deleted ids, duplicate_rule, external ids, duplicates."""
    s = c.app.state
    with s.lock:
        return {"seed": s.seed, "workspace_id": s.workspace_id, "version": s.version, "contracts": s.snapshot(),
                "deleted": sorted(s.deleted), "duplicate_rule": s.duplicate_rule,
                "external_ids": s.external_id_counts(), "duplicates": s.duplicates()}  # fmt: skip


@control("GET", "contracts/{contract}", python=False)
def contract(c: Controls, contract: int | str) -> Contract:
    found = c.app.state.get(contract)
    if found is None:
        raise KeyError("Not found.")
    return found


@control("GET", "script", key="pending", python=False)
def pending_script(c: Controls) -> list[dict[str, Any]]:
    return c.app.injector.pending_script()


@control("GET", "webhooks/settings", python=False)
def webhook_delivery(c: Controls) -> dict[str, Any]:
    return c.app.outbox.settings.as_dict()


async def _send_over_http(c: Controls, params: dict[str, Any]) -> tuple[int, Any]:
    """One misbehaving delivery; answered once sent, or at once (202) with "wait": false."""
    import asyncio

    wait = params.pop("wait", True)
    args = next(x for x in CONTROLS if x.name == "send_webhook").arguments(params)
    args.pop("timeout", None)
    delivery = c.app.outbox.misbehave(**{k: v for k, v in args.items() if v is not None})
    if wait is False:
        return 202, {"delivery_id": delivery.id}
    attempts = await asyncio.wrap_future(delivery.finished)
    return 200, {"delivery_id": delivery.id, "attempts": to_wire(attempts)}
