"""`qualibot bot` as a real process against the fake Bot API: what it refuses in one line, and
``kill -9`` at any moment of a conversation followed by a restart, with no answer lost or doubled
(on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.ports import TELEGRAM, Identity
from flows.service import ConversationService, SystemClock
from flows.spec import load_library_flow
from qualibot.settings import Settings
from qualibot.wiring import load_catalog
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader
from tests.bot.fake_api import TOKEN, FakeBotApi, User, buttons
from tests.bot.live import handled, lead_row, question

pytestmark = pytest.mark.slow

JSON = dict[str, Any]


class BotCommand:
    """``qualibot bot`` in a process of its own, its log in a file."""

    def __init__(self, api: FakeBotApi, database_url: str, log: Path, **env: str) -> None:
        self.api = api
        self.env = (
            os.environ
            | {
                "QUALIBOT_DATABASE_URL": database_url,
                "QUALIBOT_TELEGRAM_TOKEN": TOKEN,
                "QUALIBOT_TELEGRAM_API_URL": api.url,
                "QUALIBOT_TELEGRAM_POLL_TIMEOUT": "1",
                "QUALIBOT_LOG_LEVEL": "WARNING",
            }
            | env
        )
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def run(self, *args: str) -> tuple[int, str]:
        """Run it to its end (a refusal); its status and stderr."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "qualibot.cli", "bot", *args,
            env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, err.decode()

    async def start(self) -> None:
        """Start it and wait until it polls."""
        polls = len(self.api.requests("getUpdates"))
        self.starts += 1
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "qualibot.cli", "bot",
                env=self.env, stdout=log, stderr=log,
            )  # fmt: skip
        await self.api.wait_for(
            lambda: len(self.api.requests("getUpdates")) > polls, within=60, what="the bot to poll"
        )

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(self.process.wait(), 30) == -signal.SIGKILL

    async def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)


@pytest.fixture
async def command(fake_api: FakeBotApi, database_url: str, tmp_path: Path) -> AsyncIterator[BotCommand]:
    bot = BotCommand(fake_api, database_url, tmp_path / "bot.log")
    try:
        yield bot
    finally:
        if bot.process is not None and bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()


@pytest.fixture
async def service(engine: AsyncEngine) -> AsyncIterator[ConversationService]:
    store = SqlConversationStore(engine)
    try:
        yield ConversationService(
            store,
            SqlFlowVersionStore(engine),
            load_catalog(Settings(_env_file=None)),
            SystemClock(),
            leads=SqlLeadReader(engine),
        )
    finally:
        await store.aclose()


async def transcript(service: ConversationService, user: User) -> Any:
    cid = await service.find_conversation(Identity(TELEGRAM, str(user.id)), open_only=False)
    assert cid is not None
    return await service.get_conversation(cid)


def said(view: Any) -> list[str]:
    return [
        m.text for m in view.transcript if m.direction == "in" and m.kind in ("text", "choice", "contact")
    ]


async def test_killed_after_a_turn_is_saved_and_before_its_reply_is_sent(
    fake_api: FakeBotApi, command: BotCommand, service: ConversationService
) -> None:
    user = User(6001)
    await command.start()
    await handled(fake_api, fake_api.user_text(user, "/start"))
    await handled(fake_api, fake_api.user_tap(user, question(fake_api, user), "Да, утверждён"))

    # The next reply is held at Telegram's door: the turn is committed, its reply not yet sent.
    held = asyncio.Event()
    never = asyncio.Event()

    async def hold(call: Any) -> None:
        if call.method == "sendMessage" and call.params.get("chat_id") == user.id:
            held.set()
            await never.wait()

    fake_api.on_call = hold
    typed = fake_api.user_text(user, "около 2 млн")
    await asyncio.wait_for(held.wait(), 30)
    saved = await transcript(service, user)
    assert said(saved) == ["approved", "около 2 млн"]
    await command.kill()
    fake_api.on_call = None
    assert fake_api.confirmed <= typed["update_id"]  # never acknowledged

    await command.start()
    await handled(fake_api, typed, within=30)
    after = await transcript(service, user)
    assert said(after) == ["approved", "около 2 млн"]  # taken once
    assert after.conversation.version == saved.conversation.version
    assert "Какая у вас роль" in question(fake_api, user)["text"]  # the reply it owed, sent now
    assert await command.stop() == 0


async def test_killed_at_random_moments_of_a_whole_conversation(
    fake_api: FakeBotApi, command: BotCommand, service: ConversationService, engine: AsyncEngine
) -> None:
    rng = random.Random(9)
    user = User(6101)
    typed = {
        "budget_amount": "около 2 млн руб",
        "role": "я директор",
        "need": "теряем заявки и много ручной работы",
        "timing": "через пару месяцев",
        "name": "Иван Петров",
        "phone": "+7 916 123-45-67",
        "email": "ivan.petrov@romashka.ru",
    }
    tapped = {"budget_status": "approved", "next_step": "demo"}
    bant = load_library_flow("bant")
    expected: list[str] = []
    await command.start()
    await handled(fake_api, fake_api.user_text(user, "/start"))
    for step in range(20):
        state = (await transcript(service, user)).conversation.state
        if state.completed:
            break
        waiting = state.state
        if waiting in typed:
            update = fake_api.user_text(user, typed[waiting])
            expected.append(typed[waiting])
        else:
            options = bant.question_by_id[waiting].options
            option = next((o for o in options if o.id == tapped.get(waiting)), options[0])
            keyboard = next(m for m in reversed(fake_api.sent(user.id)) if buttons(m))
            update = fake_api.user_tap(user, keyboard, option.label["ru"])
            expected.append(option.id)
        if step % 3 == 0:
            # Anywhere: before the update is read, mid-turn, after the commit, after the reply.
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            await command.kill()
            await command.start()
        await handled(fake_api, update, within=60)
    view = await transcript(service, user)
    assert view.conversation.state.completed
    assert said(view) == expected  # every answer once, none lost
    assert expected[:3] == ["approved", "около 2 млн руб", "я директор"]
    lead = await lead_row(engine, user.id)
    assert lead["stage"] == "sql"
    assert lead["phone"] == "+79161234567"
    assert command.starts >= 4
    assert await command.stop() == 0


def one_line(status: int, err: str) -> str:
    assert status != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


async def test_what_it_refuses_is_one_line(fake_api: FakeBotApi, command: BotCommand) -> None:
    command.env.pop("QUALIBOT_TELEGRAM_TOKEN")
    line = one_line(*await command.run())
    assert line == (
        "qualibot bot: QUALIBOT_TELEGRAM_TOKEN is not set: create a bot with @BotFather and set its token"
    )

    command.env["QUALIBOT_TELEGRAM_TOKEN"] = "123456:not-the-right-one"
    line = one_line(*await command.run())
    assert (
        line
        == "qualibot bot: Telegram refuses QUALIBOT_TELEGRAM_TOKEN (Unauthorized): check it with @BotFather"
    )

    command.env["QUALIBOT_TELEGRAM_TOKEN"] = TOKEN
    command.env["QUALIBOT_TELEGRAM_FLOW"] = "no_such_flow"
    line = one_line(*await command.run())
    assert line == "qualibot bot: QUALIBOT_TELEGRAM_FLOW 'no_such_flow' is not a loaded flow"

    command.env.pop("QUALIBOT_TELEGRAM_FLOW")
    fake_api.webhook = {"url": "https://bot.example/telegram/webhook"}
    line = one_line(*await command.run())
    assert line.startswith(
        "qualibot bot: a webhook is set for this bot (https://bot.example/telegram/webhook)"
    )
    assert fake_api.requests("getUpdates") == []  # it never polled

    command.env["QUALIBOT_TELEGRAM_API_URL"] = f"http://127.0.0.1:{_closed_port()}"
    line = one_line(*await command.run())
    assert line.startswith(
        f"qualibot bot: the Bot API at {command.env['QUALIBOT_TELEGRAM_API_URL']} does not answer"
    )


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
