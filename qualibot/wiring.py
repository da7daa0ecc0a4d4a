"""Wiring: builds the database engine, stores, flow catalog and conversation service from
settings. No logic of its own; every process (`chat`, the servers to come) starts here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.catalog import FlowCatalog
from flows.errors import FlowVersionConflict
from flows.service import ConversationService, SystemClock
from flows.spec import LIBRARY, FlowSpecError, library_path, read_flow_text
from qualibot.settings import Settings
from storage.db import check_database, database_errors, ensure_data_dir, make_engine
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader

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


@asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[App]:
    """The service over the configured database. Refuses a database that does not answer, is not
    migrated or cannot be written, and turns a failure of the database itself while the app runs
    into the same one-line ``storage.errors.DatabaseProblem``."""
    with database_errors(settings.database_url):
        ensure_data_dir(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            await check_database(engine)
            conversations = SqlConversationStore(engine)
            try:
                service = ConversationService(
                    conversations,
                    SqlFlowVersionStore(engine),
                    load_catalog(settings),
                    SystemClock(),
                    leads=SqlLeadReader(engine),
                )
                yield App(settings, engine, conversations, service)
            finally:
                await conversations.aclose()
        finally:
            await engine.dispose()
