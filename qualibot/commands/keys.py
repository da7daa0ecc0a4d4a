"""`qualibot keys`: admin API keys. `create` prints a new key once, as the last line of its output
(only a hash is kept); `list` shows every key's id, name and use; `revoke` ends a key at once."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO


def add_parser(subparsers: Any) -> None:
    from qualibot.settings import add_database_url_option

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys",
        help="create, list or revoke admin API keys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_database_url_option(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="make a new key and print it (once)")
    create.add_argument("--name", default="", help="what the key is for, e.g. amoCRM")
    actions.add_parser("list", help="every key: id, name, created, last used, revoked")
    revoke = actions.add_parser("revoke", help="revoke a key (give its id or the key)")
    revoke.add_argument("key", metavar="ID")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualibot.logging import configure_logging
    from qualibot.settings import Settings

    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    configure_logging(settings)
    return asyncio.run(_keys(settings, args, sys.stdout))


async def _keys(settings: Any, args: argparse.Namespace, out: TextIO) -> int:
    from handoff.keys import key_id_of
    from qualibot.wiring import handoff_services, open_engine

    async with open_engine(settings) as engine:
        keys = handoff_services(engine, settings).keys
        if args.action == "create":
            record, key = await keys.create(args.name)
            out.write(f"created key {record.id}" + (f" ({record.name})" if record.name else "") + "\n")
            out.write("it is shown only now; keep it secret, use it as: Authorization: Bearer <key>\n")
            out.write(key + "\n")
            return 0
        if args.action == "list":
            records = await keys.list()
            if not records:
                out.write("no keys yet: qualibot keys create --name NAME\n")
            for r in records:
                used = r.last_used_at.isoformat(timespec="seconds") if r.last_used_at else "never"
                state = f"revoked {r.revoked_at.isoformat(timespec='seconds')}" if r.revoked_at else "active"
                created = r.created_at.isoformat(timespec="seconds")
                out.write(f"{r.id}  {state:<34} created {created}  last used {used}  {r.name}\n")
            return 0
        if await keys.revoke(args.key):
            out.write(f"revoked {key_id_of(args.key)}\n")
            return 0
        sys.stderr.write("qualibot keys: no such active key\n")
        return 1
