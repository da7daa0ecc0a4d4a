"""Which failures are problems with the database itself (reported in one line at the edge) and
which are not (a failing statement is a bug to see whole), on both databases; and the connect
timeout a URL carries."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import (
    DEFAULT_CONNECT_TIMEOUT,
    asyncpg_dsn,
    check_database,
    connect_timeout,
    database_errors,
    database_problem,
)
from storage.errors import DatabaseUnavailable

PG = "postgresql+asyncpg://u:secret@db.example:5433/qualibot"


def test_the_connect_timeout_comes_from_the_url() -> None:
    assert connect_timeout(PG) == DEFAULT_CONNECT_TIMEOUT == 5
    assert connect_timeout(PG + "?connect_timeout=2.5") == 2.5
    for bad in ("0", "-1", "soon", "601", "nan"):
        with pytest.raises(DatabaseUnavailable, match="connect_timeout must be a number of seconds"):
            connect_timeout(f"{PG}?connect_timeout={bad}")


def test_asyncpg_gets_the_url_without_the_timeout() -> None:
    assert (
        asyncpg_dsn(PG + "?connect_timeout=3&ssl=require")
        == "postgresql://u:secret@db.example:5433/qualibot?ssl=require"
    )


async def test_a_failing_statement_is_not_a_database_problem(engine: AsyncEngine) -> None:
    await check_database(engine)
    async with engine.connect() as conn:
        await conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO probe VALUES (1)"))
        await conn.commit()
        for statement in ("INSERT INTO probe VALUES (1)", "SELECT * FROM no_such_table", "SELEKT 1"):
            with pytest.raises(DBAPIError) as caught, database_errors(engine.url):
                await conn.execute(text(statement))
            assert database_problem(caught.value, engine.url) is None
            await conn.rollback()
