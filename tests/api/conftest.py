"""The web app over a real database, driven through ``httpx.ASGITransport`` with its lifespan."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.settings import ApiSettings
from bot.settings import TelegramSettings
from flows.spec import FlowSpec, load_library_flow
from qualibot.settings import Settings
from qualibot.web import build_app
from storage.migrations import upgrade

CLIENT = ("203.0.113.7", 50000)
BOT = "qualibot_test_bot"


def settings_for(database_url: str, **api: Any) -> Settings:
    """Settings for a test app: the web adapter's from ``api`` (never from the environment)."""
    values: dict[str, Any] = {"allowed_origins": ["https://shop.example"]} | api
    return Settings(
        _env_file=None,
        database_url=database_url,
        log_level="WARNING",
        api=ApiSettings(_env_file=None, **values),
        telegram=TelegramSettings(_env_file=None, bot_username=BOT),
    )


@asynccontextmanager
async def running(app: FastAPI, client: tuple[str, int] = CLIENT) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan entered, and a client that talks to it in process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
def make_client(database_url: str) -> Callable[..., Any]:
    """``async with make_client(**settings) as http``: the app over the test database."""

    def build(client: tuple[str, int] = CLIENT, **changes: Any) -> Any:
        return running(build_app(settings_for(database_url, **changes)), client)

    return build


@pytest.fixture
async def api(make_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as http:
        yield http


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "web.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(migrated_sqlite: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite file (a copy of one migrated once), for the tests about the HTTP
    edge rather than the database."""
    path = tmp_path / "web.db"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def edge(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running(build_app(settings_for(sqlite_url))) as http:
        yield http


@pytest.fixture(scope="session")
def bant() -> FlowSpec:
    return load_library_flow("bant")


async def start(
    http: httpx.AsyncClient, flow: str = "bant", locale: str = "ru", **context: Any
) -> dict[str, Any]:
    reply = await http.post("/v1/conversations", json={"flow": flow, "locale": locale, "context": context})
    assert reply.status_code == 201, reply.text
    data: dict[str, Any] = reply.json()
    return data


def bearer(conversation: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {conversation['token']}"}
