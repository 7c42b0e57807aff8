"""`/_sandbox/...`: the test controls, over HTTP, for a sandbox running as a subprocess.

They mirror the Python API of `Sandbox` one to one, so a kill test against `SandboxProcess`
can do what an in-process test does. They need no credentials, see no faults and are not
logged: they are the test's hands, not traffic under test. The sandbox only listens on loopback.

    GET    /_sandbox/health                 {"status": "ok", "contracts": n}
    GET    /_sandbox/state                  seed, version, every contract with hidden fields, deleted ids,
                                            duplicate_rule, external_ids {id: count}, duplicates {id: [ids]}
    GET    /_sandbox/contracts/{id}         one contract with hidden fields (id: 1234 or T-1234)
    POST   /_sandbox/contracts              {"count": m, "overrides"?, "remove"?}   add m new contracts
    POST   /_sandbox/poison                 {"id", "fields"?: {...}, "remove"?: [...]}  poison one contract
    GET    /_sandbox/settings               {"duplicate_rule"}
    PUT    /_sandbox/settings               {"duplicate_rule": bool}
    DELETE /_sandbox/contracts/{id}                                  delete one
    POST   /_sandbox/touch                  {"id", "name"?, "status"?, "at"?}   bump last_updated_on
    GET    /_sandbox/requests               {"total", "counts", "requests"}  (?method=&path=)
    DELETE /_sandbox/requests                                        reset the log
    POST   /_sandbox/script                 {"method", "path_regex", "outcome", "times"?, "headers"?, "body"?}
    GET    /_sandbox/script                 pending script entries
    DELETE /_sandbox/script                                          clear the script
    GET    /_sandbox/faults                 current Faults
    PUT    /_sandbox/faults                 {field: value, ..., "reseed"?: seed}  change faults live

Webhooks (see outbox.py). A change below is announced to every subscription of its activity:
    POST   /_sandbox/contracts/{id}/{step}  {"performed_by"?: email}  step: send | request_signature | sign |
                                            execute | update_metrics; 409 when the status does not allow it
    GET    /_sandbox/webhooks               {"webhooks": [subscriptions]}
    PUT    /_sandbox/webhooks/key           {"hmac_key": base64}  replace the workspace key (not echoed)
    GET    /_sandbox/webhooks/settings      {"attempts", "backoff_s", "max_backoff_s", "timeout_s"}
    PUT    /_sandbox/webhooks/settings      {field: value, ...}  change how deliveries are retried
    GET    /_sandbox/webhooks/deliveries    {"total", "deliveries": [attempts]}  (?url=&activity=&kind=)
    DELETE /_sandbox/webhooks/deliveries                             reset the delivery log
    POST   /_sandbox/webhooks/wait          {"timeout"?: s}  -> {"idle": bool} once nothing is queued or in flight
    POST   /_sandbox/webhooks/send          {"kind", "url" | "webhook_id", "contract"?, "activity"?, "size"?,
                                             "keep"?, "delivery_id"?, "wait"?: true}  one misbehaving delivery:
                                            kind valid | forged | unsigned | truncated | replayed | oversized;
                                            answers {"delivery_id", "attempts"} once sent (202 with "wait": false)
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .data import StepRefused
from .wire import Reply, Request, error, json_reply, parse_iso

if TYPE_CHECKING:
    from .app import SandboxApp


class Admin:
    def __init__(self, app: SandboxApp):
        self.app = app

    async def handle(self, req: Request) -> Reply:
        try:
            if req.method == "POST" and req.path.rstrip("/") in ("/_sandbox/webhooks/send", "/_sandbox/webhooks/wait"):
                return await self._waiting(req)
            return self._route(req)
        except KeyError as exc:
            return error(404, str(exc.args[0]) if exc.args else "Not found.")
        except StepRefused as exc:
            return error(409, str(exc))
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))

    async def _waiting(self, req: Request) -> Reply:
        """The two admin calls that wait on the delivery lanes, off the event loop so it keeps serving
        (a receiver may call the sandbox's API while it handles the delivery being waited for)."""
        body, sender = self._body(req), self.app.outbox.sender
        if req.path.rstrip("/").endswith("/wait"):
            idle = await asyncio.to_thread(sender.wait_idle, float(body.get("timeout", 10)))
            return json_reply(200, {"idle": idle})
        options = {k: body[k] for k in ("url", "webhook_id", "contract", "activity", "size", "keep", "delivery_id")
                   if body.get(k) is not None}  # fmt: skip
        delivery = self.app.outbox.misbehave(str(body.get("kind")), **options)
        if body.get("wait", True) is False:
            return json_reply(202, {"delivery_id": delivery.id})
        attempts = await asyncio.wrap_future(delivery.finished)
        return json_reply(200, {"delivery_id": delivery.id, "attempts": [a.as_dict() for a in attempts]})

    def _body(self, req: Request) -> dict[str, Any]:
        if not req.body:
            return {}
        value = json.loads(req.body)
        if not isinstance(value, dict):
            raise ValueError("the body must be a JSON object")
        return value

    def _route(self, req: Request) -> Reply:
        app, state = self.app, self.app.state
        parts = req.path.strip("/").split("/")[1:]  # after "_sandbox"
        head = parts[0] if parts else ""
        method = req.method
        if head == "health" and method == "GET":
            return json_reply(200, {"status": "ok", "contracts": len(state.contracts)})
        if head == "state" and method == "GET":
            with state.lock:
                body = {
                    "seed": state.seed,
                    "workspace_id": state.workspace_id,
                    "version": state.version,
                    "contracts": state.snapshot(),
                    "deleted": sorted(state.deleted),
                    "duplicate_rule": state.duplicate_rule,
                    "external_ids": state.external_id_counts(),
                    "duplicates": state.duplicates(),
                }
            return json_reply(200, body)
        if head == "contracts":
            if len(parts) == 1 and method == "POST":
                body = self._body(req)
                count = int(body.get("count", 1))
                added = state.add_contracts(count, body.get("overrides") or {}, body.get("remove") or ())
                return json_reply(201, {"contracts": [c.snapshot() for c in added]})
            if len(parts) == 2:
                key = _key(parts[1])
                if method == "GET":
                    found = state.get(key)
                    return json_reply(200, found.snapshot()) if found else error(404, "Not found.")
                if method == "DELETE":
                    return json_reply(200, {"deleted": state.delete(key).snapshot()})
            if len(parts) == 3 and method == "POST":
                contract = state.advance(_key(parts[1]), parts[2], self._body(req).get("performed_by"))
                return json_reply(200, contract.snapshot())
        if head == "webhooks":
            return self._webhooks(req, parts[1:])
        if head == "poison" and method == "POST":
            body = self._body(req)
            if "id" not in body:
                raise ValueError("id is required")
            contract = state.poison(_key(str(body["id"])), body.get("fields") or {}, body.get("remove") or ())
            return json_reply(200, contract.snapshot())
        if head == "settings":
            if method in ("PUT", "PATCH"):
                body = self._body(req)
                if "duplicate_rule" in body:
                    state.duplicate_rule = bool(body["duplicate_rule"])
            if method in ("GET", "PUT", "PATCH"):
                return json_reply(200, {"duplicate_rule": state.duplicate_rule})
        if head == "touch" and method == "POST":
            body = self._body(req)
            if "id" not in body:
                raise ValueError("id is required")
            at = parse_iso(body["at"]) if body.get("at") else None
            contract = state.touch(
                _key(str(body["id"])), name=body.get("name"), status=body.get("status"), at=at
            )
            return json_reply(200, contract.snapshot())
        if head == "requests":
            if method == "GET":
                query = dict(parse_qsl(req.query_string))
                records = app.log.records(query.get("method"), query.get("path"))
                return json_reply(
                    200,
                    {"total": app.log.total, "counts": dict(app.log.counts()),
                     "requests": [r.as_dict() for r in records]},
                )  # fmt: skip
            if method == "DELETE":
                app.log.reset()
                return json_reply(200, {"total": 0})
        if head == "script":
            injector = app.injector
            if method == "POST":
                body = self._body(req)
                injector.script(
                    body.get("method"),
                    body["path_regex"],
                    body["outcome"],
                    times=int(body.get("times", 1)),
                    headers=body.get("headers"),
                    body=body.get("body"),
                    query_regex=body.get("query_regex"),
                )
                return json_reply(201, {"pending": injector.pending_script()})
            if method == "GET":
                return json_reply(200, {"pending": injector.pending_script()})
            if method == "DELETE":
                injector.clear_script()
                return json_reply(200, {"pending": []})
        if head == "faults":
            if method in ("PUT", "PATCH"):
                body = self._body(req)
                reseed = body.pop("reseed", None)
                app.faults.update(**body)
                if reseed is not None:
                    app.injector.reseed(int(reseed))
                return json_reply(200, app.faults.as_dict())
            if method == "GET":
                return json_reply(200, app.faults.as_dict())
        return error(404, f"No admin endpoint {method} {req.path}.")

    def _webhooks(self, req: Request, parts: list[str]) -> Reply:
        outbox, method = self.app.outbox, req.method
        what = parts[0] if parts else ""
        if what == "" and method == "GET":
            return json_reply(200, {"webhooks": [s.as_json() for s in self.app.webhooks.all()]})
        if what == "key" and method == "PUT":
            self.app.webhooks.set_key(self._body(req).get("hmac_key"))
            return json_reply(200, {"hmac_key": "replaced"})
        if what == "settings" and method in ("PUT", "PATCH"):
            outbox.settings.update(**self._body(req))
        if what == "settings" and method in ("GET", "PUT", "PATCH"):
            return json_reply(200, outbox.settings.as_dict())
        if what == "deliveries" and method == "GET":
            query = dict(parse_qsl(req.query_string))
            found = outbox.sender.log.records(query.get("url"), query.get("activity"), query.get("kind"))
            return json_reply(200, {"total": outbox.sender.log.total, "deliveries": [a.as_dict() for a in found]})
        if what == "deliveries" and method == "DELETE":
            outbox.sender.log.reset()
            return json_reply(200, {"total": 0})
        return error(404, f"No admin endpoint {method} {req.path}.")


def _key(raw: str) -> int | str:
    return int(raw) if raw.isdigit() else raw
