"""Fixtures for the bot tests: the fake Bot API server on 127.0.0.1 and an aiogram ``Bot`` that
talks to it over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

from tests.bot.fake_api import FakeBotApi, make_bot


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
async def tg_bot(fake_api: FakeBotApi) -> AsyncIterator[Bot]:
    bot = make_bot(fake_api)
    try:
        yield bot
    finally:
        await bot.session.close()
