"""The handoff's settings (``QUALIBOT_*``): retry schedule, timeouts, the worker's leases and
concurrency, the abandoned-lead sweep and the address guard. Composed into ``qualibot.settings``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Delays before each try: the first at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_RETRY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class HandoffSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUALIBOT_", env_file=".env", extra="ignore")

    # Seconds before each try, comma-separated ("0,1,2" in tests); the delivery is dead-lettered
    # after the last one fails.
    retry_schedule: Annotated[tuple[float, ...], NoDecode] = DEFAULT_RETRY_SCHEDULE
    # Allow endpoints on private, loopback and link-local addresses (tests, an in-house CRM).
    allow_private_webhooks: bool = False
    webhook_timeout: float = Field(15.0, gt=0, le=120)
    # An endpoint whose deliveries all failed for this long is disabled (seconds; 5 days).
    webhook_disable_after: float = Field(5 * 86400.0, gt=0)
    # After a secret rotation the old secret keeps signing for this long (seconds; 24 h).
    webhook_rotation_grace: float = Field(86400.0, ge=0, le=30 * 86400)
    # How long a claimed delivery belongs to its worker; longer than the timeout.
    worker_lease: float = Field(60.0, gt=0)
    worker_poll_interval: float = Field(0.05, gt=0, le=60)
    worker_concurrency: int = Field(64, ge=1, le=1024)
    worker_concurrency_per_endpoint: int = Field(16, ge=1, le=1024)
    worker_batch: int = Field(200, ge=1, le=5000)
    # A conversation idle this long that left a contact is sent as lead.abandoned (seconds).
    abandoned_after: float = Field(1800.0, gt=0)
    abandoned_sweep_interval: float = Field(30.0, gt=0)
    # Where people reach this service (for the transcript link in every delivery).
    public_url: str = "http://127.0.0.1:8000"

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                value = tuple(float(p) for p in parts)
            except ValueError:
                raise ValueError("QUALIBOT_RETRY_SCHEDULE: seconds, comma-separated, e.g. 0,5,300") from None
        if isinstance(value, tuple | list):
            if not value:
                raise ValueError("the retry schedule needs at least one try")
            if any(not (0 <= float(v) <= 7 * 86400) for v in value):
                raise ValueError("every retry delay is between 0 and 604800 seconds")
        return value

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.worker_lease)

    @property
    def disable_after(self) -> timedelta:
        return timedelta(seconds=self.webhook_disable_after)
