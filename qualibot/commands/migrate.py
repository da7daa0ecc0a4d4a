"""`qualibot migrate`: create or upgrade the database schema to the newest migration."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from qualibot.settings import database_url_argument


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description=(
            "Apply every migration the database lacks. The database is --database-url, else "
            "QUALIBOT_DATABASE_URL, else the SQLite file data/qualibot.db (its folder is created)."
        ),
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=None,
        type=database_url_argument,
        help="SQLAlchemy URL of the database",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from qualibot.settings import Settings
    from storage.db import check_sqlite_opens, database_errors, display_url, ensure_data_dir
    from storage.migrations import upgrade

    url: str = args.database_url or Settings().database_url
    try:
        with database_errors(url):
            ensure_data_dir(url)
            check_sqlite_opens(url)
            upgrade(url)
    except SQLAlchemyError as exc:  # a migration that fails for a reason of its own
        reason = str(exc).strip().splitlines()[0]
        sys.stderr.write(f"qualibot migrate: cannot migrate {display_url(url)}: {reason}\n")
        return 1
    sys.stdout.write(f"the database at {display_url(url)} is up to date\n")
    return 0
