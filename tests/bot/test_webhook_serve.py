"""Webhook mode in a real `qualibot serve` process over real HTTP, on SQLite and PostgreSQL, the bot
talking to the fake Bot API: a conversation whose answers are stored, the secret, and `kill -9`
after the 200 while the turn's reply is on its way, with the update handled by the next process
and its answer stored once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from api.telegram import PATH, SECRET_HEADER
from bench.process import ROOT, free_port
from storage.db import make_engine
from tests.bot.fake_api import TOKEN, Call, FakeBotApi, User, buttons

pytestmark = pytest.mark.slow

SECRET = "another-secret_for-the-real-server-0123456789"
LEASE = 2.0  # seconds: how soon the next process takes over what a killed one held


class Server:
    def __init__(self, database_url: str, api: FakeBotApi, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIBOT_")} | {
            "QUALIBOT_DATABASE_URL": database_url,
            "QUALIBOT_LOG_LEVEL": "INFO",
            "QUALIBOT_TELEGRAM_TOKEN": TOKEN,
            "QUALIBOT_TELEGRAM_API_URL": api.url,
            "QUALIBOT_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "QUALIBOT_TELEGRAM_WEBHOOK_LEASE": str(LEASE),
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        command = [sys.executable, "-m", "qualibot.cli", "serve", "--port", str(self.port)]
        with self._log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                if self.process.returncode is not None:
                    raise AssertionError(f"qualibot serve exited: {self._log.read_text()[-2000:]}")
                try:
                    if (await http.get(f"{self.url}/readyz", timeout=2)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("qualibot serve did not start within 30 s")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self, signum: int = signal.SIGKILL) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signum)
        await asyncio.wait_for(self.process.wait(), 30)


@asynccontextmanager
async def serving(database_url: str, api: FakeBotApi, log: Path) -> AsyncIterator[Server]:
    server = Server(database_url, api, log)
    await server.start()
    try:
        yield server
    finally:
        if server.running:
            await server.stop(signal.SIGTERM)


async def deliver(server: Server, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with httpx.AsyncClient() as http:
        return await http.post(f"{server.url}{PATH}", json=update, headers=headers, timeout=10)


async def reply_after(api: FakeBotApi, user: User, after: int) -> dict[str, Any]:
    """The last message sent to ``user`` once more than ``after`` have been sent and the bot has
    asked something (a keyboard, or a question mark)."""

    def asked() -> bool:
        sent = api.sent(user.id)
        return len(sent) > after and (bool(buttons(sent[-1])) or "?" in str(sent[-1]["text"]))

    await api.wait_for(asked, within=20, what="the bot's next question")
    return api.sent(user.id)[-1]


async def stored(database_url: str) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The person's messages as the conversation stored them (kind, text), and its answers."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT kind, text FROM messages WHERE direction = 'in' ORDER BY id")
            )
            inbound = [(str(row.kind), str(row.text)) for row in rows]
            state = (await conn.execute(text("SELECT state FROM conversations"))).scalar_one()
    finally:
        await engine.dispose()
    answers = (orjson.loads(state) if isinstance(state, str) else state)["answers"]
    return inbound, {qid: answer["value"] for qid, answer in answers.items()}


async def test_a_conversation_through_the_webhook_of_a_real_server(
    database_url: str, fake_api: FakeBotApi, tmp_path: Path
) -> None:
    user = User(31)
    async with serving(database_url, fake_api, tmp_path / "serve.log") as server:
        assert (await deliver(server, fake_api.user_text(user, "/start"))).status_code == 200
        budget = await reply_after(fake_api, user, 0)
        tap = fake_api.user_tap(user, budget, "Да, утверждён")
        for secret in ("x" * len(SECRET), SECRET[:-1], None):
            assert (await deliver(server, tap, secret)).status_code == 401
        sent = len(fake_api.sent(user.id))
        await asyncio.sleep(0.5)  # time enough for a turn, had one been started
        assert len(fake_api.sent(user.id)) == sent
        assert fake_api.requests("answerCallbackQuery") == []
        assert (await deliver(server, tap)).status_code == 200
        assert (await deliver(server, tap)).status_code == 200  # Telegram delivering it again
        await reply_after(fake_api, user, sent)
        sent = len(fake_api.sent(user.id))
        typed = fake_api.user_text(user, "около 2 млн руб")
        assert (await deliver(server, typed)).status_code == 200
        role = await reply_after(fake_api, user, sent)
        assert buttons(role), role
    inbound, answers = await stored(database_url)
    assert inbound == [("start", ""), ("choice", "approved"), ("text", "около 2 млн руб")]
    assert answers["budget_status"] == ["approved"]
    assert answers["budget_amount"]["min"] == 2_000_000
    assert len(fake_api.requests("answerCallbackQuery")) == 1


async def test_kill_9_after_the_200_loses_nothing_and_doubles_nothing(
    database_url: str, fake_api: FakeBotApi, tmp_path: Path
) -> None:
    user = User(32)
    log = tmp_path / "serve.log"
    held = asyncio.Event()
    release = asyncio.Event()
    hold = [False]

    async def on_call(call: Call) -> None:
        if hold[0] and call.method == "sendMessage" and call.params.get("chat_id") == user.id:
            hold[0] = False
            held.set()
            await release.wait()

    fake_api.on_call = on_call
    first_server = Server(database_url, fake_api, log)
    await first_server.start()
    try:
        assert (await deliver(first_server, fake_api.user_text(user, "/start"))).status_code == 200
        budget = await reply_after(fake_api, user, 0)
        sent = len(fake_api.sent(user.id))
        hold[0] = True
        tap = fake_api.user_tap(user, budget, "Да, утверждён")
        assert (await deliver(first_server, tap)).status_code == 200
        await asyncio.wait_for(held.wait(), 20)  # the turn is committed, its reply on its way
    finally:
        await first_server.stop()
    release.set()
    async with serving(database_url, fake_api, log) as second:
        await reply_after(fake_api, user, sent)
        sent = len(fake_api.sent(user.id))
        typed = fake_api.user_text(user, "около 2 млн руб")
        assert (await deliver(second, typed)).status_code == 200
        await reply_after(fake_api, user, sent)
    inbound, answers = await stored(database_url)
    assert inbound == [("start", ""), ("choice", "approved"), ("text", "около 2 млн руб")]
    assert answers["budget_status"] == ["approved"]
    assert "telegram_update_taken_over" in log.read_text()
