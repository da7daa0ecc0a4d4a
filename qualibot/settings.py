"""Settings from the environment (``QUALIBOT_*``), read once by the composition root: the core's
own, and each adapter's settings composed in (one environment, one ``.env`` file)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.settings import ApiSettings
from bot.settings import TelegramSettings
from handoff.settings import HandoffSettings
from qualibot.errors import shown

DEFAULT_DATA_DIR = Path("data")

# The drivers installed: SQLAlchemy would otherwise fail on the first connection, looking for
# psycopg2 or pysqlite2, with a traceback instead of a word about the setting.
_DATABASE_URL = re.compile(r"^(sqlite\+aiosqlite|postgresql\+asyncpg)://")
_HINTS = {
    "postgres": "postgresql+asyncpg://user:password@host:5432/db",
    "postgresql": "postgresql+asyncpg://user:password@host:5432/db",
    "sqlite": "sqlite+aiosqlite:///path/to/qualibot.db",
}


def check_database_url(url: str) -> str:
    """``url`` if it names a database Qualibot can use, else a ValueError saying what would."""
    if _DATABASE_URL.match(url):
        return url
    scheme = url.partition("://")[0].partition("+")[0].lower() if "://" in url else ""
    hint = _HINTS.get(scheme)
    if hint is not None:
        raise ValueError(f"{shown(url)}: write it as {hint}")
    raise ValueError(
        f"{shown(url)} is not a database URL: sqlite+aiosqlite:///path/to/qualibot.db "
        "or postgresql+asyncpg://user:password@host:5432/db"
    )


def database_url_argument(text: str) -> str:
    """``--database-url`` of the commands that take one (an argparse type)."""
    try:
        return check_database_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_database_url_option(parser: argparse.ArgumentParser) -> None:
    """The ``--database-url`` option of the commands that open the database."""
    parser.add_argument(
        "--database-url",
        metavar="URL",
        type=database_url_argument,
        help="default: QUALIBOT_DATABASE_URL or data/",
    )


class Settings(BaseSettings):
    """Every setting has a working default: an empty environment runs on SQLite in ./data."""

    model_config = SettingsConfigDict(env_prefix="QUALIBOT_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'qualibot.db'}"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    flows_dir: Path | None = None
    api: ApiSettings = Field(default_factory=ApiSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    handoff: HandoffSettings = Field(default_factory=HandoffSettings)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("flows_dir", mode="before")
    @classmethod
    def _unset_when_blank(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("flows_dir")
    @classmethod
    def _flows_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            what = "is not a folder" if value.exists() else "does not exist"
            raise ValueError(f"{shown(str(value))} {what}")
        return value
