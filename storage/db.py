"""Engines and sessions from a database URL, SQLite tuned for a service, and the schema check.

SQLite (``sqlite+aiosqlite:///path``, the default) gets WAL, ``busy_timeout``,
``synchronous=NORMAL`` and foreign keys on every connection, and takes the write lock at the start
of a write transaction (``BEGIN IMMEDIATE``) so two writers queue on ``busy_timeout`` instead of
failing half-way. This follows SQLAlchemy's documented recipe for the pysqlite/aiosqlite drivers:
the driver's own transaction handling is switched off in the ``connect`` event and our ``BEGIN``
is emitted in the ``begin`` event. PostgreSQL runs on asyncpg (``postgresql+asyncpg://...``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/qualibot.db"

# The migration the code expects (the newest file in alembic/versions; a test keeps them equal).
SCHEMA_REVISION = "20261201_0002"

# Execution option that makes a SQLite transaction take the write lock at BEGIN.
WRITE = "qualibot_write"

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


class SchemaNotMigrated(RuntimeError):
    def __init__(self, where: str, current: str | None, needed: str) -> None:
        self.current = current
        self.needed = needed
        at = current or "no schema"
        super().__init__(
            f"the database at {where} is not migrated (at {at}, need {needed}): run `qualibot migrate`"
        )


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps_json(value: Any) -> str:
    """JSON as stored: compact, UTF-8 kept as it is. Through orjson (C, several times faster than
    the standard module on the writer's hot path), which writes the same text for JSON-ready
    values; non-string keys are written as strings, as the standard module does. What orjson
    refuses (integers beyond 64 bits) goes through the standard module."""
    try:
        return orjson.dumps(value, option=_JSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads_json(text: str | bytes) -> Any:
    """JSON text as stored, parsed (orjson)."""
    return orjson.loads(text)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def ensure_data_dir(url: str | URL) -> None:
    """Create the directory a SQLite database file lives in."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def display_url(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str | URL, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An engine for ``url``; nothing connects until it is used."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        engine = create_async_engine(u, json_serializer=dumps_json, json_deserializer=loads_json, echo=echo)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(
        u,
        json_serializer=dumps_json,
        json_deserializer=loads_json,
        pool_size=pool_size,
        max_overflow=pool_size,
        echo=echo,
    )


def make_sync_engine(url: str | URL) -> Engine:
    """A synchronous engine on the same database, for work done whole on a thread of its own (the
    group-commit writer): SQLite through the standard ``sqlite3`` module with the same tuning."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        raise ValueError(f"{display_url(u)}: a synchronous engine is only made for SQLite")
    engine = create_engine(
        u.set(drivername="sqlite+pysqlite"), json_serializer=dumps_json, json_deserializer=loads_json
    )
    _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine | Engine) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Hand transaction control to the "begin" hook below (the driver's own BEGIN is deferred
        # and would be issued lazily, so the write lock would be taken mid-transaction).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def writer(engine: AsyncEngine) -> AsyncEngine:
    """The same engine, but its transactions are write transactions (``BEGIN IMMEDIATE`` on SQLite;
    nothing changes on PostgreSQL, where rows are locked with ``FOR UPDATE``)."""
    return engine.execution_options(**{WRITE: True})


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at, or None when it has never been migrated."""
    async with engine.connect() as conn:
        try:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        except DBAPIError:
            return None
    return None if row is None else str(row[0])


async def check_schema(engine: AsyncEngine) -> None:
    """Refuse to run on a database that is not at the schema this code expects."""
    current = await schema_revision(engine)
    if current != SCHEMA_REVISION:
        raise SchemaNotMigrated(display_url(engine.url), current, SCHEMA_REVISION)
