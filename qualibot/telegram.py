"""The Telegram webhook's composition: the intake over the database's inbox, feeding a bot's
runtime, and the sweep that takes over what a dead process left. No logic of its own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.runtime import BotRuntime
from bot.settings import TelegramSettings
from bot.webhook import WebhookIntake
from storage.telegram import SqlTelegramInbox


@asynccontextmanager
async def open_webhook(
    runtime: BotRuntime, engine: AsyncEngine, settings: TelegramSettings
) -> AsyncIterator[WebhookIntake]:
    """The webhook's intake for the lifetime of a server process; on the way out the updates in
    hand get a moment to finish and the rest are released to the next process."""
    lease = settings.webhook_lease
    intake = WebhookIntake(
        runtime, SqlTelegramInbox(engine), lease=timedelta(seconds=lease), sweep_every=lease / 3
    )
    sweep = asyncio.create_task(intake.run(), name="telegram-inbox-sweep")
    try:
        yield intake
    finally:
        sweep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweep
        await intake.aclose()
