"""Where requests go: SpotDraft's four regional hosts, or a checked override.

A workspace lives in exactly one region, and calling the wrong one answers 404 or 401, so the region
is an explicit choice. The override exists for the sandbox and tests; it is refused unless it is
https, or plain http to a loopback address, because the client sends `client-secret` in every request.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from urllib.parse import urlsplit


class Region(StrEnum):
    IN = "IN"
    US = "US"
    EU = "EU"
    ME = "ME"

    @property
    def host(self) -> str:
        return f"api.{self.value.lower()}.spotdraft.com"

    @property
    def base_url(self) -> str:
        return f"https://{self.host}"


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine (localhost, 127.0.0.0/8, ::1): the only place plain http may go."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Return `url` without a trailing slash, or raise ValueError saying why it is refused."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {url!r}")
    if parts.username or parts.password:
        raise ValueError("base_url must not carry credentials")
    if parts.query or parts.fragment:
        raise ValueError("base_url must not carry a query string or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            "base_url must use https:// (plain http:// is accepted only for a loopback address such as "
            "127.0.0.1, for the sandbox); SpotDraft redirects http to https, and the client-secret header "
            "would travel in clear text first"
        )
    return url.strip().rstrip("/")


def check_signed_url(url: str) -> str:
    """Return a signed storage URL as given, or raise ValueError: https, or http to loopback only.

    Its query string is its key, so it is kept whole (and never logged).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the signed URL must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise ValueError("the signed URL must not carry credentials in its authority")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"the signed URL must use https:// (got plain http to {parts.hostname})")
    return url.strip()
