"""SpotDraft's webhook key and the signature it puts on every delivery.

SpotDraft hands the key out as base64 (`GET /api/v2.1/public/webhooks/hmac_key/` answers
`{"hmac_key": "..."}`) and signs with the decoded bytes: `X-SD-WEBHOOK-CONTENT-HASH` is the
lower-case hex HMAC-SHA512 of the raw request body. The key is decoded once, when the receiver
starts, so a key that is not base64 stops the receiver with a message naming where it came from
(never the value); it is also registered with the project's scrubbers, so any text we write masks it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from client.redaction import register_secret

SIGNATURE_HEADER = "X-SD-WEBHOOK-CONTENT-HASH"


class WebhookKeyError(ValueError):
    """The key is missing or is not SpotDraft's base64 text; the message names its source, never its value."""


def decode_key(text: str | None, source: str) -> bytes:
    """The key's bytes from the base64 text SpotDraft gives out; `source` names where it came from."""
    if text is None or not text.strip():
        raise WebhookKeyError(f"{source} is empty: give the webhook key SpotDraft returns as 'hmac_key'")
    register_secret(text.strip())  # before anything can fail and be reported
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookKeyError(
            f"{source} is not valid base64 (the value is not shown): give 'hmac_key' exactly as "
            "GET /api/v2.1/public/webhooks/hmac_key/ returns it"
        ) from None
    if not key:
        raise WebhookKeyError(f"{source} decodes to an empty key")
    return key


def sign(key: bytes, body: bytes) -> str:
    """The signature SpotDraft sends for `body`: lower-case hex HMAC-SHA512 under the decoded key."""
    return hmac.new(key, body, hashlib.sha512).hexdigest()


def signature_matches(key: bytes, body: bytes, header_value: str | None) -> bool:
    """Whether `header_value` signs exactly these raw bytes, compared in constant time.

    The header is lower-cased first: SpotDraft sends lower-case hex, and an upper-case copy of the
    right digest proves the same thing. A header that is not ASCII cannot match and is refused.
    """
    if not header_value:
        return False
    try:
        given = header_value.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(sign(key, body).encode("ascii"), given)
