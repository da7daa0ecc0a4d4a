"""`qualibot bot`: the Telegram bot by long polling, until stopped (SIGTERM, Ctrl-C).

Needs QUALIBOT_TELEGRAM_TOKEN (from @BotFather) and a migrated database (`qualibot migrate`); it
refuses to start otherwise, in one line. An update is acknowledged to Telegram only once its turn
is committed, so stopping or killing the process at any moment loses no answer and doubles none.
Run one polling process per bot (Telegram hands updates to one poller at a time).

`--set-webhook URL` makes Telegram push the updates to `qualibot serve` instead (with the secret
of QUALIBOT_TELEGRAM_WEBHOOK_SECRET and only the update kinds the bot handles); `--delete-webhook`
goes back to polling. Neither needs the database.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    from qualibot.settings import add_database_url_option

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bot",
        help="run the Telegram bot (long polling)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_database_url_option(parser)
    webhook = parser.add_mutually_exclusive_group()
    webhook.add_argument(
        "--set-webhook",
        metavar="URL",
        help="instead of polling: Telegram sends the updates to URL (`qualibot serve` with "
        "QUALIBOT_TELEGRAM_WEBHOOK_SECRET behind it, at /telegram/webhook), then this exits",
    )
    webhook.add_argument(
        "--delete-webhook",
        action="store_true",
        help="stop the webhook (the updates waiting are kept for polling), then exit",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualibot.logging import configure_logging
    from qualibot.settings import Settings

    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    configure_logging(settings)
    if args.set_webhook is not None:
        return asyncio.run(_set_webhook(settings, args.set_webhook))
    if args.delete_webhook:
        return asyncio.run(_delete_webhook(settings))
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


async def _set_webhook(settings: Any, url: str) -> int:
    from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

    from bot.app import TelegramProblem, check_token, make_bot
    from bot.webhook import check_webhook_url, set_webhook
    from qualibot.errors import shown

    telegram = settings.telegram
    if telegram.webhook_secret is None:
        raise TelegramProblem(
            "--set-webhook needs QUALIBOT_TELEGRAM_WEBHOOK_SECRET, the same one `qualibot serve` has"
        )
    try:
        check_webhook_url(url, self_hosted=telegram.api_url is not None)
    except ValueError as exc:
        raise TelegramProblem(f"--set-webhook {shown(url)}: {exc}") from None
    bot = make_bot(telegram)
    try:
        me = await check_token(bot, telegram)
        try:
            info = await set_webhook(bot, url, telegram.webhook_secret.get_secret_value())
        except TelegramNetworkError as exc:
            raise TelegramProblem(f"the Bot API does not answer: {exc}") from None
        except TelegramAPIError as exc:
            raise TelegramProblem(f"Telegram refused the webhook: {exc.message}") from None
    finally:
        await bot.session.close()
    sys.stdout.write(
        f"Telegram now sends the updates of @{me.username} to {info.url} "
        f"({info.pending_update_count} waiting); `qualibot bot` polling is off until --delete-webhook\n"
    )
    return 0


async def _delete_webhook(settings: Any) -> int:
    from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

    from bot.app import TelegramProblem, check_token, make_bot
    from bot.webhook import delete_webhook

    bot = make_bot(settings.telegram)
    try:
        me = await check_token(bot, settings.telegram)
        try:
            await delete_webhook(bot)
        except TelegramNetworkError as exc:
            raise TelegramProblem(f"the Bot API does not answer: {exc}") from None
        except TelegramAPIError as exc:
            raise TelegramProblem(f"Telegram refused to delete the webhook: {exc.message}") from None
    finally:
        await bot.session.close()
    sys.stdout.write(
        f"@{me.username} has no webhook: run `qualibot bot` to poll (waiting updates are kept)\n"
    )
    return 0
