"""The Telegram bot's composition: the aiogram ``Bot`` on the configured Bot API server, the
outbound limiter, the runtime, and in webhook mode the intake over the database's inbox. No logic
of its own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.outbound import Outbound
from bot.runtime import BotRuntime
from bot.settings import TelegramSettings
from bot.webhook import WebhookIntake
from storage.telegram import SqlTelegramInbox


class TelegramNotConfigured(ValueError):
    """The bot was asked to run without a token."""


def make_bot(settings: TelegramSettings) -> Bot:
    """A ``Bot`` for the configured token and Bot API server; nothing connects until it is used."""
    if settings.token is None:
        raise TelegramNotConfigured("QUALIBOT_TELEGRAM_TOKEN is not set (the bot's token from @BotFather)")
    server = TelegramAPIServer.from_base(settings.api_url) if settings.api_url else PRODUCTION
    session = AiohttpSession(api=server, timeout=settings.request_timeout)
    return Bot(settings.token.get_secret_value(), session=session)


@asynccontextmanager
async def open_webhook(
    settings: TelegramSettings, engine: AsyncEngine, dispatcher: Dispatcher
) -> AsyncIterator[WebhookIntake]:
    """The webhook's intake for the lifetime of a server process: the bot session, and the sweep
    that takes over what a dead process left in the inbox."""
    bot = make_bot(settings)
    try:
        intake = WebhookIntake(BotRuntime(bot, dispatcher, Outbound(bot)), SqlTelegramInbox(engine))
        sweep = asyncio.create_task(intake.run(), name="telegram-inbox-sweep")
        try:
            yield intake
        finally:
            sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweep
            await intake.aclose()
    finally:
        await bot.session.close()
