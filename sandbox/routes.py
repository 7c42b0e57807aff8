"""Routing: every documented (method, path) of the spec, matched exactly as SpotDraft does.

`answers.json` (written by tools/synthesize_answers.py) lists each operation with its success
status, auth schemes, documented query parameters, path-parameter patterns and a synthesized
answer. Routes are compiled once; a lookup costs a dict hit for static paths and a handful of
regex matches for templated ones, so routing never shows up in a benchmark.

Exactness is the point: `/contracts/` and `/contracts/{id}/status` differ in their trailing
slash, and a path that differs from a documented one only by that slash is answered with a
302 to the documented one, as SpotDraft does, instead of a 404.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .wire import JSON, Reply, dumps

ANSWERS_PATH = Path(__file__).with_name("answers.json")
_PARAM = re.compile(r"{([^}]+)}")


@cache
def load_answers(path: Path = ANSWERS_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def binary_body(path: str, content_type: str, size: int) -> bytes:
    """A few KB of deterministic bytes that start like the file type they claim to be."""
    head = b"%PDF-1.4\n%sandbox\n" if content_type == "application/pdf" else b"PK\x03\x04sandbox"
    tail = b"\n%%EOF\n" if content_type == "application/pdf" else b""
    filler = bytearray()
    digest = hashlib.sha256(path.encode()).digest()
    while len(head) + len(filler) + len(tail) < size:
        digest = hashlib.sha256(digest).digest()
        filler += digest
    return head + bytes(filler[: size - len(head) - len(tail)]) + tail


@dataclass
class Route:
    method: str
    path: str  # the template, exactly as documented
    spec: dict[str, Any]  # the answers.json entry
    regex: re.Pattern[str] | None = None
    params: tuple[str, ...] = ()
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)
    handler: Any = None  # a stateful handler (handlers.py) or None for the synthesized answer
    reply: Reply | None = None  # the precomputed synthesized answer
    query: frozenset[str] = frozenset()
    security: tuple[frozenset[str], ...] = ()

    @property
    def public(self) -> bool:
        return frozenset() in self.security

    def body_required(self) -> bool:
        body = self.spec.get("request_body")
        return bool(body and body.get("required"))


def _synthesized_reply(entry: dict[str, Any]) -> Reply:
    status, kind = entry["status"], entry["kind"]
    if kind == "empty":
        return Reply(status, [], b"")
    if kind == "binary":
        ctype = entry["content_type"]
        return Reply(
            status, [(b"content-type", ctype.encode())], binary_body(entry["path"], ctype, entry["size"])
        )
    return Reply(status, [(b"content-type", JSON)], dumps(entry["body"]))


def build_routes(answers: dict[str, Any]) -> list[Route]:
    routes = []
    for entry in answers["operations"]:
        path = entry["path"]
        params = tuple(_PARAM.findall(path))
        regex = None
        if params:
            pieces = _PARAM.split(path)  # literal, name, literal, name, ...
            source = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(pieces))
            regex = re.compile(f"^{source}$")
        routes.append(
            Route(
                method=entry["method"],
                path=path,
                spec=entry,
                regex=regex,
                params=params,
                patterns={k: re.compile(v) for k, v in entry.get("path_patterns", {}).items()},
                reply=_synthesized_reply(entry),
                query=frozenset(entry.get("query", ())),
                security=tuple(frozenset(s) for s in entry.get("security", [[]])),
            )
        )
    return routes


class Router:
    """Static paths by dict; templated ones grouped by segment count, most literal first."""

    def __init__(self, routes: list[Route]):
        self.routes = routes
        self.static: dict[str, dict[str, Route]] = {}
        self.templated: dict[int, list[tuple[re.Pattern[str], dict[str, Route]]]] = {}
        grouped: dict[str, dict[str, Route]] = {}
        for route in routes:
            target = self.static if route.regex is None else grouped
            target.setdefault(route.path, {})[route.method] = route
        ranked = sorted(grouped.items(), key=lambda kv: (-len(_PARAM.sub("", kv[0])), kv[0]))
        for path, by_method in ranked:
            regex = next(iter(by_method.values())).regex
            assert regex is not None
            self.templated.setdefault(path.count("/"), []).append((regex, by_method))

    def find(self, method: str, path: str) -> Route | None:
        by_method = self.static.get(path)
        if by_method is not None:
            return by_method.get(method)
        return next((r for r in self.routes if r.method == method and r.path == path), None)

    def match(self, path: str) -> tuple[dict[str, Route], dict[str, str]] | None:
        by_method = self.static.get(path)
        if by_method is not None:
            return by_method, {}
        for regex, by_method in self.templated.get(path.count("/"), ()):
            found = regex.match(path)
            if found:
                return by_method, found.groupdict()
        return None

    def slash_twin(self, path: str) -> str | None:
        """The documented path this one differs from only by a trailing slash, if any."""
        twin = path[:-1] if path.endswith("/") else path + "/"
        return twin if twin and self.match(twin) is not None else None
