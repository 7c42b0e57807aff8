"""The few bytes-level helpers every part of the sandbox shares.

Answers are built as `Reply` values (status, headers, body bytes) and only the app turns them
into ASGI messages, so handlers, faults and admin endpoints stay plain functions that tests can
call without a server. JSON goes through orjson when present (it ships with Prefect) because the
list answers are the hot path of every benchmark; the stdlib fallback gives the same structure.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple


def _std_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


try:  # pragma: no cover - which branch runs depends on the environment
    import orjson

    def dumps(value: Any) -> bytes:
        try:
            return orjson.dumps(value)
        except TypeError:  # an integer beyond 64 bits (a poison record): JSON allows it, orjson does not
            return _std_dumps(value)

except ImportError:  # pragma: no cover
    dumps = _std_dumps


JSON = b"application/json"
Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Streamed:
    """A body of `length` bytes whose chunks `chunks()` makes anew on each call (each request, each hash)."""

    length: int
    chunks: Callable[[], Iterator[bytes]]

    def __len__(self) -> int:
        return self.length

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()

    @classmethod
    def of(cls, data: bytes) -> Streamed:
        return cls(len(data), lambda: iter((data,)))


class Reply(NamedTuple):
    status: int
    headers: Headers
    body: bytes | Streamed  # Streamed: a file, sent a chunk at a time (pdf.py)


async def send_body(send: Any, body: bytes | Streamed, limit: int | None = None) -> None:
    """The ASGI body messages of a reply; with `limit`, only its first `limit` bytes (and more to come)."""
    if isinstance(body, bytes):
        chunk = body if limit is None else body[:limit]
        await send({"type": "http.response.body", "body": chunk, "more_body": limit is not None})
        return
    sent = 0
    for chunk in body.chunks():
        if limit is not None and sent + len(chunk) >= limit:
            await send({"type": "http.response.body", "body": chunk[: limit - sent], "more_body": True})
            return
        sent += len(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def json_reply(status: int, value: Any, headers: Headers | None = None) -> Reply:
    return Reply(status, [(b"content-type", JSON), *(headers or ())], dumps(value))


def error(status: int, detail: str, headers: Headers | None = None, **extra: Any) -> Reply:
    """The error shape the sandbox uses everywhere: `{"detail": ...}` plus optional context."""
    return json_reply(status, {"detail": detail, **extra}, headers)


def field_errors(errors: dict[str, list[str]]) -> Reply:
    """A 400 that names each offending field, the way DRF-style APIs report validation errors."""
    return json_reply(400, errors)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`; fractions of a second only when there are some."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def parse_iso(text: str) -> datetime:
    """Parse a client-supplied timestamp; naive ones are taken as UTC. Raises ValueError."""
    # An unencoded "+00:00" offset arrives as " 00:00" after query decoding; put the plus back.
    text = re.sub(r" (\d\d:?\d\d)$", r"+\1", text.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Request:
    """The parts of an HTTP request the sandbox looks at; other headers are never kept."""

    __slots__ = ("_query", "body", "headers", "host", "method", "path", "query_string", "scheme")

    KEPT = frozenset(
        {b"client-id", b"client-secret", b"user-email", b"authorization", b"content-type",
         b"clickwrap-id", b"origin", b"host", b"x-spotdraft-analytics-user-scoped"}
    )  # fmt: skip

    def __init__(self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes = b""):
        self.method = method
        self.path = path  # raw (still percent-encoded), so an encoded "/" stays inside its segment
        self.query_string = query_string
        self.headers = headers
        self.body = body
        self.scheme = "http"
        self.host = headers.get("host", "")
        self._query: list[tuple[str, str]] | None = None

    @classmethod
    def from_scope(cls, scope: dict[str, Any]) -> Request:
        kept = cls.KEPT
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in kept}
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1").partition("?")[0]
        request = cls(scope["method"], path, scope["query_string"].decode("latin-1"), headers)
        request.scheme = scope.get("scheme", "http")
        return request

    @property
    def client_id(self) -> str | None:
        return self.headers.get("client-id")

    @property
    def user_email(self) -> str | None:
        return self.headers.get("user-email")

    @property
    def query(self) -> list[tuple[str, str]]:
        if self._query is None:
            from urllib.parse import parse_qsl

            self._query = parse_qsl(self.query_string, keep_blank_values=True)
        return self._query

    def json(self) -> Any:
        """The body as JSON; ValueError when it is empty or not JSON."""
        import json

        if not self.body:
            raise ValueError("empty body")
        return json.loads(self.body)

    def is_json(self) -> bool:
        ctype = self.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        return ctype in ("", "application/json") or ctype.endswith("+json")


async def read_body(receive: Any) -> bytes:
    """The whole request body (ASGI), or what came before the client went away."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def lifespan(receive: Any, send: Any) -> None:
    """Answer ASGI lifespan messages (uvicorn runs the sandbox with lifespan off; other servers may not)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
