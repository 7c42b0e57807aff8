"""Text that valid JSON can hold but a database, an HTTP body or Prefect cannot: made to fit, in one place.

A lone surrogate (`"\\ud800"`) is valid JSON and a valid Python string, but not UTF-8: httpx refuses to
encode it and no database stores it. NUL is refused in text by PostgreSQL (and so by a Prefect server
on PostgreSQL). Both become U+FFFD, the replacement character, wherever such text is kept or sent.
"""

from __future__ import annotations

import math
import re
from typing import Any

NOT_UTF8 = re.compile("[\ud800-\udfff]")  # lone surrogates
NOT_UTF8_OR_NUL = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def replace_unfit(value: Any, unfit: re.Pattern[str] = NOT_UTF8, *, non_finite_as_none: bool = False) -> Any:
    """`value` (a JSON-like structure) with every match of `unfit` in its text, keys included, replaced by
    U+FFFD; with `non_finite_as_none`, NaN and ±Infinity (which Python's JSON reader accepts) become None."""
    if isinstance(value, str):
        return unfit.sub(REPLACEMENT, value) if unfit.search(value) else value
    if isinstance(value, dict):
        return {replace_unfit(k, unfit): replace_unfit(v, unfit, non_finite_as_none=non_finite_as_none)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [replace_unfit(v, unfit, non_finite_as_none=non_finite_as_none) for v in value]
    if non_finite_as_none and isinstance(value, float) and not math.isfinite(value):
        return None
    return value
