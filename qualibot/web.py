"""The web server's composition: the FastAPI app over the service, the stores and the catalog that
``qualibot.wiring`` opens, and the Telegram webhook when it is on. Uvicorn imports ``web_app`` in
each worker process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from aiogram import Dispatcher
from fastapi import FastAPI

from api.app import WebServices, create_app
from api.telegram import webhook_router
from flows.service import SystemClock
from qualibot.logging import configure_logging
from qualibot.settings import Settings
from qualibot.telegram import open_webhook
from qualibot.wiring import App, open_app
from storage.db import check_schema, database_errors
from storage.tokens import SqlTokenStore

# The bot's dispatcher over the app's service (the dialogue's routers).
DispatcherFactory = Callable[[App], Dispatcher]


@asynccontextmanager
async def open_web(
    settings: Settings, dispatcher: DispatcherFactory | None = None
) -> AsyncIterator[WebServices]:
    """What the web app runs on, for the lifetime of a server process; with ``dispatcher`` and a
    webhook secret, also the Telegram bot that the webhook feeds."""
    async with open_app(settings) as app:

        async def ready() -> None:
            with database_errors(app.engine.url):
                await check_schema(app.engine)

        services = WebServices(
            conversations=app.service,
            tokens=SqlTokenStore(app.engine, app.conversations.writer),
            catalog=app.catalog,
            clock=SystemClock(),
            ready=ready,
        )
        if dispatcher is None or settings.telegram.webhook_secret is None:
            yield services
            return
        async with open_webhook(settings.telegram, app.engine, dispatcher(app)) as intake:
            yield replace(services, telegram=intake)


def build_app(settings: Settings, dispatcher: DispatcherFactory | None = None) -> FastAPI:
    """The web app over ``settings`` (nothing is opened until its lifespan starts); it serves the
    Telegram webhook when a secret is set and ``dispatcher`` builds the bot's dispatcher."""
    secret = settings.telegram.webhook_secret
    routers = [webhook_router(secret.get_secret_value())] if secret is not None and dispatcher else []
    return create_app(
        settings.api,
        lambda: open_web(settings, dispatcher),
        extra_routers=routers,
        telegram_bot_username=settings.telegram.bot_username,
    )


def web_app() -> FastAPI:
    """The ASGI application `qualibot serve` runs: uvicorn calls this in each worker process."""
    settings = Settings()
    configure_logging(settings)
    return build_app(settings)
