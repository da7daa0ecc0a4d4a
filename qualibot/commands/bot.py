"""`qualibot bot`: the Telegram bot by long polling, until stopped (SIGTERM, Ctrl-C).

Needs QUALIBOT_TELEGRAM_TOKEN (from @BotFather) and a migrated database (`qualibot migrate`); it
refuses to start otherwise, in one line. An update is acknowledged to Telegram only once its turn
is committed, so stopping or killing the process at any moment loses no answer and doubles none.
Run one polling process per bot (Telegram hands updates to one poller at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any


def add_parser(subparsers: Any) -> None:
    from qualibot.settings import database_url_argument

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bot",
        help="run the Telegram bot (long polling)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        type=database_url_argument,
        help="default: QUALIBOT_DATABASE_URL or data/",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualibot.logging import configure_logging
    from qualibot.settings import Settings

    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    configure_logging(settings)
    return asyncio.run(_poll(settings))


async def _poll(settings: Any) -> int:
    from bot.app import poll
    from qualibot.wiring import open_app, open_telegram

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with open_app(settings) as app, open_telegram(app) as telegram:
        await poll(telegram, settings.telegram, stop)
    return 0
