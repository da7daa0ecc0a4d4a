"""Run the Alembic migrations from code (the `qualibot migrate` command and the tests).

The migrations are ``alembic/`` of the source tree when Qualibot runs from one (``make install``
is editable, so a migration just written is found at once), else the copy installed with the
package under ``share/qualibot/alembic`` of its environment (``pyproject.toml`` ships it as data
files), so a non-editable install, such as the container's, migrates without the source tree.

These calls are synchronous and start their own event loop (Alembic's env.py is async-aware);
from async code run them in a thread: ``await asyncio.to_thread(upgrade, url)``.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

SOURCE_ROOT = Path(__file__).resolve().parent.parent
INSTALLED = ("share", "qualibot")


def migrations_dir() -> Path:
    """The folder holding env.py and versions/ (see the module docstring)."""
    candidates = [SOURCE_ROOT / "alembic"]
    for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")):
        candidates.append(Path(sysconfig.get_path("data", scheme)).joinpath(*INSTALLED, "alembic"))
    for folder in candidates:
        if (folder / "env.py").is_file():
            return folder
    raise RuntimeError(f"no migrations found; looked in {', '.join(str(c) for c in candidates)}")


def alembic_config(database_url: str) -> Config:
    ini = SOURCE_ROOT / "alembic.ini"
    config = Config(str(ini)) if ini.is_file() else Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError("alembic/versions holds no migration")
    return head
