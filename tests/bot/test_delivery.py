"""Polling, lanes and the outbound limiter against the fake Bot API over real HTTP, with a
handler that only echoes: acknowledgement after handling, order within a chat, concurrency across
chats, flood waits and the rate limits."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiogram import Bot
from aiogram.methods import SendMessage

from bot.outbound import Limits, Outbound
from bot.polling import Poller
from bot.runtime import BotRuntime
from tests.bot.echo import QUICK, Echo
from tests.bot.fake_api import FakeBotApi, Throttle, User


@dataclass
class Running:
    runtime: BotRuntime
    poller: Poller
    task: asyncio.Task[None]


async def _run(bot: Bot, echo: Echo, limits: Limits = QUICK) -> Running:
    runtime = BotRuntime(bot, echo.dispatcher(), Outbound(bot, limits))
    poller = Poller(bot, runtime.accept, poll_timeout=1)
    return Running(runtime, poller, asyncio.create_task(poller.run()))


@pytest.fixture
async def echo_bot(tg_bot: Bot) -> AsyncIterator[tuple[Echo, Running]]:
    echo = Echo()
    running = await _run(tg_bot, echo)
    try:
        yield echo, running
    finally:
        running.poller.stop()
        await asyncio.wait_for(running.runtime.join(), 10)
        await asyncio.wait_for(running.task, 10)
        await running.runtime.aclose()


async def test_an_update_is_acknowledged_only_after_it_is_handled(
    fake_api: FakeBotApi, echo_bot: tuple[Echo, Running]
) -> None:
    echo, _ = echo_bot
    user = User(101)
    echo.gates["slow"] = asyncio.Event()
    slow = fake_api.user_text(user, "slow")
    await fake_api.wait_for(lambda: echo.seen[101] == ["slow"], what="the handler to start")
    # Polled again and again meanwhile, but never with an offset past the update in hand.
    await fake_api.wait_for(lambda: len(fake_api.requests("getUpdates")) >= 3, what="more polls")
    assert fake_api.confirmed <= slow["update_id"]
    echo.gates["slow"].set()
    await fake_api.wait_for(lambda: fake_api.confirmed > slow["update_id"], what="the acknowledgement")
    assert fake_api.texts(101) == ["echo slow"]


async def test_one_chat_in_order_while_other_chats_go_on(
    fake_api: FakeBotApi, echo_bot: tuple[Echo, Running]
) -> None:
    echo, _ = echo_bot
    echo.jitter = 0.01
    alice, bob = User(201), User(202)
    echo.gates["a0"] = asyncio.Event()
    for n in range(20):
        fake_api.user_text(alice, f"a{n}")
    await fake_api.wait_for(lambda: echo.seen[201] == ["a0"], what="alice's first message")
    # Alice's lane is held by her first message; Bob is answered meanwhile.
    fake_api.user_text(bob, "b0")
    await fake_api.wait_for(lambda: fake_api.texts(202) == ["echo b0"], what="bob's answer")
    assert echo.seen[201] == ["a0"]
    echo.gates["a0"].set()
    await fake_api.wait_for(lambda: len(fake_api.texts(201)) == 20, within=30, what="alice's 20 answers")
    assert echo.seen[201] == [f"a{n}" for n in range(20)]
    assert fake_api.texts(201) == [f"echo a{n}" for n in range(20)]
    assert not echo.overlap


async def test_a_redelivered_update_is_not_handled_twice(
    fake_api: FakeBotApi, echo_bot: tuple[Echo, Running]
) -> None:
    echo, running = echo_bot
    user = User(301)
    first = fake_api.user_text(user, "once")
    await fake_api.wait_for(lambda: fake_api.texts(301) == ["echo once"])
    fake_api.redeliver(first)
    fake_api.user_text(user, "twice")
    await fake_api.wait_for(lambda: len(fake_api.texts(301)) == 2)
    await running.runtime.join()
    assert echo.seen[301] == ["once", "twice"]
    assert fake_api.texts(301) == ["echo once", "echo twice"]


async def test_callback_queries_are_answered_before_the_handler_runs(
    fake_api: FakeBotApi, echo_bot: tuple[Echo, Running]
) -> None:
    echo, _ = echo_bot
    user = User(401)
    echo.gates["hold"] = asyncio.Event()
    fake_api.user_text(user, "hold")
    await fake_api.wait_for(lambda: echo.seen[401] == ["hold"])
    message = {"message_id": 5, "chat": {"id": 401, "type": "private"}, "date": 0, "text": "q"}
    message["reply_markup"] = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}
    tap = fake_api.user_tap(user, message, "Yes")
    # The lane is busy, yet the tap is answered at once.
    await fake_api.wait_for(lambda: len(fake_api.requests("answerCallbackQuery")) == 1, within=3)
    answered = fake_api.requests("answerCallbackQuery")[0]
    assert answered.params["callback_query_id"] == tap["callback_query"]["id"]
    assert fake_api.texts(401) == []
    echo.gates["hold"].set()
    await fake_api.wait_for(lambda: fake_api.texts(401) == ["echo hold", "tap yes"])


async def test_a_flood_wait_is_waited_out_exactly_and_nothing_is_dropped(
    fake_api: FakeBotApi, echo_bot: tuple[Echo, Running]
) -> None:
    echo, running = echo_bot
    users = [User(500 + n) for n in range(10)]
    fake_api.throttles.append(Throttle("sendMessage", count=15, retry_after=1))
    for user in users:
        fake_api.user_text(user, "hi")
        fake_api.user_text(user, "again")
    await fake_api.wait_for(
        lambda: all(fake_api.texts(u.id) == ["echo hi", "echo again"] for u in users),
        within=30,
        what="every message despite the 429s",
    )
    assert running.runtime.outbound.flood_waits == 15
    for user in users:
        attempts = [c for c in fake_api.calls if c.method == "sendMessage" and c.params["chat_id"] == user.id]
        for refused, retried in itertools.pairwise(attempts):
            if refused.status == 429 and refused.params["text"] == retried.params["text"]:
                waited = retried.at - refused.at
                assert 1.0 <= waited < 1.6, f"waited {waited:.2f}s after retry_after=1"
    assert sorted(echo.seen) == [u.id for u in users]


async def test_outbound_rates_stay_under_the_limits(fake_api: FakeBotApi, tg_bot: Bot) -> None:
    outbound = Outbound(tg_bot, Limits())
    chats = range(900, 940)

    async def chat_burst(chat: int) -> None:
        for n in range(2):
            await outbound.send(SendMessage(chat_id=chat, text=f"m{n}"), chat)

    async def one_chat() -> None:
        for n in range(6):
            await outbound.send(SendMessage(chat_id=1, text=f"m{n}"), 1)

    await asyncio.wait_for(asyncio.gather(one_chat(), *(chat_burst(c) for c in chats)), 30)
    sent = sorted(c.at for c in fake_api.requests("sendMessage"))
    assert len(sent) == 6 + 2 * len(chats)
    busiest = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
    assert busiest < 30, f"{busiest} messages within one second"
    own = [c.at for c in fake_api.requests("sendMessage", chat_id=1)]
    # A burst of three, then about one a second.
    assert own[5] - own[0] >= 2.9
