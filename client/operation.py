"""What an API operation is, as data: the catalog (client.catalog) is a tuple of these.

The tasks, the sandbox and the conformance tests all read the same entries, so a path is written
down once. `safe_to_retry` is the one judgement per operation that the retry policy needs: may
this request be sent twice after an ambiguous failure without changing the outcome?
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

ParamLocation = Literal["path", "query", "header"]
BodyKind = Literal["json", "multipart"]
ResponseKind = Literal["json", "binary"]

_PATH_PARAM = re.compile(r"{([^}]+)}")


@dataclass(frozen=True)
class Param:
    name: str  # the wire name, e.g. "composite_id" or "filter__last_updated_on[$gte]"
    location: ParamLocation
    required: bool = False
    type: str = "string"  # JSON type from the spec: string, integer, number, boolean, array
    pattern: str | None = None


@dataclass(frozen=True)
class Operation:
    name: str  # snake_case; the task of the same name calls it
    method: str  # GET, POST, PUT, PATCH, DELETE
    path: str  # exact, trailing slash as documented
    version: str  # "v2.1" or "v1"
    family: str  # the module under tasks/ that holds its task
    operation_id: str  # the spec's operationId, for conformance checks
    safe_to_retry: bool
    summary: str = ""
    params: tuple[Param, ...] = ()
    body_model: type[BaseModel] | None = None
    body_kind: BodyKind | None = None
    body_required: bool = False
    response_kind: ResponseKind = "json"
    paginated: bool = False

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(_PATH_PARAM.findall(self.path))

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def render_path(self, values: dict[str, Any]) -> str:
        """The path with its {placeholders} filled; each value is URL-quoted as one path segment."""
        from urllib.parse import quote

        missing = [n for n in self.path_params if values.get(n) in (None, "")]
        if missing:
            raise KeyError(", ".join(missing))
        return _PATH_PARAM.sub(lambda m: quote(str(values[m.group(1)]), safe=""), self.path)
