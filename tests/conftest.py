"""Shared database fixtures: every storage test runs on SQLite (a temporary file) and on the real
PostgreSQL named by ``QUALIBOT_TEST_POSTGRES_URL``, each test in a fresh database built by the
migrations. PostgreSQL tests are skipped when the server does not answer, unless
``QUALIBOT_REQUIRE_POSTGRES=1`` (CI), which turns that into a failure. The run ends with a line
naming the backends that actually ran."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import make_engine
from storage.migrations import upgrade

POSTGRES_URL = os.environ.get(
    "QUALIBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("QUALIBOT_REQUIRE_POSTGRES") == "1"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]

_backends_ran: set[str] = set()
_postgres_problem: list[str] = []


def _raw_dsn(url: str) -> str:
    """The asyncpg form of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _postgres_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(_raw_dsn(POSTGRES_URL), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()} is unreachable: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (QUALIBOT_REQUIRE_POSTGRES=1)")
        if not _postgres_problem:
            _postgres_problem.append(reason)
        pytest.skip(reason)


async def _create_postgres_database() -> str:
    name = f"qualibot_test_{uuid.uuid4().hex[:12]}"
    admin = await _postgres_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


async def _drop_postgres_database(url: str) -> None:
    admin = await _postgres_admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await admin.close()


async def _fresh_database(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'qualibot.db'}"
    return await _create_postgres_database()


@asynccontextmanager
async def fresh_database(backend: str, tmp_path: Path, *, migrated: bool = True) -> AsyncIterator[str]:
    """The URL of a fresh database on ``backend`` (``sqlite`` or ``postgresql``), built by the
    migrations unless ``migrated=False``; a PostgreSQL one is dropped afterwards."""
    url = await _fresh_database(backend, tmp_path)
    _backends_ran.add(backend)
    try:
        if migrated:
            await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        if backend == "postgresql":
            await _drop_postgres_database(url)


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database (no schema) on each backend."""
    async with fresh_database(request.param, tmp_path, migrated=False) as url:
        yield url


@pytest.fixture
async def database_url(empty_database_url: str) -> str:
    """A fresh database migrated to the newest schema by the Alembic migrations."""
    await asyncio.to_thread(upgrade, empty_database_url)
    return empty_database_url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    created = make_engine(database_url)
    try:
        yield created
    finally:
        await created.dispose()


@pytest.fixture
def backend(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _backends_ran and not _postgres_problem:
        return
    ran = ", ".join(sorted(_backends_ran)) or "none"
    terminalreporter.write_line(f"storage backends: {ran}")
    for problem in _postgres_problem:
        terminalreporter.write_line(f"storage backends skipped: {problem}")
