"""Wiring: builds the database engine, stores, flow catalog and conversation service from
settings. No logic of its own; every process (`chat`, `serve`, ...) starts here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.catalog import FlowCatalog
from flows.errors import FlowVersionConflict
from flows.service import ConversationService, SystemClock
from flows.spec import LIBRARY, FlowSpecError, library_path, read_flow_text
from handoff.abandoned import AbandonedSweeper
from handoff.admin import WebhookAdmin
from handoff.keys import ApiKeys
from handoff.transport import make_client
from handoff.worker import DeliveryWorker
from qualibot.settings import Settings
from storage.db import check_database, database_errors, ensure_data_dir, make_engine
from storage.endpoints import SqlApiKeys, SqlEndpoints
from storage.outbox import SqlOutbox
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader

if TYPE_CHECKING:
    from bot.app import TelegramBot

log = structlog.get_logger(__name__)


def flow_files(settings: Settings) -> list[Path]:
    """The shipped flows, then every ``*.yaml`` in ``QUALIBOT_FLOWS_DIR`` (same id: that file wins)."""
    files = [library_path(flow_id) for flow_id in LIBRARY]
    if settings.flows_dir is not None:
        files += sorted(settings.flows_dir.glob("*.yaml"))
    return files


def load_catalog(settings: Settings) -> FlowCatalog:
    """Every flow that loads; a broken file is logged with its problems and skipped, so the
    service keeps running on the flows that are good. Whatever goes wrong with one file (it
    cannot be read, parsed, validated or built) is that file's problem, never the service's."""
    catalog = FlowCatalog()
    for path in flow_files(settings):
        try:
            entry = catalog.add(read_flow_text(path), str(path))
        except FlowSpecError as exc:
            log.error("flow_invalid", file=str(path), problems=[str(p) for p in exc.problems])
        except FlowVersionConflict as exc:
            log.error("flow_version_conflict", file=str(path), error=str(exc))
        except Exception as exc:
            log.exception("flow_failed", file=str(path), error=f"{type(exc).__name__}: {exc}")
        else:
            log.debug("flow_loaded", flow=entry.spec.id, version=entry.spec.version, file=str(path))
    return catalog


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    engine: AsyncEngine
    conversations: SqlConversationStore
    service: ConversationService
    catalog: FlowCatalog


@asynccontextmanager
async def open_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The configured database. Refuses a database that does not answer, is not migrated or cannot
    be written, and turns a failure of the database itself while it is used into the same one-line
    ``storage.errors.DatabaseProblem``."""
    with database_errors(settings.database_url):
        ensure_data_dir(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            await check_database(engine)
            yield engine
        finally:
            await engine.dispose()


@asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[App]:
    """The conversation service over the configured database (see ``open_engine``)."""
    async with open_engine(settings) as engine:
        conversations = SqlConversationStore(engine)
        catalog = load_catalog(settings)
        try:
            service = ConversationService(
                conversations,
                SqlFlowVersionStore(engine),
                catalog,
                SystemClock(),
                leads=SqlLeadReader(engine),
            )
            yield App(settings, engine, conversations, service, catalog)
        finally:
            await conversations.aclose()


@dataclass(frozen=True, slots=True)
class Handoff:
    """The handoff's stores and the services over them, on one engine."""

    outbox: SqlOutbox
    admin: WebhookAdmin
    keys: ApiKeys


def handoff_services(engine: AsyncEngine, settings: Settings) -> Handoff:
    outbox = SqlOutbox(engine)
    clock = SystemClock()
    return Handoff(
        outbox,
        WebhookAdmin(SqlEndpoints(engine), outbox, settings.handoff, clock),
        ApiKeys(SqlApiKeys(engine), clock),
    )


@asynccontextmanager
async def open_worker(app: App) -> AsyncIterator[DeliveryWorker]:
    """A delivery worker on the app's database with the process's one webhook client; it also
    raises ``lead.abandoned`` for conversations left half-way."""
    handoff = app.settings.handoff
    client = make_client(timeout=handoff.webhook_timeout, allow_private=handoff.allow_private_webhooks)
    outbox = SqlOutbox(app.engine)
    sweeper = AbandonedSweeper(outbox, app.service, handoff)
    try:
        yield DeliveryWorker(outbox, client, handoff, SystemClock(), sweeper=sweeper)
    finally:
        await outbox.aclose()
        await client.aclose()


@asynccontextmanager
async def open_telegram(app: App) -> AsyncIterator[TelegramBot]:
    """The Telegram bot over the app's conversation service (the token checked with Telegram).
    aiogram is imported here, so the commands without a bot never load it."""
    from bot.app import open_bot

    async with open_bot(app.settings.telegram, app.service, app.catalog) as telegram:
        yield telegram
