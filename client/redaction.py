"""Keeping secrets out of everything we write down: logs, exception text, dead letters, artifacts.

Two nets: keys whose names say "secret" are masked wherever they appear in a structure, and the
literal values of the secrets this process knows about (registered by each client) are masked
wherever they appear in text, so a server that echoes a header back cannot leak it through us.
"""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "[redacted]"

# Whole words of a key name (snake, kebab or camel case split on separators): "client_secret",
# "hmac_key", "access-token" match; "key_pointers" and "signatures_completed_by" do not.
_SECRET_KEY = re.compile(
    r"(^|[_\-\s])(secret|password|passwd|token|authorization|hmac|hmac_key|api[_\-]key|apikey|private[_\-]key)"
    r"($|[_\-\s])",
    re.IGNORECASE,
)

_known_values: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so `scrub_text` masks it from now on (values under 6 chars are ignored)."""
    if value and len(value) >= 6:
        with _lock:
            _known_values.add(value)


def is_secret_key(key: str) -> bool:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)  # hmacKey -> hmac_Key
    return bool(_SECRET_KEY.search(snake))


def scrub_text(text: str) -> str:
    for value in _known_values.copy():
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact(value: Any) -> Any:
    """A copy of `value` (JSON-like) with secret-named keys masked and known secret values scrubbed."""
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value
