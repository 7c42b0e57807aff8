"""Keeping secrets out of task results.

Prefect may persist, display and pass on what a task returns, so a value the spec marks as a secret
(a webhook's `hmac_key`, an invited user's `token`, an embedded signing URL) comes back wrapped in
`pydantic.SecretStr`: it prints as `**********`, and the caller who needs it asks for
`.get_secret_value()`. Which fields count as secret is decided in one place, `client.redaction`
(exact field names from the spec; a business field such as `authorization_limit` is left alone).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from client.redaction import is_secret_key, register_secret, secret_answer_fields


def protect_secrets(value: Any, operation: str | None = None) -> Any:
    """A copy of a JSON answer with the values of secret fields wrapped in SecretStr.

    `operation`, when given, also wraps the top-level fields that are secrets only in that
    operation's answer (the embedded signing URL of `get_counterparty_embedded_url`).
    """
    if isinstance(value, dict):
        top = secret_answer_fields(operation)
        return {k: _wrap(v) if k in top or is_secret_key(str(k)) else protect_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [protect_secrets(v) for v in value]
    return value


def _wrap(value: Any) -> Any:
    if value is None or isinstance(value, SecretStr):
        return value
    register_secret(str(value))  # from now on it is also scrubbed from any text we log or store
    return SecretStr(str(value))  # a number or a structure under a secret field is a secret as a whole
