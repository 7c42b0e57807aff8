"""The raw ASGI application: one pass from bytes in to bytes out, no framework in the way.

Order of a request, chosen to mirror what stands in front of SpotDraft:
1. `/_sandbox/...` admin endpoints short-circuit everything (no auth, no faults, not logged).
2. The request is logged. On the plain-http listener it is answered 302 to https, and that is all.
3. Faults decide (script, then rate limit, then random), like a proxy or gateway would, before
   the application has seen the request. An ambiguous write is the exception: it is performed
   first and then loses its answer.
4. `/_storage/...` is the signed-URL object store of workspace files (sandbox/storage.py).
   Otherwise routing: documented path, or 302 to the documented path when only the trailing slash
   differs, or 404/405. Then auth (401/403), then the stateful handler or the synthesized answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import itertools
import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .admin import Admin
from .data import SandboxState
from .faults import CONTRADICTORY, PASS, WRITE_METHODS, FaultInjector, Faults, Outcome
from .handlers import Handlers
from .outbox import Outbox
from .recorder import RequestLog, RequestRecord
from .routes import Router, build_routes, load_answers
from .storage import STORAGE_PREFIX
from .subscriptions import WebhookRegistry
from .wire import JSON, Reply, Request, dumps, error, lifespan, read_body, send_body

CLIENT = frozenset({"ClientId", "ClientSecret"})
BEARER = frozenset({"OAuthBearer"})
CLICKWRAP = frozenset({"ClickwrapId", "Origin"})
BASIC = frozenset({"NativeIntegrationBasic"})
BODY_METHODS = WRITE_METHODS
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    b"<body><h1>We'll be back soon.</h1></body></html>"
)
TRUNCATED_JSON = b'{"page": 1, "limit": 10, "total_results": 42, "results": [{"id": "T-10'


@dataclass
class SandboxConfig:
    client_id: str
    client_secret: str
    workspace_id: int = 1
    bearer_token: str | None = None  # accepted on routes that document OAuth; None = refused
    host: str = "127.0.0.1"
    main_port: int = 0
    http_port: int | None = None

    def __repr__(self) -> str:  # the secret stays out of reprs, tracebacks and logs
        return f"SandboxConfig(client_id={self.client_id!r}, workspace_id={self.workspace_id})"


class SandboxApp:
    def __init__(self, config: SandboxConfig, state: SandboxState, faults: Faults, log_limit: int = 100_000,
                 webhook_key: str | None = None):  # fmt: skip
        self.config = config
        self.state = state
        self.injector = FaultInjector(faults, state.seed)
        self.log = RequestLog(log_limit)
        self.routes = build_routes(load_answers())
        self.webhooks = WebhookRegistry(state, webhook_key)
        self.outbox = Outbox(state, self.webhooks)
        handlers = Handlers(state, self.webhooks)
        self.storage = handlers.files
        self.documents = handlers.documents
        for (method, path), fn in handlers.table().items():
            route = next((r for r in self.routes if r.method == method and r.path == path), None)
            if route is not None:
                route.handler = fn
        self._call_handler = handlers.__call__
        self.router = Router(self.routes)
        self._rid_prefix = os.urandom(4).hex() + "-"
        self._rid = itertools.count(1)
        self._workspace = str(config.workspace_id).encode()
        self.closing: asyncio.Event | None = None
        self.admin = Admin(self)

    @property
    def faults(self) -> Faults:
        return self.injector.faults

    def reset(self) -> None:
        """Back to what the constructor made: lanes closed first (nothing queued goes out), then the
        subscriptions, seeded state, faults, files and logs. Credentials, key and ports stay."""
        self.outbox.sender.reset()
        self.webhooks.reset()
        self.state.reset()
        self.injector.reset()
        self.storage.reset()
        self.documents.reset()
        self.log.reset()
        self._rid = itertools.count(1)

    def bind_loop(self) -> None:
        """Called on the server's loop at startup: the event that ends held requests lives there."""
        self.closing = asyncio.Event()

    def begin_shutdown(self) -> None:
        """Wake requests held by a timeout fault so shutdown does not wait out their sleep."""
        if self.closing is not None:
            self.closing.set()

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await lifespan(receive, send)
            return
        req = Request.from_scope(scope)
        if req.path.startswith("/_sandbox/"):
            if req.method in BODY_METHODS:
                req.body = await read_body(receive)
            await self._send(send, await self.admin.handle(req))
            return
        server = scope.get("server")
        on_http = (
            self.config.http_port is not None and server is not None and server[1] == self.config.http_port
        )
        record = self.log.add("http" if on_http else "main", req.method, req.path, req.query_string,
                              req.user_email, req.client_id)  # fmt: skip
        if on_http:
            await self._send(send, self._to_https(req), record)
            return
        if req.method in BODY_METHODS:
            req.body = await read_body(receive)
        credential = (req.client_id or "", req.headers.get("client-secret", ""))
        outcome = self.injector.decide(req.method, req.path, credential, req.query_string)
        if outcome is PASS:
            await self._send(send, self.dispatch(req, record), record)
        else:
            await self._faulty(req, record, outcome, send)

    async def _faulty(self, req: Request, record: RequestRecord, outcome: Outcome, send) -> None:
        source, label = outcome.source, outcome.status or outcome.kind
        record.fault = source if source == "rate_limit" else f"{source}:{label}"
        if label == "pass":
            record.fault = f"{source}:latency"
        if outcome.delay_s:
            await asyncio.sleep(outcome.delay_s)
        kind = outcome.kind
        if kind == "pass":
            reply = self.dispatch(req, record)
        elif kind == "status":
            reply = _status_reply(outcome)
        elif kind == "html_502":
            reply = Reply(502, [(b"content-type", b"text/html")], HTML_502)
        elif kind == "bad_json":
            if outcome.variant < 0.5:
                reply = Reply(200, [(b"content-type", b"text/html; charset=utf-8")], HTML_PAGE)
            else:
                reply = Reply(200, [(b"content-type", JSON)], TRUNCATED_JSON)
        elif kind == "drop":
            await self._drop(send, record)
            return
        elif kind == "cut":
            await self._cut(send, self.dispatch(req, record), record)
            return
        elif kind in CONTRADICTORY:
            reply = _contradict(self.dispatch(req, record), kind)
        elif kind == "slow":
            reply = self.dispatch(req, record)  # carried out now (a write commits); answered late
            record.status = "timeout"
            await self._hold(self.faults.timeout_sleep_s)
            if self.closing is not None and self.closing.is_set():
                await self._drop(send, record)
                return
            record.status = None
        elif kind == "timeout":
            record.status = "timeout"
            await self._hold(self.faults.timeout_sleep_s)
            if self.closing is not None and self.closing.is_set():
                await self._drop(send, record)
                return
            reply = error(504, "Sandbox fault: the gateway timed out waiting for the upstream.")
        elif kind in ("ambiguous", "ambiguous_drop"):
            self.dispatch(req, record)  # the write happens; only its answer is lost
            if kind == "ambiguous_drop":
                await self._drop(send, record)
                return
            reply = error(504, "Sandbox fault: the gateway timed out; the upstream may have completed.")
        else:  # pragma: no cover - FaultInjector only produces the kinds above
            reply = error(500, f"unknown fault {kind}")
        await self._send(send, reply, record)

    # ------------------------------------------------------------------ routing and auth

    def dispatch(self, req: Request, record: RequestRecord | None = None) -> Reply:
        if req.path.startswith(STORAGE_PREFIX):  # the object store behind signed URLs: no API auth
            return self.storage.handle_storage(req)
        found = self.router.match(req.path)
        if found is None:
            twin = self.router.slash_twin(req.path)
            if twin is not None:
                query = f"?{req.query_string}" if req.query_string else ""
                host = req.host or f"{self.config.host}:{self.config.main_port}"
                return Reply(302, [(b"location", f"{req.scheme}://{host}{twin}{query}".encode())], b"")
            return error(404, "Not found.")
        by_method, raw_params = found
        route = by_method.get(req.method)
        if route is None:
            allowed = ", ".join(sorted(by_method))
            return error(405, f'Method "{req.method}" not allowed.', [(b"allow", allowed.encode())])
        if record is not None:
            record.route = route.path
        denied = self.authenticate(route, req)
        if denied is not None:
            return denied
        params = {k: unquote(v) for k, v in raw_params.items()}
        for name, pattern in route.patterns.items():
            if not pattern.match(params[name]):
                return error(400, f"{name} does not match the pattern {pattern.pattern}.")
        if route.handler is not None:
            return self._call_handler(route.handler, req, params, route)
        if req.method in BODY_METHODS:
            problem = _body_problem(route, req)
            if problem is not None:
                return problem
        assert route.reply is not None
        return route.reply

    def authenticate(self, route, req: Request) -> Reply | None:
        """401 unless one documented scheme is satisfied; 403 for a user-email not in the workspace."""
        if route.public:
            return None
        cfg, headers = self.config, req.headers
        ok = False
        for scheme in route.security:
            if scheme == CLIENT:
                secret = headers.get("client-secret")
                ok = (
                    req.client_id == cfg.client_id
                    and secret is not None
                    and hmac.compare_digest(secret.encode(), cfg.client_secret.encode())
                )
            elif scheme == BEARER:
                expected = f"Bearer {cfg.bearer_token}".encode()
                auth = headers.get("authorization", "").encode()
                ok = bool(cfg.bearer_token) and hmac.compare_digest(auth, expected)
            elif scheme == CLICKWRAP:
                ok = bool(headers.get("clickwrap-id")) and bool(headers.get("origin"))
            elif scheme == BASIC:
                ok = self._basic_ok(headers.get("authorization", ""))
            if ok:
                break
        if not ok:
            if "client-id" in headers or "client-secret" in headers or "authorization" in headers:
                return error(
                    401, "Invalid credentials: client-id and client-secret do not match a workspace app."
                )
            return error(401, "Authentication credentials were not provided.")
        email = req.user_email
        if email is not None and email not in self.state.user_emails:
            return error(403, "The user-email does not belong to a user of this workspace.")
        return None

    def _basic_ok(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = f"{self.config.client_id}:{self.config.client_secret}"
        return hmac.compare_digest(decoded.encode(), expected.encode())

    def _to_https(self, req: Request) -> Reply:
        query = f"?{req.query_string}" if req.query_string else ""
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        location = f"https://{host}:{self.config.main_port}{req.path}{query}"
        return Reply(302, [(b"location", location.encode())], b"")

    # ------------------------------------------------------------------ sending

    async def _send(self, send, reply: Reply, record: RequestRecord | None = None) -> None:
        request_id = self._rid_prefix + format(next(self._rid), "x")
        if record is not None:
            record.request_id = request_id
            if record.status is None or record.status == "timeout":
                record.status = reply.status
        headers = [
            *reply.headers,
            (b"content-length", str(len(reply.body)).encode()),
            (b"x-request-id", request_id.encode()),
            (b"x-sd-workspace-id", self._workspace),
        ]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send_body(send, reply.body)

    async def _drop(self, send, record: RequestRecord) -> None:
        """Close the connection without a byte of answer, as a crashed upstream or proxy would.

        uvicorn's `send` is a bound method of the connection's request cycle, which holds the
        transport; aborting it resets the socket. Marking the cycle disconnected stops uvicorn
        from trying to answer "500: returned without starting response" on a dead socket.
        """
        record.status = "drop"
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise RuntimeError("cannot drop the connection: the ASGI server does not expose its transport")
        transport.abort()
        cycle.disconnected = True
        await asyncio.sleep(0)

    async def _cut(self, send, reply: Reply, record: RequestRecord) -> None:
        """Start the real answer, send half its body, then reset the connection."""
        headers = [*reply.headers, (b"content-length", str(len(reply.body)).encode())]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send_body(send, reply.body, limit=len(reply.body) // 2)
        await self._drop(send, record)
        record.status = "cut"

    async def _hold(self, seconds: float) -> None:
        if self.closing is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), timeout=seconds)


def _contradict(reply: Reply, kind: str) -> Reply:
    """A list answer that contradicts itself: its results emptied ("empty_page") or cut to half
    ("short_page") while total_results keeps the real total. Any other answer is left as it is."""
    if reply.status != 200 or not isinstance(reply.body, bytes):  # a file (wire.Streamed) is no list answer
        return reply
    try:
        body = json.loads(reply.body)
    except ValueError:
        return reply
    if not isinstance(body, dict) or not isinstance(body.get("results"), list) or "total_results" not in body:
        return reply
    results = body["results"]
    body["results"] = [] if kind == "empty_page" else results[: len(results) // 2]
    headers = [(k, v) for k, v in reply.headers if k != b"content-length"]
    return Reply(200, headers, dumps(body))


def _status_reply(outcome: Outcome) -> Reply:
    headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in outcome.headers]
    has_type = any(k == b"content-type" for k, _ in headers)
    status, body = outcome.status or 500, outcome.body
    if status in (204, 304) or (300 <= status < 400 and body is None):
        return Reply(status, headers, b"")
    if body is None:
        body = {"detail": f"Sandbox scripted answer {status}."}
    if isinstance(body, bytes):
        raw, ctype = body, b"application/octet-stream"
    elif isinstance(body, str):
        raw, ctype = body.encode(), b"text/plain; charset=utf-8"
    else:
        raw, ctype = dumps(body), JSON
    if not has_type:
        headers.insert(0, (b"content-type", ctype))
    return Reply(status, headers, raw)


def _body_problem(route, req: Request) -> Reply | None:
    """400 for a body that is required but missing, or declared JSON but unparseable."""
    if not req.body:
        if route.body_required():
            return error(400, "A request body is required.")
        return None
    if req.is_json():
        try:
            json.loads(req.body)
        except ValueError:
            return error(400, "JSON parse error: the request body is not valid JSON.")
    return None
