"""Keeping secrets out of task results.

Prefect may persist, display and pass on what a task returns, so a value SpotDraft returns under a
secret-sounding key (`hmac_key`, `access_token`, ...) comes back wrapped in `pydantic.SecretStr`:
it prints as `**********`, and the caller who needs it asks for `.get_secret_value()`.
Which keys count as secret is decided in one place, `client.redaction.is_secret_key`.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from client.redaction import is_secret_key, register_secret


def protect_secrets(value: Any) -> Any:
    """A copy of a JSON answer with the values of secret-named keys wrapped in SecretStr."""
    if isinstance(value, dict):
        return {k: _wrap(v) if is_secret_key(str(k)) else protect_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [protect_secrets(v) for v in value]
    return value


def _wrap(value: Any) -> Any:
    if value is None or isinstance(value, SecretStr):
        return value
    register_secret(str(value))  # from now on it is also scrubbed from any text we log or store
    if isinstance(value, str):
        return SecretStr(value)
    if isinstance(value, int | float | bool):
        return SecretStr(str(value))
    return SecretStr(str(value))  # a structure under a secret key is a secret as a whole
