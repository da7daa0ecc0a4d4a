"""Engines and sessions from a database URL, SQLite tuned for a service, and the schema check.

SQLite (``sqlite+aiosqlite:///path``, the default) gets WAL, ``busy_timeout``,
``synchronous=NORMAL`` and foreign keys on every connection, and takes the write lock at the start
of a write transaction (``BEGIN IMMEDIATE``) so two writers queue on ``busy_timeout`` instead of
failing half-way. This follows SQLAlchemy's documented recipe for the pysqlite/aiosqlite drivers:
the driver's own transaction handling is switched off in the ``connect`` event and our ``BEGIN``
is emitted in the ``begin`` event. PostgreSQL runs on asyncpg (``postgresql+asyncpg://...``);
a connection attempt gives up after ``connect_timeout`` seconds (a URL parameter, as in libpq:
``...?connect_timeout=10``; 5 by default), so a server that never answers cannot hang a command.

``check_database`` is what a process does before it serves: the database answers, is migrated and
can be written. ``database_problem`` turns a driver's exception about the database itself (not
reachable, refused, read-only, cannot be opened) into a one-line ``storage.errors`` error.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.errors import DatabaseProblem, DatabaseReadOnly, DatabaseUnavailable
from storage.errors import SchemaNotMigrated as SchemaNotMigrated

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/qualibot.db"

# The migration the code expects (the newest file in alembic/versions; a test keeps them equal).
SCHEMA_REVISION = "20261202_0001"

# Execution option that makes a SQLite transaction take the write lock at BEGIN.
WRITE = "qualibot_write"

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


CONNECT_TIMEOUT = "connect_timeout"
DEFAULT_CONNECT_TIMEOUT = 5.0
MAX_CONNECT_TIMEOUT = 600.0


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


def connect_timeout(url: str | URL) -> float:
    """Seconds a PostgreSQL connection attempt may take: the URL's ``connect_timeout``, else 5."""
    u = make_url(url)
    value = u.query.get(CONNECT_TIMEOUT)
    if value is None:
        return DEFAULT_CONNECT_TIMEOUT
    text_value = value[-1] if isinstance(value, tuple) else value
    try:
        seconds = float(text_value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= MAX_CONNECT_TIMEOUT:
        raise DatabaseUnavailable(
            display_url(u),
            f"{CONNECT_TIMEOUT} must be a number of seconds above 0, at most {MAX_CONNECT_TIMEOUT:g}",
        )
    return seconds


def asyncpg_dsn(url: str | URL) -> str:
    """The DSN asyncpg itself takes for a SQLAlchemy PostgreSQL URL (pass ``connect_timeout(url)``
    as its ``timeout``)."""
    u = make_url(url).difference_update_query([CONNECT_TIMEOUT]).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def make_engine(url: str | URL, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An engine for ``url``; nothing connects until it is used."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        engine = create_async_engine(u, json_serializer=dumps_json, json_deserializer=loads_json, echo=echo)
        _tune_sqlite(engine)
        return engine
    timeout = connect_timeout(u)
    engine = create_async_engine(
        u,
        json_serializer=dumps_json,
        json_deserializer=loads_json,
        pool_size=pool_size,
        max_overflow=pool_size,
        echo=echo,
    )

    # The URL keeps its connect_timeout (engines made from engine.url get the same), but asyncpg
    # takes it as the "timeout" argument.
    @event.listens_for(engine.sync_engine, "do_connect")
    def _timeout(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams.pop(CONNECT_TIMEOUT, None)
        cparams["timeout"] = timeout

    return engine


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


async def check_database(engine: AsyncEngine) -> None:
    """Refuse to serve on a database that does not answer, is not migrated, or cannot be written
    (a read-only file or replica would otherwise fail the first turn); raises a
    ``storage.errors.DatabaseProblem``. The write test changes nothing and is rolled back."""
    with database_errors(engine.url):
        # SQLite is opened first without aiosqlite: when aiosqlite fails to open a file, its worker
        # thread outlives the event loop and prints a traceback of its own at exit.
        await asyncio.to_thread(check_sqlite_opens, engine.url)
        await check_schema(engine)
        async with writer(engine).connect() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            await conn.rollback()


def check_sqlite_opens(url: str | URL) -> None:
    """Open a SQLite database through the standard ``sqlite3`` module, to fail cleanly (see
    :func:`check_database`); does nothing for other databases."""
    if not is_sqlite(url):
        return
    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()


@contextmanager
def database_errors(url: str | URL) -> Iterator[None]:
    """Raise what goes wrong with the database itself inside the block as its one-line
    ``DatabaseProblem`` (see :func:`database_problem`); anything else passes unchanged."""
    try:
        yield
    except Exception as exc:
        problem = database_problem(exc, url)
        if problem is None:
            raise
        raise problem from exc


# PostgreSQL SQLSTATE classes that are about the database, not the statement: connection, access,
# no such database, out of resources, shut down or starting up.
_UNAVAILABLE_SQLSTATES = ("08", "28", "3D", "53", "57P")
_READ_ONLY_SQLSTATE = "25006"


def database_problem(exc: BaseException, url: str | URL) -> DatabaseProblem | None:
    """``exc`` as a one-line problem with the database itself, or None when it is something else
    (a failing statement, a bug) that must not be mistaken for one."""
    if isinstance(exc, DatabaseProblem):
        return exc
    u = make_url(url)
    where = display_url(u)
    address = f"{u.host or 'localhost'}:{u.port or 5432}"
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        exc = exc.orig if isinstance(exc.orig, BaseException) else exc
    if isinstance(exc, DBAPIError):
        return _driver_problem(exc, where)
    if isinstance(exc, TimeoutError):
        return DatabaseUnavailable(
            where, f"no answer from {address} within {connect_timeout(u):g} s ({CONNECT_TIMEOUT})"
        )
    if isinstance(exc, ConnectionRefusedError):
        return DatabaseUnavailable(where, f"nothing is listening at {address} (connection refused)")
    if isinstance(exc, socket.gaierror):
        return DatabaseUnavailable(where, f"cannot find the host {u.host!r} ({exc.strerror})")
    if isinstance(exc, OSError):
        return DatabaseUnavailable(where, _first_line(exc.strerror or str(exc)))
    return None


# SQLite result codes that are about the file, not the statement.
_SQLITE_UNAVAILABLE = frozenset(
    {"SQLITE_CANTOPEN", "SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY"}
    | {"SQLITE_LOCKED", "SQLITE_PERM", "SQLITE_AUTH"}
)


def _driver_problem(exc: DBAPIError, where: str) -> DatabaseProblem | None:
    reason = _first_line(str(exc.orig))
    state = str(getattr(exc.orig, "sqlstate", None) or "")
    # "SQLITE_CANTOPEN_ISDIR" -> "SQLITE_CANTOPEN": the primary result code
    sqlite_code = "_".join(str(getattr(exc.orig, "sqlite_errorname", "")).split("_")[:2])
    if state == _READ_ONLY_SQLSTATE or sqlite_code == "SQLITE_READONLY":
        return DatabaseReadOnly(where, reason)
    if (state and state.startswith(_UNAVAILABLE_SQLSTATES)) or sqlite_code in _SQLITE_UNAVAILABLE:
        return DatabaseUnavailable(where, reason)
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no reason given"
