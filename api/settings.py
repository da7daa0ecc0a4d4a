"""Settings of the web adapter (``QUALIBOT_*``): who may embed the widget, whose proxy headers to
believe, the limits on requests, and how long a conversation token lives. Composed into the one
``qualibot.settings.Settings`` by the composition root; every setting has a working default."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PERIODS = {"s": 1, "second": 1, "m": 60, "minute": 60, "h": 3600, "hour": 3600}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` requests per ``period`` seconds, as a burst of ``count`` that refills evenly
    (``10/minute``: ten at once, then one every six seconds). ``off`` turns a limit off."""

    count: int
    period: float

    @property
    def enabled(self) -> bool:
        return self.count > 0 and math.isfinite(self.period)

    def __str__(self) -> str:
        return f"{self.count}/{self.period:g}s" if self.enabled else "off"


OFF = Rate(0, math.inf)


def parse_rate(value: Any) -> Rate:
    """``"20/minute"``, ``"5/s"``, ``"100/10s"``, ``"1000/hour"`` or ``"off"``."""
    if isinstance(value, Rate):
        return value
    text = str(value).strip().lower()
    if text in {"off", "0", "none"}:
        return OFF
    match = _RATE.match(text)
    if match is None or match.group(3) not in _PERIODS:
        raise ValueError(f"a rate is COUNT/PERIOD such as 20/minute, 5/s or 100/10s, or off; not {value!r}")
    count, multiple, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if count == 0 or multiple == 0:
        return OFF
    return Rate(count, float(multiple * _PERIODS[unit]))


RateSetting = Annotated[Rate, NoDecode, BeforeValidator(parse_rate), PlainSerializer(str)]
Network = IPv4Network | IPv6Network


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class ApiSettings(BaseSettings):
    """The web API and widget. Lists are comma-separated in the environment."""

    model_config = SettingsConfigDict(env_prefix="QUALIBOT_", env_file=".env", extra="ignore")

    # Origins of the sites that embed the widget (``https://shop.example``); ``*`` allows any. The
    # server's own origin (the demo page) is always allowed.
    allowed_origins: Annotated[list[str], NoDecode, BeforeValidator(_comma_list)] = Field(
        default_factory=list
    )
    # Addresses or networks of the reverse proxies whose ``X-Forwarded-For`` is believed.
    trusted_proxies: Annotated[list[Network], NoDecode, BeforeValidator(_comma_list)] = Field(
        default_factory=list
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_message_chars: int = Field(default=4000, ge=1)
    token_ttl: timedelta = Field(default=timedelta(days=30), gt=timedelta(0))
    rate_start: RateSetting = Field(default=Rate(10, 60.0))  # new conversations per client address
    rate_ip: RateSetting = Field(default=Rate(300, 60.0))  # chat requests per client address
    rate_conversation: RateSetting = Field(default=Rate(60, 60.0))  # messages and events per conversation

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        cleaned = []
        for origin in origins:
            if origin == "*":
                cleaned.append(origin)
                continue
            match = re.fullmatch(r"(https?)://([^/?#\s]+)/?", origin.strip(), re.IGNORECASE)
            if match is None:
                raise ValueError(
                    f"an origin is scheme://host[:port] such as https://shop.example, not {origin!r}"
                )
            cleaned.append(f"{match.group(1).lower()}://{match.group(2).lower()}")
        return cleaned
