"""The Telegram bot's settings (``QUALIBOT_TELEGRAM_*``), composed into ``qualibot.settings``."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Telegram accepts 1-256 characters of this alphabet as a webhook secret; we ask for 32 or more.
_SECRET = re.compile(r"^[A-Za-z0-9_-]{32,256}$")
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


class TelegramSettings(BaseSettings):
    """Nothing is required to import or compose these; the bot refuses to start without a token."""

    model_config = SettingsConfigDict(env_prefix="QUALIBOT_TELEGRAM_", env_file=".env", extra="ignore")

    token: SecretStr | None = None
    # Base URL of a self-hosted Bot API server (``http://127.0.0.1:8081``); Telegram's by default.
    api_url: str | None = None
    # When set, the HTTP app serves ``POST /telegram/webhook`` and checks this secret.
    webhook_secret: SecretStr | None = None
    # Seconds a process holds a webhook update it took; one a dead process left is taken over after.
    webhook_lease: float = Field(default=60.0, ge=1, le=3600)
    # For the web -> Telegram hand-over link; asked of Telegram (getMe) at start-up when unset.
    bot_username: str | None = None
    flow: str = Field(default="bant", pattern=r"^[a-z0-9_]{1,64}$")
    locale: str = Field(default="ru", pattern=r"^[a-z]{2}$")
    request_timeout: float = Field(default=15.0, gt=0, le=300)
    poll_timeout: int = Field(default=25, ge=0, le=50)

    @field_validator("token", "api_url", "webhook_secret", "bot_username", mode="before")
    @classmethod
    def _unset_when_blank(cls, value: object) -> object:
        """``QUALIBOT_TELEGRAM_TOKEN=`` (as an env file or compose file leaves it) is not set."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _SECRET.match(value.get_secret_value()):
            raise ValueError(
                "must be 32 to 256 characters of A-Z, a-z, 0-9, '_' and '-' "
                "(for example the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return value

    @model_validator(mode="after")
    def _webhook_needs_token(self) -> TelegramSettings:
        if self.webhook_secret is not None and self.token is None:
            raise ValueError(
                "QUALIBOT_TELEGRAM_WEBHOOK_SECRET is set but not QUALIBOT_TELEGRAM_TOKEN "
                "(the bot token from @BotFather)"
            )
        return self

    @field_validator("bot_username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.removeprefix("@")
        if not _USERNAME.match(value):
            raise ValueError("must be a Telegram bot username such as qualibot_demo_bot (without @)")
        return value

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        left, sep, right = value.get_secret_value().partition(":")
        if not sep or not left.isdigit() or not right or any(c.isspace() for c in right):
            raise ValueError("must be a bot token from @BotFather, such as 123456789:AAE...")
        return value

    @property
    def bot_id(self) -> int | None:
        """The bot's numeric id (the token's first part), without asking Telegram."""
        if self.token is None:
            return None
        return int(self.token.get_secret_value().partition(":")[0])
