"""Input checks: everything about a request that can be wrong is refused here, before anything is sent.

A path parameter is one path segment: an empty or blank value, `.`, `..` or a value with a `/` is
refused (httpx normalises dot segments away, so an external id of `..` would address another
endpoint; a `/`, even quoted, is decoded back into a separator by many servers). Query parameters
must be declared for the operation (or be one of the spec's open-ended custom-field filters);
array parameters are sent the spec's way (style form, explode true: `tags=a&tags=b`). A body is
checked against the operation's request model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from client import errors as E
from client.operation import Operation

Refuse = Callable[[str], E.InvalidRequestError]

_FILTER_SUFFIX = re.compile(r"^(?P<base>.+?)__(?P<op>eq|ne|gt|gte|lt|lte|in)$")
# Query parameters whose names are open-ended in the spec (custom fields).
_OPEN_QUERY = re.compile(r"^filter_custom__[A-Za-z0-9_]+(\[\$(eq|ne|gt|gte|lt|lte|in)\])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def build_request(
    http: httpx.Client,
    op: Operation,
    *,
    host: str | None = None,
    path_params: Mapping[str, Any] | None = None,
    query: Mapping[str, Any] | None = None,
    body: Any = None,
    files: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Request:
    """The request for `op` on `http`, or InvalidRequestError naming what is wrong."""

    def refuse(detail: str) -> E.InvalidRequestError:
        return E.InvalidRequestError(detail, E.ErrorContext(operation=op.name, method=op.method, host=host,
                                                            path=op.path))

    path = check_path(op, path_params or {}, refuse)
    params = check_query(op, query or {}, refuse)
    json_body, data, upload = check_body(op, body, files, refuse)
    return http.build_request(op.method, path, params=params, json=json_body, data=data, files=upload,
                              headers=dict(headers or {}))


def check_path(op: Operation, path_params: Mapping[str, Any], refuse: Refuse) -> str:
    """The operation's path with its parameters filled in, each checked to be one real path segment."""
    values = dict(path_params)
    missing = [name for name in op.path_params if values.get(name) is None]
    if missing:
        raise refuse(f"missing path parameter {', '.join(missing)}")
    for name in op.path_params:
        value = values[name]
        if isinstance(value, bool | bytes | dict | list | tuple | set | frozenset):
            raise refuse(f"path parameter {name} must be a string or an integer, got {type(value).__name__}")
        text = str(value)
        if not text.strip():
            raise refuse(f"path parameter {name} is empty")
        if text in (".", ".."):
            raise refuse(f"path parameter {name}={text!r} is not an id (a dot segment would address another path)")
        if "/" in text or "\\" in text:
            raise refuse(f"path parameter {name}={text!r} contains a slash; an id is one path segment")
        if _CONTROL.search(text):
            raise refuse(f"path parameter {name}={text!r} contains a control character")
        spec = op.param(name)
        if spec and spec.pattern and not re.fullmatch(spec.pattern, text):
            raise refuse(f"path parameter {name}={text!r} does not match {spec.pattern}")
    return op.render_path(values)


def _integer(value: Any) -> int | None:
    """`value` as an integer when it is one (an int, an integral float, digits), else None.

    int() would turn 2.9 into 2 and True into 1, and raise OverflowError on infinity.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    return None


def check_query(op: Operation, query: Mapping[str, Any], refuse: Refuse) -> list[tuple[str, str]]:
    """The query as (wire name, text) pairs: declared names only, integers checked, arrays repeated."""
    declared = {p.name: p for p in op.params if p.location == "query"}
    params: list[tuple[str, str]] = []
    for name, value in query.items():
        if value is None:
            continue
        wire = name
        if wire not in declared and (m := _FILTER_SUFFIX.match(name)):
            wire = f"{m['base']}[${m['op']}]"  # filter__x__gte=... is filter__x[$gte]=...
        if wire not in declared and not _OPEN_QUERY.match(wire):
            raise refuse(f"unknown query parameter {name!r}")
        spec = declared.get(wire)
        if spec and spec.type == "integer":
            value = _integer(value)
            if value is None:
                raise refuse(f"query parameter {name} must be an integer, got {query[name]!r}")
            if wire in ("page", "limit") and value < 1:
                raise refuse(f"query parameter {name} must be >= 1, got {value}")
        if isinstance(value, list | tuple | set | frozenset):
            items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
            if spec and spec.type == "array":
                # The spec declares no style: for a query parameter that is form, explode=true.
                params.extend((wire, _text(v)) for v in items)
                continue
            # A string parameter that takes a list (the `[$in]` filters): comma-separated, `\,` escapes.
            value = ",".join(_text(v).replace(",", "\\,") for v in items)
        params.append((wire, _text(value)))
    missing = [p.name for p in declared.values() if p.required and p.name not in dict(params)]
    if missing:
        raise refuse(f"missing query parameter {', '.join(missing)}")
    return params


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_body(op: Operation, body: Any, files: Mapping[str, Any] | None, refuse: Refuse):
    """(json body, form data, files) for httpx, the body validated against the operation's model."""
    if body is None and not files:
        if op.body_required:
            raise refuse("a request body is required")
        return None, None, None
    if op.body_kind is None:
        raise refuse(f"{op.method} {op.path} takes no request body")
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", exclude_none=True, by_alias=True)
    if op.body_model is not None and body is not None:
        try:
            checked = op.body_model.model_validate(body)
        except ValidationError as exc:
            raise refuse("invalid body: " + describe_validation(exc)) from None
        body = checked.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if op.body_kind == "multipart":
        data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (body or {}).items()}
        return None, data, dict(files or {})
    return body, None, None


def describe_validation(exc: ValidationError, whole: str = "body") -> str:
    """The first five problems pydantic found, each as `field.path: message` (`whole` when it is about all of it)."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or whole}: {err['msg']}" for err in exc.errors()[:5])


def external_id_of(body: Any) -> str | None:
    """The external metadata id of a create body (`external_metadata.id`), or None."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", exclude_none=True)
    ext = body.get("external_metadata") if isinstance(body, dict) else None
    value = ext.get("id") if isinstance(ext, dict) else None
    return str(value) if value not in (None, "") else None


def external_ids(op: Operation, path_params: Mapping[str, Any] | None, body: Any) -> tuple[str, ...]:
    """The external metadata keys a call involves (path or body), for the error context."""
    ids = []
    if path_params and path_params.get("external_metadata_id") not in (None, ""):
        ids.append(str(path_params["external_metadata_id"]))
    if (from_body := external_id_of(body)) is not None:
        ids.append(from_body)
    return tuple(ids)
