"""Webhook endpoints and admin API keys: the rows the admin API manages.

Both are small tables read rarely (an admin request, a worker claim), so they go through
SQLAlchemy Core on the async engine; every write is one short transaction of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import writer
from storage.tables import ApiKey, WebhookDelivery, WebhookEndpoint

endpoints = cast(Table, WebhookEndpoint.__table__)
deliveries = cast(Table, WebhookDelivery.__table__)
api_keys = cast(Table, ApiKey.__table__)

ACTIVE = "active"
DISABLED = "disabled"
DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: uuid.UUID
    url: str
    events: tuple[str, ...]
    stage_map: dict[str, str]
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    status: str
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    def secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets that sign a message sent at ``now``: the current one, and the previous one
        while its grace period lasts."""
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            return (self.secret, self.previous_secret)
        return (self.secret,)


def endpoint_record(row: Row[Any]) -> EndpointRecord:
    return EndpointRecord(
        id=row.id,
        url=row.url,
        events=tuple(row.events),
        stage_map=dict(row.stage_map),
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_until=row.previous_secret_until,
        status=row.status,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlEndpoints:
    """The webhook endpoints table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    async def add(
        self,
        endpoint_id: uuid.UUID,
        url: str,
        events: Sequence[str],
        stage_map: dict[str, str],
        secret: str,
        now: datetime,
    ) -> EndpointRecord:
        values = {
            "id": endpoint_id,
            "url": url,
            "events": list(events),
            "stage_map": stage_map,
            "secret": secret,
            "previous_secret": None,
            "previous_secret_until": None,
            "status": ACTIVE,
            "disabled_reason": None,
            "failing_since": None,
            "created_at": now,
            "updated_at": now,
        }
        async with self._writer.begin() as conn:
            await conn.execute(endpoints.insert().values(**values))
        found = await self.get(endpoint_id)
        assert found is not None
        return found

    async def get(self, endpoint_id: uuid.UUID) -> EndpointRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(endpoints).where(endpoints.c.id == endpoint_id, endpoints.c.status != DELETED)
                )
            ).first()
        return None if row is None else endpoint_record(row)

    async def list(self) -> list[EndpointRecord]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(endpoints)
                    .where(endpoints.c.status != DELETED)
                    .order_by(endpoints.c.created_at, endpoints.c.id)
                )
            ).all()
        return [endpoint_record(r) for r in rows]

    async def change(self, endpoint_id: uuid.UUID, now: datetime, **values: Any) -> EndpointRecord | None:
        """Set columns of a live endpoint; None when there is none. Enabling it (``status`` back to
        ``active``) makes its waiting deliveries due at once."""
        async with self._writer.begin() as conn:
            changed = await conn.execute(
                update(endpoints)
                .where(endpoints.c.id == endpoint_id, endpoints.c.status != DELETED)
                .values(updated_at=now, **values)
            )
            if changed.rowcount == 0:
                return None
            if values.get("status") == ACTIVE:
                await conn.execute(
                    update(deliveries)
                    .where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.status == "pending")
                    .values(next_attempt_at=now, updated_at=now)
                )
        return await self.get(endpoint_id)

    async def delete(self, endpoint_id: uuid.UUID, now: datetime) -> bool:
        """Mark the endpoint deleted and cancel what it still had to receive. The rows stay, so a
        lead's history still shows what was delivered where."""
        async with self._writer.begin() as conn:
            changed = await conn.execute(
                update(endpoints)
                .where(endpoints.c.id == endpoint_id, endpoints.c.status != DELETED)
                .values(status=DELETED, updated_at=now)
            )
            if changed.rowcount == 0:
                return False
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.status == "pending")
                .values(status="cancelled", lease_owner=None, lease_until=None, updated_at=now)
            )
        return True


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    name: str
    secret_sha256: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _key_record(row: Row[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        secret_sha256=row.secret_sha256,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SqlApiKeys:
    """The admin API keys table (hashes only)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    async def add(self, key_id: str, name: str, secret_sha256: str, now: datetime) -> ApiKeyRecord:
        record = ApiKeyRecord(key_id, name, secret_sha256, now, None, None)
        async with self._writer.begin() as conn:
            await conn.execute(
                api_keys.insert().values(id=key_id, name=name, secret_sha256=secret_sha256, created_at=now)
            )
        return record

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return None if row is None else _key_record(row)

    async def list(self) -> list[ApiKeyRecord]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(api_keys).order_by(api_keys.c.created_at))).all()
        return [_key_record(r) for r in rows]

    async def revoke(self, key_id: str, now: datetime) -> bool:
        async with self._writer.begin() as conn:
            changed = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return bool(changed.rowcount)

    async def touch(self, key_id: str, now: datetime) -> None:
        async with self._writer.begin() as conn:
            await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))
