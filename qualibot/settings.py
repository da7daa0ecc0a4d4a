"""Settings from the environment (``QUALIBOT_*``), read once by the composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.settings import TelegramSettings

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    """Every setting has a working default: an empty environment runs on SQLite in ./data."""

    model_config = SettingsConfigDict(env_prefix="QUALIBOT_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'qualibot.db'}"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    flows_dir: Path | None = None
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
