"""The Telegram webhook's inbox (``bot.webhook.Inbox``): the updates answered 200 and not yet
handled, so a process that dies in between leaves them for the next one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import writer
from storage.tables import TelegramInboxUpdate

_TABLE = TelegramInboxUpdate.__table__


class SqlTelegramInbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._dialect = postgresql_dialect if engine.dialect.name == "postgresql" else sqlite_dialect

    async def put(self, update_id: int, payload: str, received_at: datetime, lease_until: datetime) -> bool:
        """Keep an update; False when it is already here (delivered twice before it was handled)."""
        statement = (
            self._dialect.insert(_TABLE)
            .values(update_id=update_id, payload=payload, received_at=received_at, lease_until=lease_until)
            .on_conflict_do_nothing()
        )
        async with self._writer.begin() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount == 1)

    async def forget(self, update_ids: Sequence[int]) -> None:
        """The updates are handled."""
        if not update_ids:
            return
        async with self._writer.begin() as conn:
            await conn.execute(delete(TelegramInboxUpdate).where(_TABLE.c.update_id.in_(list(update_ids))))

    async def take_over(self, now: datetime, lease_until: datetime, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` updates whose lease ran out (their process died), oldest first, leased
        to the caller until ``lease_until``; two processes never take the same one."""
        expired = (
            select(_TABLE.c.update_id)
            .where(_TABLE.c.lease_until <= now)
            .order_by(_TABLE.c.update_id)
            .limit(limit)
        )
        statement = (
            update(TelegramInboxUpdate)
            .where(_TABLE.c.update_id.in_(expired), _TABLE.c.lease_until <= now)
            .values(lease_until=lease_until)
            .returning(_TABLE.c.update_id, _TABLE.c.payload)
        )
        async with self._writer.begin() as conn:
            rows = (await conn.execute(statement)).all()
        return sorted((row.update_id, row.payload) for row in rows)

    async def extend(self, update_ids: Sequence[int], lease_until: datetime) -> None:
        """Keep the lease of updates still in hand."""
        if not update_ids:
            return
        statement = (
            update(TelegramInboxUpdate)
            .where(_TABLE.c.update_id.in_(list(update_ids)))
            .values(lease_until=lease_until)
        )
        async with self._writer.begin() as conn:
            await conn.execute(statement)

    async def kept(self) -> list[int]:
        """The update ids kept, in order."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(_TABLE.c.update_id).order_by(_TABLE.c.update_id))
            return list(rows.scalars())
