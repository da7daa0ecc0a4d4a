"""The web server's composition: the FastAPI app over the service, the stores and the catalog that
``qualibot.wiring`` opens. Uvicorn imports ``web_app`` in each worker process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.app import WebServices, create_app
from flows.service import SystemClock
from qualibot.logging import configure_logging
from qualibot.settings import Settings
from qualibot.wiring import open_app
from storage.db import check_schema, database_errors
from storage.tokens import SqlTokenStore


@asynccontextmanager
async def open_web(settings: Settings) -> AsyncIterator[WebServices]:
    """What the web app runs on, for the lifetime of a server process."""
    async with open_app(settings) as app:

        async def ready() -> None:
            with database_errors(app.engine.url):
                await check_schema(app.engine)

        yield WebServices(
            conversations=app.service,
            tokens=SqlTokenStore(app.engine),
            catalog=app.catalog,
            clock=SystemClock(),
            ready=ready,
        )


def build_app(settings: Settings) -> FastAPI:
    """The web app over ``settings`` (nothing is opened until its lifespan starts)."""
    return create_app(
        settings.api, lambda: open_web(settings), telegram_bot_username=settings.telegram.bot_username
    )


def web_app() -> FastAPI:
    """The ASGI application `qualibot serve` runs: uvicorn calls this in each worker process."""
    settings = Settings()
    configure_logging(settings)
    return build_app(settings)
