"""Keeping secrets out of everything we write down: logs, exception text, dead letters, artifacts.

A value is a secret because of where it comes from, never because a business field's name sounds
like one (`authorization_limit`, `trade_secret_clause` and `token_amount` are contract data, and a
replay must send them exactly as the first attempt did). The sources:

(a) the literal values this process knows to be secret: each client registers its client secret,
    and secrets the API hands back are registered when they arrive (`register_secret`); they are
    scrubbed from any text and any string (`scrub_text`);
(b) signed URLs: their signing parameters, and any password in a URL (`hide_url_secrets`,
    `scrub_signed`, `without_query`), also in httpx's own request log line (`install_log_filter`);
(c) headers: never stored at all; the header names that carry credentials are also masked as
    keys should a structure hold them;
(d) the fields SpotDraft's OpenAPI document marks as secrets, by exact name (`SECRET_FIELDS`,
    `SECRET_ANSWER_FIELDS`), masked wherever they appear in a structure.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import quote, unquote

MASK = "[redacted]"

# (d) Fields the spec marks as secrets, by exact name, and the schema that says so. A test checks
# that each one is a property of that schema in /work/shared/spotdraft-openapi.yml.
SECRET_FIELDS: dict[str, str] = {
    "hmac_key": "WebhookSecretKeyResponse",  # "Base64 of the secret for webhook"
    "password": "ExternalUserCreate",  # "Password for the user."
    "token": "OrganizationUserInvitePublicApiResponse",  # the invited user's token
}
# (c) Header names that carry credentials (securitySchemes ClientSecret, OAuthBearer and
# NativeIntegrationBasic), and their snake-case spelling, masked when a structure holds them as keys.
HEADER_SECRET_KEYS: frozenset[str] = frozenset({"client-secret", "client_secret", "authorization"})
# Answers whose field is a secret although its name is ordinary: (operation, field) -> schema.
# The Embedded Contract guide: "Treat the returned URL like a capability token".
SECRET_ANSWER_FIELDS: dict[str, dict[str, str]] = {
    "get_counterparty_embedded_url": {"url": "CounterPartyEmbeddedUrlResponse"},
    # "a temporary download URL": signed for one file, whoever holds it reads that contract.
    "get_contract_download_link": {"url": "DownloadUrl"},
}

# (b) Query parameters that carry a credential or a signature in any URL we may show: database
# drivers' passwords, API keys, and the signing parameters of S3, GCS, CloudFront and Azure SAS.
_URL_SECRET_PARAMS = frozenset({
    "password", "passwd", "pwd", "pass", "sslpassword", "secret", "client_secret", "token", "access_token",
    "refresh_token", "id_token", "auth", "key", "api_key", "apikey", "sig", "signature", "credential",
    "credentials", "policy", "key-pair-id", "googleaccessid", "se", "sp", "sv", "sr", "st", "spr", "skoid",
    "sktid", "skt", "ske", "sks", "skv", "srt", "ss", "expires", "x-amz-security-token",
})
_URL_SECRET_PREFIXES = ("x-amz-", "x-goog-", "x-ms-")
_URL_SECRET_WORDS = ("password", "secret", "token", "signature", "credential")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]+")

_known_values: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so `scrub_text` masks it from now on (values under 6 chars are ignored)."""
    if value and len(value) >= 6:
        with _lock:
            _known_values.add(value)


def is_secret_key(key: str) -> bool:
    """Whether a structure's key holds a secret: the spec's secret fields and credential headers, exactly."""
    name = key.strip().lower()
    return name in SECRET_FIELDS or name in HEADER_SECRET_KEYS


def secret_answer_fields(operation: str | None) -> frozenset[str]:
    """The top-level fields of `operation`'s answer that are secrets although their names are ordinary."""
    return frozenset(SECRET_ANSWER_FIELDS.get(operation or "", {}))


def scrub_text(text: str) -> str:
    """`text` with every registered secret value masked, and every URL in it without its secrets."""
    for value in _known_values.copy():
        if value in text:
            text = text.replace(value, MASK)
    if "://" in text:
        text = _URL.sub(lambda m: hide_url_secrets(m.group(0)), text)
    return text


def scrub_known_values(value: Any) -> Any:
    """A copy of `value` (JSON-like) with only the registered secret values masked, wherever they appear.

    For what we sent (a dead letter's inputs): a replay must send exactly that, so nothing is masked
    for its name or its shape, only the values we know are secrets (the credentials, keys SpotDraft
    returned).
    """
    if isinstance(value, dict):
        return {k: scrub_known_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_known_values(v) for v in value]
    if isinstance(value, str):
        for known in _known_values.copy():
            if known in value:
                value = value.replace(known, MASK)
    return value


def redact(value: Any) -> Any:
    """A copy of `value` (JSON-like) with secret fields masked and secret values scrubbed from strings."""
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


# -- URLs -------------------------------------------------------------------------------------------------
def _is_secret_param(name: str) -> bool:
    name = unquote(name).strip().lower()
    return (
        name in _URL_SECRET_PARAMS
        or name.startswith(_URL_SECRET_PREFIXES)
        or any(word in name for word in _URL_SECRET_WORDS)
    )


def hide_url_secrets(url: str) -> str:
    """`url` with the password of its userinfo and every secret-bearing query parameter masked.

    Everything else (scheme, user, host, port, path, ordinary parameters) is kept as written, so a
    person still recognises the URL: `postgresql://app:[redacted]@db/prod?sslmode=require&password=[redacted]`.
    """
    head, rest = "", url
    if "://" in url:
        scheme, _, after = url.partition("://")
        end = next((i for i, ch in enumerate(after) if ch in "/?#"), len(after))
        authority, rest = after[:end], after[end:]
        if "@" in authority:
            userinfo, _, hostport = authority.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            authority = f"{user}:{MASK}@{hostport}" if colon else authority
        head = f"{scheme}://{authority}"
    rest, hash_, fragment = rest.partition("#")
    path, question, query = rest.partition("?")
    if query:
        query = _hide_params(query)
    if fragment and "=" in fragment:  # some signers put parameters in the fragment
        fragment = _hide_params(fragment)
    return f"{head}{path}{question}{query}{hash_}{fragment}"


def _hide_params(query: str) -> str:
    return "&".join(
        f"{piece.partition('=')[0]}={MASK}" if _is_secret_param(piece.partition("=")[0]) else piece
        for piece in query.split("&")
    )


def without_query(url: str | None) -> str | None:
    """A URL without its query: a signed URL's query is its key."""
    return url.split("?", 1)[0] if url else url


# Any query string (after a URL or a bare path), and the signing parameters of S3, GCS, CloudFront
# and Azure wherever they appear: what could repeat a signed URL's key in a storage error's text.
_SIGNED_QUERY = re.compile(r"([^\s?\"'<>]+)\?[^\s\"'<>]*")
_SIGNING_PARAM = re.compile(
    r"(?i)\b(x-amz-[a-z-]+|x-goog-[a-z-]+|signature|sig|googleaccessid|key-pair-id|policy|se|sp|sv|sr)=[^&\s\"'<>]*"
)
_XML_FIELD = re.compile(r"<(Code|Message)>([^<]{0,300})</\1>")


def scrub_signed(text: str) -> str:
    """A storage host's error text with every query string and signing parameter removed."""
    return _SIGNING_PARAM.sub(r"\1=[removed]", _SIGNED_QUERY.sub(r"\1?[query removed]", text))


def storage_error_fields(body: Any, url: str | None = None) -> dict[str, str] | None:
    """What a storage host's error body says, without what could repeat the signature.

    S3 and GCS error bodies echo the signature and the string signed (`SignatureProvided`,
    `StringToSign`, `CanonicalRequest`); only their `Code` and `Message` are kept (or a JSON body's
    code/detail/message/error), and any URL in them loses its query. The signing values of `url` (the
    request's) are masked wherever the text repeats them, bare too (a Message, a proxy's plain text).
    """
    if isinstance(body, dict):
        kept = {k: body[k] for k in ("code", "detail", "message", "error") if isinstance(body.get(k), str)}
    elif isinstance(body, str):
        kept = {k.lower(): v for k, v in _XML_FIELD.findall(body)} or {"detail": body[:200]}
    else:
        return None
    sent = _signing_values(url)
    return {k: _without(scrub_signed(v), sent) for k, v in kept.items()} or None


def _signing_values(url: str | None) -> list[str]:
    """The values of a URL's secret parameters (a signature, a credential), longest first."""
    query = (url or "").partition("#")[0].partition("?")[2]
    pairs = (piece.partition("=") for piece in query.split("&"))
    values = {unquote(value) for name, _, value in pairs if _is_secret_param(name) and len(unquote(value)) >= 6}
    return sorted(values | {quote(v, safe="") for v in values}, key=len, reverse=True)


def _without(text: str, values: list[str]) -> str:
    for value in values:
        text = text.replace(value, MASK)
    return text


# -- httpx's own request log ----------------------------------------------------------------------------------
class _HideUrlSecrets(logging.Filter):
    """Rewrites the URL arguments of httpx's `HTTP Request: GET <url> ...` line (INFO) before it is shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(_hidden(a) for a in args)
        elif isinstance(args, dict):
            record.args = {k: _hidden(v) for k, v in args.items()}
        if isinstance(record.msg, str) and "://" in record.msg:
            record.msg = scrub_text(record.msg)
        return True


def _hidden(arg: Any) -> Any:
    if isinstance(arg, str):
        text = arg
    elif type(arg).__name__ == "URL":  # httpx.URL, without importing httpx here
        text = str(arg)
    else:
        return arg
    if "://" in text:
        return scrub_text(text)
    if "?" in text:
        return hide_url_secrets(text)
    return arg


_FILTER = _HideUrlSecrets()
# httpx and httpcore print request URLs; Prefect's flow module prints every parameter of a run whose
# parameters fail validation (a database URL among them).
LOGGERS_THAT_PRINT_URLS = ("httpx", "httpcore", "prefect.flows")


def install_log_filter() -> None:
    """Attach the URL filter to the loggers that print URLs, once; the client does it on import."""
    for name in LOGGERS_THAT_PRINT_URLS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
