"""Settings read from the environment (prefix `SPOTDRAFT_`), with pydantic-settings.

Retry settings bound one *operation*: every attempt of every layer (the client's own retries and
Prefect's task retries) counts against the same `max_attempts`, so a server that always answers 503
sees exactly that many requests.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from client.regions import Region


class RetrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPOTDRAFT_RETRY_", extra="ignore")

    max_attempts: int = Field(5, ge=1, le=50, description="Total attempts per operation, all layers together.")
    base_delay: float = Field(0.5, ge=0, le=60, description="First backoff wait in seconds; doubles each time.")
    max_delay: float = Field(30.0, ge=0, le=600, description="Cap on each of our own backoff waits; a server's "
                             "Retry-After is honoured as given while the window can hold it.")
    window: float = Field(120.0, ge=0, le=3600, description="Cap on the whole retry window of one operation.")

    @model_validator(mode="after")
    def _delays_ordered(self) -> RetrySettings:
        if self.max_delay < self.base_delay:
            raise ValueError("SPOTDRAFT_RETRY_MAX_DELAY must be >= SPOTDRAFT_RETRY_BASE_DELAY")
        return self


class CredentialSettings(BaseSettings):
    """Credentials from the environment, for scripts and the demo; the Block is the usual route."""

    model_config = SettingsConfigDict(env_prefix="SPOTDRAFT_", extra="ignore")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    region: Region = Region.US
    user_email: str | None = None
    base_url: str | None = None


class RateLimitSettings(BaseSettings):
    """`SPOTDRAFT_RATE_LIMIT`: the quota, when the user knows it; unset, the client finds it (client.ratelimit)."""

    model_config = SettingsConfigDict(env_prefix="SPOTDRAFT_", extra="ignore")

    rate_limit: float | None = Field(
        None, gt=0, le=10_000,
        description="Requests per second for one credential pair in one region, shared by every thread of the "
        "process and (with a Prefect API) by every process on the same credentials. Unset: adaptive.",
    )


class TimeoutSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPOTDRAFT_TIMEOUT_", extra="ignore")

    connect: float = Field(10.0, gt=0, description="Seconds to open a connection.")
    read: float = Field(60.0, gt=0, description="Seconds to wait for each chunk of an answer.")
