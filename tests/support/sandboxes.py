"""Credentials for a sandbox the test started itself."""

from __future__ import annotations

from blocks import SpotDraftCredentials


def credentials_for(sb) -> SpotDraftCredentials:
    return SpotDraftCredentials(client_id=sb.client_id, client_secret=sb.client_secret, base_url=sb.base_url)
