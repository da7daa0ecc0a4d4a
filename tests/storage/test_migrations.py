"""The migrations build the schema the code describes, go down and up again, and the service
refuses a database that is not at the expected revision."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from qualibot.cli import main as cli_main
from storage.db import SCHEMA_REVISION, SchemaNotMigrated, check_schema, make_engine, schema_revision
from storage.migrations import downgrade, head_revision, upgrade
from storage.tables import Base

# Every table the code maps: the migrations must create exactly these (and compare_metadata below
# checks their columns, indexes and constraints).
TABLES = set(Base.metadata.tables)


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _schema_diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_the_code_expects_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_REVISION


async def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        with pytest.raises(
            SchemaNotMigrated, match=r"not migrated \(at no schema, need .*run `qualibot migrate`"
        ):
            await check_schema(engine)

        await asyncio.to_thread(upgrade, empty_database_url)
        await check_schema(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES | {"alembic_version"}
            assert await conn.run_sync(_schema_diff) == []

        await asyncio.to_thread(downgrade, empty_database_url, "base")
        assert await schema_revision(engine) is None
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == {"alembic_version"}
        with pytest.raises(SchemaNotMigrated):
            await check_schema(engine)

        await asyncio.to_thread(upgrade, empty_database_url)
        await check_schema(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES | {"alembic_version"}
    finally:
        await engine.dispose()


async def test_a_database_behind_the_code_is_refused(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '20200101_0000'")
        with pytest.raises(SchemaNotMigrated, match=r"at 20200101_0000, need " + SCHEMA_REVISION):
            await check_schema(engine)
    finally:
        await engine.dispose()


async def test_migrate_command_creates_the_data_dir_and_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "data" / "nested" / "qualibot.db"
    url = f"sqlite+aiosqlite:///{db}"
    assert await asyncio.to_thread(cli_main, ["migrate", "--database-url", url]) == 0
    assert db.exists()
    engine = make_engine(url)
    try:
        await check_schema(engine)
    finally:
        await engine.dispose()
    # A second run has nothing to do and still succeeds.
    assert await asyncio.to_thread(cli_main, ["migrate", "--database-url", url]) == 0


async def test_migrate_command_takes_the_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "env" / "q.db"
    monkeypatch.setenv("QUALIBOT_DATABASE_URL", f"sqlite+aiosqlite:///{db}")
    assert await asyncio.to_thread(cli_main, ["migrate"]) == 0
    assert db.exists()


def test_migrate_command_reports_an_unreachable_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["migrate", "--database-url", "postgresql+asyncpg://nobody@127.0.0.1:1/none"]) == 1
    assert capsys.readouterr().err == (
        "qualibot migrate: cannot use the database at postgresql+asyncpg://nobody@127.0.0.1:1/none: "
        "nothing is listening at 127.0.0.1:1 (connection refused)\n"
    )
