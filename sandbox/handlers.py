"""The operations the sync and create flows depend on, answered from the seeded state.

Everything else in the spec gets its synthesized answer (routes.py); these few behave for real:
paging and filtering the contract list, per-contract status and key pointers, creating a
contract keyed by its external id (409 on a duplicate while the state's duplicate_rule is on,
a second contract when it is off), sending it to its counterparties, finding contracts by that
id, the template, contract-type and counterparty lists, the webhook subscriptions and key
(subscriptions.py), the analytics query API (analytics.py) and the contract documents (documents.py).
Creating and sending are announced to webhook subscribers (outbox.py). Each handler is a plain synchronous
function of (request, path params, route): nothing here awaits, so one request's read-check-write is atomic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .activity import party_from_request
from .analytics import AnalyticsQueries
from .data import COMPOSITE_PATTERN, STATUSES, Contract, SandboxState
from .documents import Documents
from .routes import Route
from .storage import WorkspaceFiles
from .subscriptions import WebhookRegistry
from .wire import Reply, error, field_errors, json_reply, parse_iso

MAX_LIMIT = 100
_FILTER = re.compile(r"^filter__(?P<field>\w+?)(?:\[\$(?P<op>eq|ne|in|gt|gte|lt|lte)\])?$")
_ORDERING = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}
REQUIRED = ["This field is required."]

Handler = Callable[[Any, dict[str, str], Route], Reply]


class BadRequest(Exception):
    def __init__(self, reply: Reply):
        self.reply = reply


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadRequest(error(400, f"{name} must be an integer.")) from None


def _paging(req) -> tuple[int, int]:
    values = dict(req.query)
    page = _int(values.get("page", "1"), "page")
    limit = _int(values.get("limit", "10"), "limit")
    if page < 1:
        raise BadRequest(error(400, "page must be 1 or more."))
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(error(400, f"limit must be between 1 and {MAX_LIMIT}."))
    return page, limit


def _page_body(page: int, limit: int, total: int, results: list[Any]) -> dict[str, Any]:
    return {"page": page, "limit": limit, "total_results": total, "results": results}


# ------------------------------------------------------------------ contract-list filters


def _contract_key(value: str) -> tuple[str | None, int]:
    value = value.strip()
    if value.isdigit():
        return None, int(value)
    match = re.match(r"^([TH])-(\d+)$", value)
    if not match:
        raise ValueError(value)
    return match.group(1), int(match.group(2))


def _getter_and_parser(field: str, state: SandboxState):
    """(value of a contract, parser of a query value) per supported filter, or None."""

    def status(text: str) -> str:
        if text not in STATUSES:
            raise ValueError(text)
        return text

    def emails(c: Contract) -> frozenset[str]:
        cp = state.counterparties.get(c.counterparty_id) if c.counterparty_id else None
        return frozenset(x["email"] for x in cp.contacts) if cp else frozenset()

    table: dict[str, tuple[Callable[[Contract], Any], Callable[[str], Any]]] = {
        "last_updated_on": (lambda c: c.last_updated_on, parse_iso),
        "created_at": (lambda c: c.created, parse_iso),
        "contract_type_id": (lambda c: c.contract_type_id, int),
        "display_status": (lambda c: c.status, status),
        "contract_id": (lambda c: c, _contract_key),
        "client_name": (lambda c: c.counter_party_name, str),
        "contract_type_name": (lambda c: c.contract_type_name, str),
        "contract_reference_id": (lambda c: c.reference_id, str),
        "client_email_address": (emails, str),
    }
    return table.get(field)


def _predicate(field: str, op: str, raw: str, state: SandboxState) -> Callable[[Contract], bool] | None:
    found = _getter_and_parser(field, state)
    if found is None:
        return None
    get, parse = found
    try:
        values = [parse(v) for v in raw.split(",")] if op == "in" else [parse(raw)]
    except ValueError:
        raise BadRequest(error(400, f"Invalid value for filter__{field}: {raw!r}.")) from None
    if field == "contract_id":  # matches the integer id, and the kind when a composite id is given

        def same(c: Contract, key: tuple[str | None, int]) -> bool:
            return c.id == key[1] and key[0] in (None, c.kind)

        if op == "in":
            return lambda c: any(same(c, k) for k in values)
        if op in ("eq", "ne"):
            return (lambda c: same(c, values[0])) if op == "eq" else (lambda c: not same(c, values[0]))
        raise BadRequest(error(400, f"filter__{field} does not support ${op}."))
    if field == "client_email_address":
        wanted = set(values)
        if op == "ne":
            return lambda c: not (get(c) & wanted)
        return lambda c: bool(get(c) & wanted)
    if op == "in":
        allowed = set(values)
        return lambda c: get(c) in allowed
    compare, target = _ORDERING[op], values[0]
    return lambda c: compare(get(c), target)


def _contract_filters(req, route: Route, state: SandboxState):
    """Predicates, a cache key, and the documented filters the sandbox does not evaluate."""
    predicates, key, ignored = [], [], []
    for name, value in req.query:
        if name in ("page", "limit"):
            continue
        if name == "query":
            needle = value.lower()
            predicates.append(lambda c, n=needle: n in c.name.lower())
            key.append((name, value))
            continue
        if not name.startswith("filter"):
            continue  # undocumented non-filter parameters are ignored, as DRF does
        match = _FILTER.match(name)
        if name not in route.query or match is None:
            raise BadRequest(error(400, f"Unknown filter: {name}."))
        predicate = _predicate(match.group("field"), match.group("op") or "eq", value, state)
        if predicate is None:
            ignored.append(name)
            continue
        predicates.append(predicate)
        key.append((name, value))
    return predicates, tuple(sorted(key)), ignored


# ------------------------------------------------------------------ handlers


class Handlers:
    def __init__(self, state: SandboxState, webhooks: WebhookRegistry):
        self.state = state
        self.ws = state.workspace_id
        self.files = WorkspaceFiles(state.seed)
        self.documents = Documents(state, self.files, self._contract)
        self.webhooks = webhooks
        self.analytics = AnalyticsQueries(state)

    def table(self) -> dict[tuple[str, str], Handler]:
        """(method, documented path) -> handler; the v2 and v1 twins share the v2.1 behaviour."""
        table: dict[tuple[str, str], Handler] = {}
        for version in ("v2.1", "v2"):
            base = f"/api/{version}/public"
            table[("GET", f"{base}/contracts/")] = self.list_contracts
            table[("GET", f"{base}/contracts/{{composite_id}}/status")] = self.contract_status
            table[("GET", f"{base}/contracts/{{composite_id}}/key_pointers")] = self.key_pointers
            table[("GET", f"{base}/contract_types/")] = self.contract_types
            table[("GET", f"{base}/counter_parties/")] = self.list_counterparties
            table[("GET", f"{base}/counter_parties/{{counterparty_id}}")] = self.counterparty
            table[("GET", f"{base}/templates/{{template_id}}/")] = self.template
        for version in ("v2.1", "v2", "v1"):
            base = f"/api/{version}/public"
            table[("GET", f"{base}/contracts/by_external_metadata/{{external_metadata_id}}")] = (
                self.by_external
            )
            table[("GET", f"{base}/templates/")] = self.templates
        table[("POST", "/api/v2.1/public/contracts/")] = self.create_contract
        for version, key in (("v2.1", "composite_id"), ("v2", "composite_id"), ("v1", "contract_id")):
            table[("POST", f"/api/{version}/public/contracts/{{{key}}}/send_to_counterparties")] = self.send
        table[("POST", "/api/v2.1/public/workspace/files/uploads/")] = self.files.start_uploads
        table[("GET", "/api/v2.1/public/workspace/files/{file_id}/")] = self.files.download_url
        table.update(self.documents.table())
        table[("GET", "/api/v1/public/contracts")] = self.list_contracts_v1
        table[("GET", "/api/v1/public/contracts/{contract_id}/status")] = self.contract_status
        table[("POST", "/api/v2.1/public/webhooks/")] = self.webhooks.create
        table[("DELETE", "/api/v2.1/public/webhooks/{webhook_id}")] = self.webhooks.destroy
        table[("GET", "/api/v2.1/public/webhooks/hmac_key/")] = self.webhooks.hmac_key
        table[("POST", "/api/v2.1/public/analytics/query/")] = self.analytics.query
        return table

    def __call__(self, handler: Handler, req, params: dict[str, str], route: Route) -> Reply:
        try:
            return handler(req, params, route)
        except BadRequest as exc:
            return exc.reply

    # ------------------------------------------------------------------ contracts

    def _page_of_contracts(self, req, route: Route, item: Callable[[Contract], dict[str, Any]]) -> Reply:
        page, limit = _paging(req)
        predicates, key, ignored = _contract_filters(req, route, self.state)
        with self.state.lock:
            ids = self.state.filtered_ids(key, predicates) if predicates else self.state.ordered_ids()
            start = (page - 1) * limit
            results = [item(self.state.contracts[i]) for i in ids[start : start + limit]]
            body = _page_body(page, limit, len(ids), results)
        headers = [(b"x-sandbox-ignored-filters", ",".join(ignored).encode())] if ignored else None
        return json_reply(200, body, headers)

    def list_contracts(self, req, params, route) -> Reply:
        return self._page_of_contracts(req, route, lambda c: c.as_list_item(self.ws))

    def list_contracts_v1(self, req, params, route) -> Reply:
        return self._page_of_contracts(req, route, lambda c: c.as_v3(self.ws))

    def _contract(self, params: dict[str, str]) -> Contract:
        if "composite_id" in params:
            key = params["composite_id"]
            if not COMPOSITE_PATTERN.match(key):
                raise BadRequest(error(400, "composite_id must look like T-1234 or H-1234."))
        else:
            key = params["contract_id"]
            if not key.isdigit():
                raise BadRequest(error(400, "contract_id must be an integer."))
        found = self.state.get(key)
        if found is None:
            raise BadRequest(error(404, "Not found."))
        return found

    def contract_status(self, req, params, route) -> Reply:
        return json_reply(200, self._contract(params).as_status())

    def key_pointers(self, req, params, route) -> Reply:
        return json_reply(200, self._contract(params).key_pointers)

    def send(self, req, params, route) -> Reply:
        """Sending takes a draft out to its counterparties: it leaves DRAFT (for REDLINING), announced."""
        with self.state.lock:
            contract = self._contract(params)
            if contract.status == "DRAFT":
                self.state.advance(contract.id, "send", performed_by=self.state.user(req.user_email).email)
        assert route.reply is not None
        return route.reply

    def by_external(self, req, params, route) -> Reply:
        found = self.state.by_external_id(params["external_metadata_id"])
        return json_reply(200, [c.as_v3(self.ws) for c in sorted(found, key=lambda c: c.id)])

    def create_contract(self, req, params, route) -> Reply:
        if not req.is_json():
            return error(400, "The sandbox accepts contract creation as application/json only.")
        try:
            body = req.json()
        except ValueError:
            return error(400, "JSON parse error: the request body is missing or not valid JSON.")
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        problems = _validate_create(body)
        if problems:
            return field_errors(problems)
        template_id = body["contract_template_id"]
        if template_id not in self.state.templates:
            return field_errors(
                {"contract_template_id": [f'Invalid pk "{template_id}" - object does not exist.']}
            )
        metadata = body.get("external_metadata") or {}
        with self.state.lock:
            if "id" in metadata and self.state.duplicate_rule:
                taken = self.state.external_id_taken(str(metadata["id"]))
                if taken:
                    return error(
                        409,
                        "A contract with this external_metadata id already exists.",
                        external_metadata_id=str(metadata["id"]),
                        contract_ids=taken,
                    )
            contract = self.state.create(
                template_id=template_id,
                name=body.get("contract_name"),
                counter_party_name=_party_name(body["counter_party_details"][0]),
                external_metadata=metadata,
                created_by=self.state.user(req.user_email),
                parties=[party_from_request(p, _party_name(p)) for p in body["counter_party_details"]],
            )
            return json_reply(201, contract.as_created(self.ws))

    # ------------------------------------------------------------------ reference data

    def templates(self, req, params, route) -> Reply:
        items = [
            {k: t[k] for k in ("id", "name", "contract_type_id")}
            for _, t in sorted(self.state.templates.items())
        ]
        return json_reply(200, {"items": items})

    def template(self, req, params, route) -> Reply:
        raw = params["template_id"]
        found = self.state.templates.get(int(raw)) if raw.isdigit() else None
        return json_reply(200, found) if found else error(404, "Not found.")

    def contract_types(self, req, params, route) -> Reply:
        return json_reply(200, self.state.contract_types)

    def list_counterparties(self, req, params, route) -> Reply:
        page, limit = _paging(req)
        wanted = None
        for name, value in req.query:
            if name == "filter__client_email_address":
                wanted = value
            elif name.startswith("filter__") and name not in route.query:
                raise BadRequest(error(400, f"Unknown filter: {name}."))
        with self.state.lock:
            parties = [cp for _, cp in sorted(self.state.counterparties.items())]
        if wanted is not None:
            parties = [cp for cp in parties if any(x["email"] == wanted for x in cp.contacts)]
        start = (page - 1) * limit
        results = [cp.as_json() for cp in parties[start : start + limit]]
        return json_reply(200, _page_body(page, limit, len(parties), results))

    def counterparty(self, req, params, route) -> Reply:
        raw = params["counterparty_id"]
        found = self.state.counterparties.get(int(raw)) if raw.isdigit() else None
        return json_reply(200, found.as_json()) if found else error(404, "Not found.")


def _party_name(details: dict[str, Any]) -> str:
    if not details.get("is_individual") and details.get("organization_name"):
        return str(details["organization_name"])
    poc = details["poc_details"]
    return f"{poc['first_name']} {poc.get('last_name') or ''}".strip()


def _validate_create(body: dict[str, Any]) -> dict[str, Any]:
    """Field errors for `ExternalCreateContractSerializerV2_1`, in the DRF shape."""
    problems: dict[str, Any] = {}
    template_id = body.get("contract_template_id")
    if "contract_template_id" not in body:
        problems["contract_template_id"] = REQUIRED
    elif isinstance(template_id, bool) or not isinstance(template_id, int):
        problems["contract_template_id"] = ["A valid integer is required."]
    if "contract_data" not in body:
        problems["contract_data"] = REQUIRED
    elif not isinstance(body["contract_data"], dict):
        problems["contract_data"] = ["Expected a dictionary of items."]
    if body.get("external_metadata") is not None and not isinstance(body["external_metadata"], dict):
        problems["external_metadata"] = ["Expected a dictionary of items."]
    if "contract_name" in body and not isinstance(body["contract_name"], str):
        problems["contract_name"] = ["Not a valid string."]
    parties = body.get("counter_party_details")
    if "counter_party_details" not in body:
        problems["counter_party_details"] = REQUIRED
    elif not isinstance(parties, list):
        problems["counter_party_details"] = ["Expected a list of items."]
    elif not parties:
        problems["counter_party_details"] = ["This list may not be empty."]
    else:
        nested = [_validate_party(p) for p in parties]
        if any(nested):
            problems["counter_party_details"] = nested
    return problems


def _validate_party(party: Any) -> dict[str, Any]:
    if not isinstance(party, dict):
        return {"non_field_errors": ["Expected a dictionary of items."]}
    problems: dict[str, Any] = {}
    if "is_individual" not in party:
        problems["is_individual"] = REQUIRED
    elif not isinstance(party["is_individual"], bool):
        problems["is_individual"] = ["Must be a valid boolean."]
    poc = party.get("poc_details")
    if "poc_details" not in party:
        problems["poc_details"] = REQUIRED
    elif not isinstance(poc, dict):
        problems["poc_details"] = {"non_field_errors": ["Expected a dictionary of items."]}
    else:
        inner = {k: REQUIRED for k in ("email", "first_name") if k not in poc}
        inner |= {k: ["Not a valid string."] for k in ("email", "first_name", "last_name")
                  if k in poc and not isinstance(poc[k], str)}  # fmt: skip
        if inner:
            problems["poc_details"] = inner
    return problems
