"""The real bot (``bot.app``: dialogue, runtime, long polling) over the real conversation service
and a real database, polling the fake Bot API over HTTP; and a person playing it.

``BotProcess`` is one bot "process": its own service, stores and HTTP session, so two of them on
one database behave as two processes would (nothing shared but the database and Telegram).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import TelegramBot, open_bot, poll
from bot.outbound import Limits
from bot.settings import TelegramSettings
from flows.service import ConversationService, SystemClock
from qualibot.settings import Settings
from qualibot.wiring import load_catalog
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader
from tests.bot.fake_api import TOKEN, FakeBotApi, User, buttons

JSON = dict[str, Any]

# Quick pacing, so a conversation is not slowed to a message a second; the real limits have
# tests of their own (tests/bot/test_delivery.py).
FLOWS = Path(__file__).parent / "flows"  # the shipped flows are loaded too
MARKUP_FLOW = "tg_markup_and_very_long_ids_that_fill_every_character_of_sixty"

QUICK = Limits(chat_rate=50.0, chat_burst=5, global_rate=400.0, global_burst=50)


def bot_settings(api: FakeBotApi, **changes: Any) -> TelegramSettings:
    values: JSON = {"token": TOKEN, "api_url": api.url, "poll_timeout": 1, "request_timeout": 5.0}
    return TelegramSettings(_env_file=None, **(values | changes))


@dataclass
class BotProcess:
    api: FakeBotApi
    engine: AsyncEngine
    limits: Limits = QUICK
    settings: TelegramSettings | None = None
    service: ConversationService = field(init=False)
    telegram: TelegramBot = field(init=False)

    async def __aenter__(self) -> BotProcess:
        self._store = SqlConversationStore(self.engine)
        catalog = load_catalog(Settings(_env_file=None, flows_dir=FLOWS))
        self.service = ConversationService(
            self._store,
            SqlFlowVersionStore(self.engine),
            catalog,
            SystemClock(),
            leads=SqlLeadReader(self.engine),
        )
        self._settings = self.settings or bot_settings(self.api)
        self._bot = open_bot(self._settings, self.service, catalog, limits=self.limits)
        self.telegram = await self._bot.__aenter__()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(poll(self.telegram, self._settings, self._stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        try:
            await asyncio.wait_for(self._task, 30)
        finally:
            await self._bot.__aexit__(None, None, None)
            await self._store.aclose()

    @property
    def outbound_flood_waits(self) -> int:
        return self.telegram.runtime.outbound.flood_waits


async def handled(api: FakeBotApi, update: JSON, within: float = 20.0) -> None:
    """Wait until the bot has acknowledged ``update`` (it does so only once it is handled)."""
    await api.wait_for(lambda: api.confirmed > update["update_id"], within, f"update {update['update_id']}")


def question(api: FakeBotApi, user: User) -> JSON:
    """The last message sent to the person (the question waiting)."""
    return api.last(user.id)


def labels(message: JSON) -> list[str]:
    return [b["text"] for b in buttons(message)]


async def say(api: FakeBotApi, user: User, words: str) -> JSON:
    update = api.user_text(user, words)
    await handled(api, update)
    return question(api, user)


async def tap(api: FakeBotApi, user: User, label: str, message: JSON | None = None) -> JSON:
    update = api.user_tap(user, message or question(api, user), label)
    await handled(api, update)
    return question(api, user)


async def lead_row(engine: AsyncEngine, telegram_user: int) -> JSON:
    """The lead owning a Telegram user, as the database has it."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT l.id, l.stage, l.score, l.tier, l.phone, l.email, l.name FROM leads l "
                    "JOIN lead_identities i ON i.lead_id = l.id "
                    "WHERE i.kind = 'telegram' AND i.value = :value"
                ),
                {"value": str(telegram_user)},
            )
        ).one()
    return dict(row._mapping)
