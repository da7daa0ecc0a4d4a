"""Webhook mode through the FastAPI route, on SQLite and PostgreSQL, with the bot talking to the
fake Bot API over real HTTP: the secret header, bodies that are not updates, answering before the
turn runs, duplicates, and the inbox that hands a dead process's updates to the next one."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiogram import Bot
from fastapi import FastAPI

from api.app import WebServices, create_app
from api.settings import ApiSettings
from api.telegram import PATH, SECRET_HEADER, webhook_router
from bench.process import ROOT, free_port
from bot.outbound import Outbound
from bot.runtime import BotRuntime
from bot.settings import TelegramSettings
from bot.webhook import check_webhook_url, delete_webhook, set_webhook
from qualibot.settings import Settings
from qualibot.telegram import open_webhook
from qualibot.web import build_app, open_web
from storage.db import make_engine
from storage.telegram import SqlTelegramInbox
from tests.bot.echo import QUICK, Echo
from tests.bot.fake_api import TOKEN, FakeBotApi, User, make_bot

SECRET = "s3cret-for-the-webhook_0123456789abcdef"
RIGHT = {SECRET_HEADER: SECRET}


def webhook_settings(database_url: str, fake_api: FakeBotApi, **telegram: Any) -> Settings:
    values: dict[str, Any] = {"token": TOKEN, "api_url": fake_api.url, "webhook_secret": SECRET} | telegram
    return Settings(
        _env_file=None,
        database_url=database_url,
        log_level="WARNING",
        api=ApiSettings(_env_file=None),
        telegram=TelegramSettings(_env_file=None, **values),
    )


def echo_app(database_url: str, fake_api: FakeBotApi, echo: Echo) -> FastAPI:
    """The web app with the webhook feeding an echoing bot: the route, the intake, the inbox and
    the runtime are the real ones, the dialogue is ``Echo``'s (it can hold a turn)."""
    settings = webhook_settings(database_url, fake_api)
    plain = webhook_settings(database_url, fake_api, webhook_secret=None)

    @asynccontextmanager
    async def open_services() -> AsyncIterator[WebServices]:
        bot = make_bot(fake_api)
        engine = make_engine(database_url)
        runtime = BotRuntime(bot, echo.dispatcher(), Outbound(bot, QUICK))
        try:
            async with (
                open_web(plain) as services,
                open_webhook(runtime, engine, settings.telegram) as intake,
            ):
                yield replace(services, telegram=intake)
        finally:
            await engine.dispose()
            await bot.session.close()

    return create_app(settings.api, open_services, extra_routers=[webhook_router(SECRET)])


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("149.154.167.220", 443))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
async def hook(
    database_url: str, fake_api: FakeBotApi, echo: Echo
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = echo_app(database_url, fake_api, echo)
    async with serving(app) as http:
        yield http, app


async def kept(database_url: str) -> list[int]:
    engine = make_engine(database_url)
    try:
        return await SqlTelegramInbox(engine).kept()
    finally:
        await engine.dispose()


async def kept_eventually(database_url: str, expected: list[int], within: float = 5.0) -> None:
    """The inbox holds ``expected`` within ``within`` seconds (a handled update is removed just after)."""
    deadline = asyncio.get_running_loop().time() + within
    while (now := await kept(database_url)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"the inbox holds {now}, not {expected}"
        await asyncio.sleep(0.02)


async def test_an_update_with_the_right_secret_is_handled(
    hook: tuple[httpx.AsyncClient, FastAPI], fake_api: FakeBotApi, echo: Echo, database_url: str
) -> None:
    http, app = hook
    update = fake_api.user_text(User(11), "привет")
    reply = await http.post(PATH, json=update, headers=RIGHT)
    assert reply.status_code == 200, reply.text
    await fake_api.wait_for(lambda: fake_api.texts(11) == ["echo привет"], what="the echo")
    await app.state.services.telegram.runtime.join()
    assert echo.seen[11] == ["привет"]
    await kept_eventually(database_url, [])


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({SECRET_HEADER: ""}, id="empty"),
        pytest.param({SECRET_HEADER: SECRET[:-1]}, id="one-short"),
        pytest.param({SECRET_HEADER: SECRET + "x"}, id="one-long"),
        pytest.param({SECRET_HEADER: SECRET.upper()}, id="other-case"),
        pytest.param({SECRET_HEADER: "é" * 40}, id="not-ascii"),
        pytest.param({"X-Telegram-Bot-Api-Secret": SECRET}, id="wrong-header-name"),
    ],
)
async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_handled(
    hook: tuple[httpx.AsyncClient, FastAPI],
    fake_api: FakeBotApi,
    echo: Echo,
    database_url: str,
    headers: dict[str, str],
) -> None:
    http, app = hook
    update = fake_api.user_text(User(12), "hi")
    encoded = {k.encode(): v.encode("latin-1") for k, v in headers.items()}
    reply = await http.post(PATH, content=orjson.dumps(update), headers=encoded)
    assert reply.status_code == 401
    assert reply.json()["error"] == "unauthorized"
    assert SECRET not in reply.text
    await app.state.services.telegram.runtime.join()
    assert echo.seen == {}
    assert fake_api.requests("sendMessage") == []
    assert await kept(database_url) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"", 400, id="empty"),
        pytest.param(b"{not json", 400, id="not-json"),
        pytest.param(b"\xff\xfe", 400, id="not-utf8"),
        pytest.param(b"[1, 2]", 400, id="array"),
        pytest.param(b'"update"', 400, id="string"),
        pytest.param(b"{}", 400, id="no-update-id"),
        pytest.param(b'{"update_id": "7"}', 400, id="update-id-text"),
        pytest.param(b'{"update_id": true}', 400, id="update-id-bool"),
        pytest.param(b'{"update_id": -1}', 400, id="update-id-negative"),
        pytest.param(b'{"update_id": 7, "message": {"text": 5}}', 400, id="not-a-message"),
        pytest.param(b'{"update_id": 7, "message": "hello"}', 400, id="message-text"),
        pytest.param(b'{"update_id": 1' + b"0" * 400 + b"}", 400, id="huge-number"),
        pytest.param(b'{"update_id": 7, "x": "' + b"a" * 70_000 + b'"}', 413, id="oversized"),
    ],
)
async def test_a_body_that_is_not_an_update_gets_a_clear_4xx(
    hook: tuple[httpx.AsyncClient, FastAPI],
    echo: Echo,
    database_url: str,
    body: bytes,
    status: int,
) -> None:
    http, app = hook
    reply = await http.post(PATH, content=body, headers=RIGHT | {"Content-Type": "application/json"})
    assert reply.status_code == status, reply.text
    assert set(reply.json()) >= {"error", "message"}
    await app.state.services.telegram.runtime.join()
    assert echo.seen == {}
    assert await kept(database_url) == []


async def test_only_post(hook: tuple[httpx.AsyncClient, FastAPI]) -> None:
    http, _ = hook
    reply = await http.get(PATH, headers=RIGHT)
    assert reply.status_code == 405


async def test_the_route_answers_before_the_turn_runs(
    hook: tuple[httpx.AsyncClient, FastAPI], fake_api: FakeBotApi, echo: Echo, database_url: str
) -> None:
    http, app = hook
    echo.gates["slow"] = asyncio.Event()
    update = fake_api.user_text(User(13), "slow")
    reply = await http.post(PATH, json=update, headers=RIGHT)
    assert reply.status_code == 200
    # Answered while the handler is still held: the update is kept, not yet handled.
    await fake_api.wait_for(lambda: echo.seen[13] == ["slow"], what="the handler to start")
    assert fake_api.texts(13) == []
    assert await kept(database_url) == [update["update_id"]]
    echo.gates["slow"].set()
    await fake_api.wait_for(lambda: fake_api.texts(13) == ["echo slow"])
    await app.state.services.telegram.runtime.join()


async def test_a_duplicate_update_is_handled_once(
    hook: tuple[httpx.AsyncClient, FastAPI], fake_api: FakeBotApi, echo: Echo, database_url: str
) -> None:
    http, app = hook
    intake = app.state.services.telegram
    echo.gates["once"] = asyncio.Event()
    update = fake_api.user_text(User(14), "once")
    # Twice at the same time, again while it is handled, and again after.
    replies = await asyncio.gather(*(http.post(PATH, json=update, headers=RIGHT) for _ in range(2)))
    assert [r.status_code for r in replies] == [200, 200]
    await fake_api.wait_for(lambda: echo.seen[14] == ["once"])
    assert (await http.post(PATH, json=update, headers=RIGHT)).status_code == 200
    echo.gates["once"].set()
    await fake_api.wait_for(lambda: fake_api.texts(14) == ["echo once"])
    await intake.runtime.join()
    await kept_eventually(database_url, [])  # handled and out of the inbox: remembered in memory
    assert (await http.post(PATH, json=update, headers=RIGHT)).status_code == 200
    await intake.runtime.join()
    assert echo.seen[14] == ["once"]
    assert fake_api.texts(14) == ["echo once"]
    assert intake.duplicates == 3


async def test_one_chat_in_order_many_chats_at_once(
    hook: tuple[httpx.AsyncClient, FastAPI], fake_api: FakeBotApi, echo: Echo
) -> None:
    http, app = hook
    echo.jitter = 0.005
    users = [User(1000 + n) for n in range(20)]
    updates = [fake_api.user_text(u, f"m{k}") for k in range(3) for u in users]
    for update in updates:  # Telegram's order, each answered before the next is sent
        assert (await http.post(PATH, json=update, headers=RIGHT)).status_code == 200
    await fake_api.wait_for(
        lambda: all(len(fake_api.texts(u.id)) == 3 for u in users), within=30, what="every echo"
    )
    await app.state.services.telegram.runtime.join()
    for user in users:
        assert echo.seen[user.id] == ["m0", "m1", "m2"]
        assert fake_api.texts(user.id) == ["echo m0", "echo m1", "echo m2"]
    assert not echo.overlap


async def test_updates_left_by_a_dead_process_are_handled_by_the_next(
    database_url: str, fake_api: FakeBotApi, echo: Echo
) -> None:
    """A process answered 200 for two updates and died before handling them: they are in the
    inbox with a lease that ran out. The next process takes them over when it starts; an update
    whose lease still runs (a live process has it) is left alone."""
    user = User(15)
    first, second, live = (fake_api.user_text(user, text) for text in ("one", "two", "live"))
    engine = make_engine(database_url)
    try:
        inbox = SqlTelegramInbox(engine)
        now = datetime.now(UTC)
        for update in (first, second):
            text = orjson.dumps(update).decode()
            assert await inbox.put(update["update_id"], text, now, now - timedelta(seconds=1))
        lease = now + timedelta(minutes=5)
        assert await inbox.put(live["update_id"], orjson.dumps(live).decode(), now, lease)
    finally:
        await engine.dispose()
    app = echo_app(database_url, fake_api, echo)
    async with serving(app):
        await fake_api.wait_for(lambda: fake_api.texts(15) == ["echo one", "echo two"], what="the take-over")
        intake = app.state.services.telegram
        await intake.runtime.join()
        assert intake.taken_over == 2
    assert echo.seen[15] == ["one", "two"]
    assert await kept(database_url) == [live["update_id"]]


async def test_two_processes_never_take_over_the_same_update(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        inboxes = [SqlTelegramInbox(e) for e in engines]
        now = datetime.now(UTC)
        for update_id in range(1, 41):
            assert await inboxes[0].put(update_id, "{}", now, now)
        assert not await inboxes[1].put(7, "{}", now, now)
        later = now + timedelta(seconds=1)
        taken = await asyncio.gather(
            *(inbox.take_over(later, later + timedelta(minutes=1), 10) for inbox in inboxes * 3)
        )
        ids = [update_id for batch in taken for update_id, _ in batch]
        assert ids
        assert len(ids) == len(set(ids)), "an update was taken over twice"
        rest = [update_id for update_id, _ in await inboxes[1].take_over(later, later, 100)]
        assert sorted(ids + rest) == list(range(1, 41))
        await inboxes[0].forget(list(range(1, 41)))
        assert await inboxes[1].kept() == []
    finally:
        for engine in engines:
            await engine.dispose()


async def test_without_a_secret_there_is_no_webhook(database_url: str, fake_api: FakeBotApi) -> None:
    settings = webhook_settings(database_url, fake_api, webhook_secret=None)
    async with serving(build_app(settings)) as http:
        update = fake_api.user_text(User(16), "hi")
        reply = await http.post(PATH, json=update, headers=RIGHT)
        assert reply.status_code == 404
    assert fake_api.calls == []  # no bot was started: not even getMe
    assert await kept(database_url) == []


@pytest.mark.parametrize(
    ("telegram", "said"),
    [
        pytest.param(
            {"QUALIBOT_TELEGRAM_TOKEN": TOKEN, "QUALIBOT_TELEGRAM_WEBHOOK_SECRET": "a" * 31},
            "QUALIBOT_TELEGRAM_WEBHOOK_SECRET: must be 32 to 256 characters",
            id="short",
        ),
        pytest.param(
            {"QUALIBOT_TELEGRAM_TOKEN": TOKEN, "QUALIBOT_TELEGRAM_WEBHOOK_SECRET": "é" * 40},
            "QUALIBOT_TELEGRAM_WEBHOOK_SECRET: must be 32 to 256 characters",
            id="not-ascii",
        ),
        pytest.param(
            {"QUALIBOT_TELEGRAM_WEBHOOK_SECRET": SECRET},
            "QUALIBOT_TELEGRAM_WEBHOOK_SECRET is set but not QUALIBOT_TELEGRAM_TOKEN",
            id="no-token",
        ),
    ],
)
def test_serve_refuses_a_bad_webhook_setting_in_one_line(
    tmp_path: Path, telegram: dict[str, str], said: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIBOT_")}
    env |= {"QUALIBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'q.db'}"} | telegram
    result = subprocess.run(
        [sys.executable, "-m", "qualibot.cli", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"qualibot serve: bad setting {said}")
    assert SECRET not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "url",
    [
        "https://bot.example.com/telegram/webhook",
        "https://bot.example.com:8443/telegram/webhook",
        "https://203.0.113.5:88/hook?x=1",
    ],
)
def test_a_webhook_address_telegram_sends_to(url: str) -> None:
    assert check_webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://bot.example.com/telegram/webhook", "https://"),
        ("bot.example.com/telegram/webhook", "https://"),
        ("https:///telegram/webhook", "https://"),
        ("ftp://bot.example.com/", "https://"),
        ("https://bot.example.com:8000/telegram/webhook", "ports 443, 80, 88 and 8443"),
        ("https://bot.example.com:99999/", "not a URL"),
        ("https://user:pw@bot.example.com/", "no user, password"),
        ("https://bot.example.com/#top", "no user, password or #fragment"),
        ("https://bot.example.com/a b", "not a URL"),
        ("https://bot.example.com/" + "a" * 2100, "not a URL"),
        ("https://[::1/", "not a URL"),
    ],
)
def test_a_webhook_address_telegram_does_not_send_to(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        check_webhook_url(url)


def test_a_self_hosted_bot_api_sends_to_plain_http_and_any_port() -> None:
    url = "http://127.0.0.1:8000/telegram/webhook"
    assert check_webhook_url(url, self_hosted=True) == url
    with pytest.raises(ValueError, match="https://"):
        check_webhook_url(url)


async def test_set_and_delete_the_webhook(fake_api: FakeBotApi, tg_bot: Bot) -> None:
    info = await set_webhook(tg_bot, "https://bot.example.com/telegram/webhook", SECRET)
    assert info.url == "https://bot.example.com/telegram/webhook"
    assert fake_api.webhook["secret_token"] == SECRET
    assert fake_api.webhook["allowed_updates"] == ["message", "edited_message", "callback_query"]
    await delete_webhook(tg_bot)
    assert fake_api.webhook == {}
    deleted = fake_api.requests("deleteWebhook")
    assert [c.params.get("drop_pending_updates") for c in deleted] == ["false"]  # form-encoded


async def qualibot_bot(fake_api: FakeBotApi, *args: str, **env: str) -> tuple[int, str, str]:
    """`qualibot bot ARGS` as a process against the fake Bot API: (status, stdout, stderr)."""
    values = {k: v for k, v in os.environ.items() if not k.startswith("QUALIBOT_")} | {
        "QUALIBOT_TELEGRAM_TOKEN": TOKEN,
        "QUALIBOT_TELEGRAM_API_URL": fake_api.url,
        "QUALIBOT_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "QUALIBOT_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:9/none",  # never opened
    }
    values = {k: v for k, v in (values | env).items() if v}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qualibot.cli", "bot", *args, cwd=ROOT, env=values, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_qualibot_bot_sets_and_deletes_the_webhook(fake_api: FakeBotApi) -> None:
    url = "http://127.0.0.1:8000/telegram/webhook"  # a self-hosted Bot API (QUALIBOT_TELEGRAM_API_URL)
    status, out, err = await qualibot_bot(fake_api, "--set-webhook", url)
    assert (status, err) == (0, "")
    assert out == (
        f"Telegram now sends the updates of @qualibot_test_bot to {url} (0 waiting); "
        "`qualibot bot` polling is off until --delete-webhook\n"
    )
    assert fake_api.webhook["url"] == url
    assert fake_api.webhook["secret_token"] == SECRET
    assert fake_api.webhook["allowed_updates"] == ["message", "edited_message", "callback_query"]
    status, out, err = await qualibot_bot(fake_api, "--delete-webhook")
    assert (status, err) == (0, "")
    assert out.startswith("@qualibot_test_bot has no webhook")
    assert fake_api.webhook == {}


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        pytest.param(
            ["--set-webhook", "https://bot.example.com/telegram/webhook"],
            {"QUALIBOT_TELEGRAM_WEBHOOK_SECRET": ""},
            "--set-webhook needs QUALIBOT_TELEGRAM_WEBHOOK_SECRET",
            id="no-secret",
        ),
        pytest.param(
            ["--set-webhook", "http://bot.example.com/telegram/webhook"],
            {"QUALIBOT_TELEGRAM_API_URL": ""},
            "Telegram only sends updates to an https:// address",
            id="http",
        ),
        pytest.param(
            ["--set-webhook", "https://bot.example.com/telegram/webhook"],
            {"QUALIBOT_TELEGRAM_TOKEN": "7000001:not-the-token"},
            "Telegram refuses QUALIBOT_TELEGRAM_TOKEN",
            id="wrong-token",
        ),
        pytest.param(
            ["--set-webhook", "https://bot.example.com/x", "--delete-webhook"],
            {},
            "not allowed with argument",
            id="both",
        ),
    ],
)
async def test_qualibot_bot_refuses_a_webhook_it_cannot_set_in_one_line(
    fake_api: FakeBotApi, args: list[str], env: dict[str, str], said: str
) -> None:
    status, out, err = await qualibot_bot(fake_api, *args, **env)
    assert out == ""
    lines = err.strip().splitlines()
    assert said in lines[-1]
    assert lines[-1].startswith("qualibot bot")
    if status == 1:  # a setting or Telegram: one line; an argument: argparse's usage, status 2
        assert len(lines) == 1, err
    else:
        assert status == 2
        assert lines[0].startswith("usage:")
    assert "setWebhook" not in [c.method for c in fake_api.calls]
