"""An analytics answer's JSON values, typed for their columns by the catalog's GoogleSQL type.

The API sends values as JSON (timestamps as ISO 8601 text; a number may come as text). Each becomes the
Python value of its column's type; one that cannot (text where a number belongs, a date that is not
one, a time whose UTC falls outside years 1-9999, a number past any float) is stored as NULL and counted,
never failing the page (nor the run: an exception here would end every table's sync). Text keeps
everything but what no database stores: NUL and lone surrogates become U+FFFD, as in every table here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

from client.analytics import AnalyticsTable
from client.text import NOT_UTF8_OR_NUL, replace_unfit

_INT64 = (-(2**63), 2**63 - 1)
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
_UNFIT = NOT_UTF8_OR_NUL.search


def _int64(value: Any) -> int | None:
    if type(value) is int and _INT64[0] <= value <= _INT64[1]:  # the common case, first
        return value
    digits = isinstance(value, str) and value.strip().lstrip("-").isdigit()
    if digits or (isinstance(value, float) and value.is_integer()):
        value = int(value)
    ok = isinstance(value, int) and not isinstance(value, bool) and _INT64[0] <= value <= _INT64[1]
    return value if ok else None


def _float64(value: Any) -> float | None:
    if type(value) is float:
        return value if math.isfinite(value) else None  # SQLite keeps no NaN
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None  # SQLite keeps no NaN


def _string(value: Any) -> str:
    if type(value) is str and not _UNFIT(value):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return replace_unfit(text, NOT_UTF8_OR_NUL)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _timestamp(value: Any) -> datetime | None:
    """ISO 8601 text (a `Z`, an offset, GoogleSQL's " UTC", or none: UTC), or epoch seconds; in UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip().removesuffix(" UTC")
    text = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    return None


TYPED: dict[str, Callable[[Any], Any]] = {"INT64": _int64, "FLOAT64": _float64, "STRING": _string, "DATE": _date,
                                          "TIMESTAMP": _timestamp, "BOOL": _bool}


def typed_rows(table: AnalyticsTable, rows: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows with each catalog column typed (columns the catalog does not have are left out), and a
    description of each value that had to change to fit (empty when none did)."""
    converters = [(name, TYPED[kind]) for name, kind in table.columns]
    # Each row a copy of one dict of every column: allocated at its final size at once, not grown key by key,
    # so a page's rows leave no scattered holes in the heap behind them (memory stays flat page after page).
    every_column = dict.fromkeys(table.column_names)
    typed, fitted = [], []
    for row in rows:
        out = every_column.copy()
        for name, convert in converters:
            value = row.get(name)
            if value is None:
                continue
            try:
                new = convert(value)
            except (ArithmeticError, ValueError):  # past what a conversion can hold: years 1-9999 in UTC, a float
                new = None
            out[name] = new
            if new is not value and not _same(value, new) and new != value:
                fitted.append(f"{name}: {_preview(value)} stored as {_preview(new)}")
        typed.append(out)
    return typed, fitted


def _same(raw: Any, typed: Any) -> bool:
    """Whether the typed value says what the JSON said (a date for its ISO text, a number for its digits)."""
    return isinstance(typed, datetime | date) or (isinstance(typed, bool | int | float)
                                                  and isinstance(raw, str | int | float))


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
