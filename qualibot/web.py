"""The web server's composition: the FastAPI app over the service, the stores and the catalog that
``qualibot.wiring`` opens, the admin API over the handoff, the delivery worker in process, and the
Telegram webhook when it is on. Uvicorn imports ``web_app`` in each worker process."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI

from api import admin
from api.app import WebServices, create_app
from api.telegram import webhook_router
from flows.service import SystemClock
from handoff.leads import LeadsForPeople
from handoff.outcomes import Outcomes
from qualibot.logging import configure_logging
from qualibot.settings import Settings
from qualibot.telegram import open_webhook
from qualibot.wiring import App, handoff_services, open_app, open_telegram, open_worker
from storage.db import check_schema, database_errors
from storage.outcomes import SqlOutcomes
from storage.tokens import SqlTokenStore

# Set by `qualibot serve --no-worker` for its uvicorn processes.
NO_WORKER = "QUALIBOT_SERVE_NO_WORKER"


@asynccontextmanager
async def delivering(app: App) -> AsyncIterator[None]:
    """The delivery worker running beside the web app until the block ends (then it finishes what
    is in flight)."""
    async with open_worker(app) as worker:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop), name="delivery-worker")
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, app.settings.handoff.webhook_timeout + 5)


@asynccontextmanager
async def open_web(settings: Settings, *, deliver: bool = False) -> AsyncIterator[WebServices]:
    """What the web app runs on, for the lifetime of a server process; with ``deliver`` the
    delivery worker runs in it too; with a webhook secret, also the Telegram bot (the one `qualibot
    bot` runs) that the webhook feeds."""
    async with open_app(settings) as app, AsyncExitStack() as stack:
        if deliver:
            await stack.enter_async_context(delivering(app))

        async def ready() -> None:
            with database_errors(app.engine.url):
                await check_schema(app.engine)

        clock = SystemClock()
        handoff = handoff_services(app.engine, settings)
        stack.push_async_callback(handoff.outbox.aclose)
        services = WebServices(
            conversations=app.service,
            tokens=SqlTokenStore(app.engine, app.conversations.writer),
            catalog=app.catalog,
            clock=clock,
            ready=ready,
            admin=admin.AdminServices(
                keys=handoff.keys,
                webhooks=handoff.admin,
                outcomes=Outcomes(SqlOutcomes(app.engine), clock),
                leads=LeadsForPeople(app.service, handoff.outbox),
            ),
        )
        if settings.telegram.webhook_secret is None:
            yield services
            return
        async with (
            open_telegram(app) as telegram,
            open_webhook(telegram.runtime, app.engine, settings.telegram) as intake,
        ):
            yield replace(services, telegram=intake)


def build_app(settings: Settings, *, deliver: bool = False) -> FastAPI:
    """The web app over ``settings`` (nothing is opened until its lifespan starts); ``deliver``
    runs the delivery worker in it; with a webhook secret it serves ``POST /telegram/webhook``."""
    secret = settings.telegram.webhook_secret
    routers = [admin.router]
    if secret is not None:
        routers.append(webhook_router(secret.get_secret_value()))
    return create_app(
        settings.api,
        lambda: open_web(settings, deliver=deliver),
        extra_routers=routers,
        telegram_bot_username=settings.telegram.bot_username,
    )


def web_app() -> FastAPI:
    """The ASGI application `qualibot serve` runs: uvicorn calls this in each worker process."""
    settings = Settings()
    configure_logging(settings)
    return build_app(settings, deliver=os.environ.get(NO_WORKER) != "1")
