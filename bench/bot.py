"""Telegram bot throughput: updates/s through the whole bot path, beside aiogram's own floor.

    python -m bench.bot [--updates N] [--users N]

**The whole path**: the fake Bot API (``tests/bot/fake_api.py``) on 127.0.0.1 over real HTTP; the
bot's long polling (an update acknowledged only once handled), the runtime's per-chat lanes, the
dialogue and the conversation service on SQLite (every turn committed before the next update of
its chat), the replies through the outbound limiter (opened wide: Telegram's own 30 messages/s
would only measure the limiter). U people talk at once, each answering the bot's last message
(a random button, a shared contact, or typed text) as soon as their previous update is handled,
and starting again when a conversation ends; the clock starts after three updates each.

**The floor**, in the same run, fed the very updates the people sent: aiogram's own
``start_polling`` over the same fake Bot API with handlers that do nothing (what any aiogram bot
pays per update before its own work), and ``Dispatcher.feed_update`` in process (no HTTP).

The fake Bot API runs in the same process and on the same cores in every measurement. The load
average is printed with the figures: other work on the machine shows in them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.types import CallbackQuery, Message, Update

from bot.app import open_bot
from bot.outbound import Limits
from bot.polling import Poller
from bot.settings import TelegramSettings
from flows.service import ConversationService, SystemClock
from qualibot.logging import configure_logging
from qualibot.settings import Settings
from qualibot.wiring import load_catalog
from storage.db import make_engine
from storage.migrations import upgrade
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader
from tests.bot.fake_api import TOKEN, FakeBotApi, User, buttons, make_bot, reply_keyboard

JSON = dict[str, Any]

# Telegram's limits hold the bot to 30 messages/s; here they would measure only the limiter.
WIDE = Limits(chat_rate=1e6, chat_burst=1000, global_rate=1e6, global_burst=1000)

# Typed answers by what the question asks (the first key found in its text).
TYPED = (
    (("почт", "e-mail", "email"), "user{id}@company.ru"),
    (("телефон", "phone", "номер"), "+7 999 {id:07d}"),
    (("зовут", "имя", "name"), "Иван Петров"),
    (("компани", "company"), "ООО Ромашка"),
    (("бюджет", "budget", "сумм"), "около 2 млн руб"),
    (("когда", "срок", "when"), "через пару месяцев"),
    (("сколько", "how many"), "120"),
)
OTHER = "автоматизировать продажи"
WARM_UP = 3  # updates per person before the clock starts
TYPED_IN_A_ROW = 4  # then /restart: the conversation ended or the typed answers do not fit


@dataclass
class Figures:
    updates: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.updates / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.updates * 1e6


def next_update(api: FakeBotApi, user: User, rng: random.Random, typed: list[int]) -> JSON:
    """What a person does next with the bot's last message."""
    sent = api.sent(user.id)
    if not sent or typed[0] >= TYPED_IN_A_ROW:
        typed[0] = 0
        return api.user_text(user, "/start" if not sent else "/restart")
    last = sent[-1]
    choices = [b["text"] for b in buttons(last)]
    if choices:
        typed[0] = 0
        return api.user_tap(user, last, rng.choice(choices))
    keyboard = reply_keyboard(last) or {}
    if any(b.get("request_contact") for row in keyboard.get("keyboard", []) for b in row):
        typed[0] = 0
        return api.user_contact(user, f"+7999{user.id:07d}")
    typed[0] += 1
    text = str(last.get("text", "")).lower()
    for keys, answer in TYPED:
        if any(key in text for key in keys):
            return api.user_text(user, answer.format(id=user.id))
    return api.user_text(user, OTHER)


async def whole_path(database_url: str, total: int, users: int) -> tuple[Figures, list[JSON]]:
    """``total`` updates from ``users`` people through the real bot; the updates they sent."""
    api = FakeBotApi()
    await api.start()
    engine = make_engine(database_url)
    store = SqlConversationStore(engine)
    catalog = load_catalog(Settings(_env_file=None))
    service = ConversationService(
        store, SqlFlowVersionStore(engine), catalog, SystemClock(), leads=SqlLeadReader(engine)
    )
    settings = TelegramSettings(_env_file=None, token=TOKEN, api_url=api.url, poll_timeout=1)
    sent: list[JSON] = []
    try:
        async with open_bot(settings, service, catalog, limits=WIDE) as telegram:
            waiting: dict[int, asyncio.Future[None]] = {}

            def start(update: Update, ack: Callable[[], None]) -> None:
                def done() -> None:
                    ack()
                    future = waiting.pop(update.update_id, None)
                    if future is not None and not future.done():
                        future.set_result(None)

                telegram.runtime.accept(update, done)

            poller = Poller(telegram.bot, start, poll_timeout=1)
            polling = asyncio.create_task(poller.run())
            remaining = [0]
            loop = asyncio.get_running_loop()

            async def person(n: int) -> None:
                user, rng, typed = User(10_000 + n), random.Random(n), [0]
                while remaining[0] > 0:
                    remaining[0] -= 1
                    update = next_update(api, user, rng, typed)
                    sent.append(update)
                    waiting[update["update_id"]] = future = loop.create_future()
                    await asyncio.wait_for(future, 60)

            remaining[0] = WARM_UP * users  # aiogram and the service pay their first-use costs
            await asyncio.gather(*(person(n) for n in range(users)))
            del sent[:]
            remaining[0] = total
            began, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(person(n) for n in range(users)))
            figures = Figures(total, time.perf_counter() - began, time.process_time() - cpu)
            poller.stop()
            await polling
    finally:
        await store.aclose()
        await engine.dispose()
        await api.stop()
    return figures, sent


@dataclass
class Count:
    """Updates seen by the idle handlers; ``all_seen`` is set at ``expected``."""

    expected: int
    seen: int = 0
    all_seen: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self) -> None:
        self.seen += 1
        if self.seen >= self.expected:
            self.all_seen.set()


def idle_dispatcher(count: Count) -> Dispatcher:
    """aiogram with handlers that do nothing but count."""
    router = Router()

    @router.message()
    async def message(_message: Message) -> None:
        count.add()

    @router.callback_query()
    async def callback(_query: CallbackQuery) -> None:
        count.add()

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def aiogram_polling(updates: list[JSON]) -> Figures:
    """aiogram's own ``start_polling`` over the fake Bot API, handlers that do nothing."""
    api = FakeBotApi()
    await api.start()
    bot = make_bot(api)
    count = Count(len(updates))
    dispatcher = idle_dispatcher(count)
    try:
        for update in updates:
            api.push({k: v for k, v in update.items() if k != "update_id"})
        began, cpu = time.perf_counter(), time.process_time()
        polling = asyncio.create_task(
            dispatcher.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=False)
        )
        await asyncio.wait_for(count.all_seen.wait(), 120)
        figures = Figures(len(updates), time.perf_counter() - began, time.process_time() - cpu)
        await dispatcher.stop_polling()
        await polling
    finally:
        await bot.session.close()
        await api.stop()
    return figures


async def aiogram_in_process(updates: list[JSON]) -> Figures:
    """``Dispatcher.feed_update`` of the same updates (parsed as the Bot API client parses them),
    a hundred at a time as a poll brings them, handlers that do nothing."""
    bot = Bot(TOKEN)
    count = Count(len(updates))
    dispatcher = idle_dispatcher(count)
    try:
        began, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(updates), 100):
            parsed = [Update.model_validate(u, context={"bot": bot}) for u in updates[start : start + 100]]
            await asyncio.gather(*(dispatcher.feed_update(bot, u) for u in parsed))
        figures = Figures(len(updates), time.perf_counter() - began, time.process_time() - cpu)
    finally:
        await bot.session.close()
    assert count.seen == len(updates)
    return figures


async def run(total: int, users: int) -> None:
    configure_logging(Settings(_env_file=None, log_level="WARNING"))
    with tempfile.TemporaryDirectory(prefix="qualibot-bench-bot-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bot.db'}"
        await asyncio.to_thread(upgrade, url)
        ours, updates = await whole_path(url, total, users)
    polling = await aiogram_polling(updates)
    in_process = await aiogram_in_process(updates)
    taps = sum(1 for u in updates if "callback_query" in u)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"command: python -m bench.bot --updates {total} --users {users}")
    print(f"load average: {load} (1 / 5 / 15 min), {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"updates: {total} from {users} people ({taps} taps, {total - taps} messages), SQLite")
    print()
    print(f"{'':44} {'updates/s':>10} {'CPU/update':>11}")
    rows = [
        ("whole bot path (polling, dialogue, SQLite)", ours),
        ("floor: aiogram start_polling, idle handler", polling),
        ("floor: aiogram feed_update in process", in_process),
    ]
    for name, figures in rows:
        print(f"{name:44} {figures.rate:10,.0f} {figures.cpu_us:9,.0f} µs")
    print()
    print(f"ratio to aiogram's polling floor:    {ours.rate / polling.rate:.2f} (aim: at least 0.5)")
    print(f"ratio to aiogram's in-process floor: {ours.rate / in_process.rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--updates", type=int, default=3000, help="updates sent in all (default: 3000)")
    parser.add_argument("--users", type=int, default=100, help="people talking at once (default: 100)")
    args = parser.parse_args()
    asyncio.run(run(args.updates, args.users))


if __name__ == "__main__":
    main()
