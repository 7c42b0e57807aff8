"""SpotDraftCredentials: the Prefect Block that holds a SpotDraft credential pair and where to use it.

Operators create one per workspace (UI form or `SpotDraftCredentials(...).save("name")`) and pick it
from a drop-down when running a deployment. `get_client()` returns a pooled client that is shared by
every task in the process using the same credentials, so a page of calls reuses its connections.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import threading
from typing import Annotated, ClassVar

import httpx
from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, HttpUrl, SecretStr, WithJsonSchema, field_validator

from blocks.shared_quota import shared_quota_for
from client import RateLimitSettings, Region, RetrySettings, SpotDraftClient
from client.redaction import register_secret
from client.regions import check_base_url

# The Prefect UI renders `str | None` as a "string / null" switch to flip before typing, and a field
# that refers to an enum by `$ref` loses its title on the saved block's page: these fields describe
# themselves plainly (validation still uses the Python type).
OptionalText = Annotated[str | None, WithJsonSchema({"type": "string"})]
RegionChoice = Annotated[Region, WithJsonSchema({"type": "string", "enum": [r.value for r in Region]})]

# The logo shown in the Block catalog, form and pickers. Prefect accepts only an http(s) URL and serves
# no files of ours; the image itself ships with the project (blocks/spotdraft-logo.svg), so a server
# without internet access can host it and point SPOTDRAFT_BLOCK_LOGO_URL at it before registering.
DEFAULT_LOGO_URL = "https://cdn.spotdraft.com/assets/logo-black-new.png"

_clients: dict[str, SpotDraftClient] = {}
_clients_lock = threading.Lock()


class SpotDraftCredentials(CredentialsBlock):
    """Credentials and host configuration for one SpotDraft workspace.

    Attributes:
        client_id: The API credential's client id (Settings > Developer settings in SpotDraft).
        client_secret: The API credential's client secret; stored encrypted, never logged.
        region: The cluster the workspace lives in: IN, US, EU or ME.
        user_email: Optional workspace user to act as (impersonation, audit attribution).
        base_url: Optional override of the regional host (https, or http to a loopback sandbox).
    """

    _block_type_name = "SpotDraft Credentials"
    _block_type_slug = "spotdraft-credentials"
    # Prefect declares an HttpUrl and validates a str into one when the block type is registered: a
    # mistyped SPOTDRAFT_BLOCK_LOGO_URL fails registration there, not every import of this package.
    _logo_url = os.environ.get("SPOTDRAFT_BLOCK_LOGO_URL") or DEFAULT_LOGO_URL  # type: ignore[assignment]
    _documentation_url = HttpUrl("https://api.us.spotdraft.com/api/docs")
    _description = "Client id/secret, region and optional impersonated user for calling the SpotDraft API."
    # The UI shows a fenced python block only.
    _code_example = """
    ```python
    from blocks import SpotDraftCredentials
    from tasks import get_contract_status

    credentials = SpotDraftCredentials.load("BLOCK_NAME")
    print(get_contract_status(credentials, "T-1234"))
    ```
    """
    _env_fields: ClassVar[tuple[str, ...]] = ("client_id", "client_secret", "region", "user_email", "base_url")

    client_id: str = Field(..., title="Client ID", description="The API credential's client id.", min_length=1)
    client_secret: SecretStr = Field(
        ..., title="Client Secret", description="The API credential's client secret. Stored encrypted."
    )
    region: RegionChoice = Field(
        Region.US, title="Region", description="Where the workspace is provisioned: IN, US, EU or ME."
    )
    user_email: OptionalText = Field(
        None, title="Act as user",
        description="Email of an active workspace user to act on behalf of (sent as the user-email header).",
    )
    base_url: OptionalText = Field(
        None, title="Base URL override",
        description="Replaces the regional host, e.g. for the sandbox. Must be https://, or http:// to loopback.",
    )

    def model_post_init(self, context: object, /) -> None:
        super().model_post_init(context)
        # Known to every scrubber (logs, run names, errors) from the moment the Block exists, not only
        # once a client is built on it: a task run's name, say, is made before its body runs.
        register_secret(self.client_secret.get_secret_value())

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        return check_base_url(value) if value else None

    @field_validator("user_email")
    @classmethod
    def _check_user_email(cls, value: str | None) -> str | None:
        if value and "@" not in value:
            raise ValueError("user_email must be an email address")
        return value or None

    @classmethod
    def from_env(cls) -> SpotDraftCredentials:
        """Credentials from SPOTDRAFT_CLIENT_ID, SPOTDRAFT_CLIENT_SECRET, SPOTDRAFT_REGION, ..."""
        from client.settings import CredentialSettings

        env = CredentialSettings()
        if not env.client_id or env.client_secret is None:
            raise ValueError("set SPOTDRAFT_CLIENT_ID and SPOTDRAFT_CLIENT_SECRET (or use a saved Block)")
        return cls(**{f: getattr(env, f) for f in cls._env_fields})

    def _fingerprint(self) -> str:
        raw = "\0".join(
            [self.client_id, self.client_secret.get_secret_value(), self.region.value,
             self.user_email or "", self.base_url or "", RetrySettings().model_dump_json(),
             RateLimitSettings().model_dump_json()]
        )
        return hashlib.sha256(raw.encode()).hexdigest()

    def get_client(self) -> SpotDraftClient:
        """The pooled client for these credentials, created once per process and reused.

        With `SPOTDRAFT_RATE_LIMIT` set and a Prefect API configured, its rate limiter draws from a
        Prefect global concurrency limit named after the client id and region, so every run and
        worker on these credentials shares the one quota (blocks/shared_quota.py).
        """
        key = self._fingerprint()
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = SpotDraftClient(
                    self.client_id, self.client_secret, self.region, self.user_email, self.base_url
                )
                _clients[key] = client
            self._share_quota(client)
            return client

    def _share_quota(self, client: SpotDraftClient) -> None:
        rate = client.limiter.fixed_rate
        if rate is None or client.limiter.shared_quota is not None:
            return
        where = httpx.URL(self.base_url).netloc.decode() if self.base_url else self.region.value
        quota = shared_quota_for(self.client_id, where, rate)
        if quota is not None:
            client.limiter.share(quota)


@atexit.register
def _close_clients() -> None:
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
