"""The handoff outbox as the delivery worker sees it: events fanned out to one delivery per
endpoint, deliveries claimed under a lease, every attempt recorded, and replays.

``outbox_events`` rows are the *events* (written in the turn's transaction). A worker turns each
new event into one ``webhook_deliveries`` row per subscribed endpoint, so one endpoint's failures
never hold up another's, and the events of one lead reach each endpoint in order: a delivery is
claimed only when no earlier delivery of the same lead to the same endpoint is still pending.

A claim is one write transaction: fan out new events (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so workers take disjoint events), then take due deliveries (``FOR UPDATE OF ... SKIP LOCKED``) and
lease them to the claiming worker until ``lease_until``. On SQLite the transaction holds the
write lock (``BEGIN IMMEDIATE``), so claims never interleave: one claimer at a time. A worker that
dies mid-delivery loses its lease when it runs out; the delivery is then claimed again and sent
with the same ``webhook-id``.

The worker's transactions (claim, record, release, sweep) are written as plain functions of a
synchronous connection and run as one unit: on SQLite on a thread of their own through the
standard ``sqlite3`` module, one hand-over per transaction (through aiosqlite every statement is a
hand-over, and each waits its turn beside a busy event loop); on PostgreSQL through asyncpg on the
caller's event loop (``run_sync``). Admin reads and writes, rare and small, go through the async
engine.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    Uuid,
    and_,
    case,
    column,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
    values,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from flows.ports import StoredConversation
from storage.batch import stored_conversation
from storage.db import WRITE, make_sync_engine, writer
from storage.endpoints import (
    ACTIVE,
    DELETED,
    DISABLED,
    EndpointRecord,
    deliveries,
    endpoint_record,
    endpoints,
)
from storage.tables import (
    Conversation,
    EngagementEvent,
    Lead,
    LeadIdentity,
    OutboxEvent,
    UTCDateTime,
    WebhookAttempt,
)

T = TypeVar("T")

outbox = cast(Table, OutboxEvent.__table__)
attempts = cast(Table, WebhookAttempt.__table__)
leads = cast(Table, Lead.__table__)
identities = cast(Table, LeadIdentity.__table__)
engagement = cast(Table, EngagementEvent.__table__)
conversations = cast(Table, Conversation.__table__)

# outbox_events.status: written "pending" with the turn, "dispatched" once fanned out.
EVENT_PENDING = "pending"
EVENT_DISPATCHED = "dispatched"
ABANDONED = "lead.abandoned"

DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]
PENDING: DeliveryStatus = "pending"
DELIVERED: DeliveryStatus = "delivered"
FAILED: DeliveryStatus = "failed"  # dead-lettered: every attempt of the schedule failed
CANCELLED: DeliveryStatus = "cancelled"  # its endpoint was deleted

# What a delivery shows of the pages a lead saw, newest first.
PAGES_SHOWN = 20

# Key of the PostgreSQL advisory lock that lets one worker at a time sweep for abandoned leads.
_SWEEP_LOCK = 0x5155414C  # "QUAL"


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """The lead as stored now: contact fields and the channel identities sales can reach it by."""

    stage: str
    tier: str | None
    score: int | None
    name: str | None
    email: str | None
    phone: str | None
    company: str | None
    telegram_user_id: str | None = None
    pages: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery leased to one worker, with everything needed to render, sign and send it."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    event_at: datetime
    lead_id: uuid.UUID
    conversation_id: uuid.UUID
    attempts: int  # made before this one, since it was (re)queued
    url: str
    secrets: tuple[str, ...]
    stage_map: dict[str, str]
    payload: dict[str, Any]
    lead: LeadFacts


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One POST and what the worker decided after it."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    number: int
    started_at: datetime
    latency_ms: int
    status_code: int | None
    error: str | None
    response_excerpt: str
    status: DeliveryStatus  # the delivery's status after this attempt
    next_attempt_at: datetime | None  # when pending: the next try
    endpoint_ok: bool  # the endpoint answered 2xx
    endpoint_gone: bool = False  # the endpoint answered 410: disable it


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    event_at: datetime
    lead_id: uuid.UUID
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptView:
    number: int
    worker: str
    started_at: datetime
    latency_ms: int
    status_code: int | None
    error: str | None
    response_excerpt: str


@dataclass(frozen=True, slots=True)
class AbandonedConversation:
    """An open conversation left idle, and its lead as stored."""

    conversation: StoredConversation
    lead: LeadFacts


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event the handoff itself raises (``lead.abandoned``)."""

    type: str
    lead_id: uuid.UUID
    conversation_id: uuid.UUID
    payload: dict[str, Any]


@dataclass(slots=True)
class ClaimStats:
    claims: int = 0
    fanned_out: int = 0
    claimed: int = 0
    recorded: int = 0


def _delivery_view(row: Any) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        event_at=row.event_at,
        lead_id=row.lead_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == PENDING else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
    )


def _attempt_view(row: Any) -> AttemptView:
    return AttemptView(
        number=row.number,
        worker=row.worker,
        started_at=row.started_at,
        latency_ms=row.latency_ms,
        status_code=row.status_code,
        error=row.error,
        response_excerpt=row.response_excerpt,
    )


_d = deliveries
_earlier = deliveries.alias("earlier")

# A delivery waits while an earlier event of the same lead for the same endpoint is pending.
_WAITS_FOR_EARLIER = (
    exists()
    .where(
        _earlier.c.endpoint_id == _d.c.endpoint_id,
        _earlier.c.lead_id == _d.c.lead_id,
        _earlier.c.status == PENDING,
        or_(
            _earlier.c.event_at < _d.c.event_at,
            and_(_earlier.c.event_at == _d.c.event_at, _earlier.c.event_id < _d.c.event_id),
        ),
    )
    .correlate(_d)
)


class new_uuid(FunctionElement[uuid.UUID]):
    """A random UUID made by the database: for rows written by INSERT ... SELECT."""

    type = Uuid()
    inherit_cache = True
    name = "new_uuid"


@compiles(new_uuid, "postgresql")
def _new_uuid_postgresql(_element: new_uuid, _compiler: Any, **_kw: Any) -> str:
    return "gen_random_uuid()"


@compiles(new_uuid, "sqlite")
def _new_uuid_sqlite(_element: new_uuid, _compiler: Any, **_kw: Any) -> str:
    return "lower(hex(randomblob(16)))"  # how a UUID is stored on SQLite: 32 hex digits


def _fan_out_statement(
    endpoint_id: uuid.UUID,
    types: Sequence[str],
    event_ids: Sequence[uuid.UUID],
    now: datetime,
    *,
    due_now: bool = False,
) -> Any:
    """INSERT ... SELECT: a pending delivery to ``endpoint_id`` for each of ``event_ids`` of the
    ``types`` it takes and does not have yet; due when the event was raised (or now)."""
    at = literal(now, UTCDateTime())
    chosen = select(
        new_uuid(),
        literal(endpoint_id, Uuid()),
        outbox.c.id,
        outbox.c.lead_id,
        outbox.c.type,
        outbox.c.created_at,
        literal(PENDING),
        literal(0),
        at if due_now else outbox.c.created_at,
        at,
        at,
    ).where(
        outbox.c.id.in_(list(event_ids)),
        outbox.c.type.in_(list(types)),
        ~exists().where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.event_id == outbox.c.id),
    )
    columns = [
        "id",
        "endpoint_id",
        "event_id",
        "lead_id",
        "event_type",
        "event_at",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
    ]
    return insert(deliveries).from_select(columns, chosen)


def _live_endpoints(conn: Connection) -> list[EndpointRecord]:
    rows = conn.execute(select(endpoints).where(endpoints.c.status != DELETED)).all()
    return [endpoint_record(r) for r in rows]


class _Units:
    """Runs a transaction body, a function of a synchronous connection, as one unit (see the
    module docstring): SQLite on a thread of its own, PostgreSQL through ``run_sync``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = writer(engine)
        self.sqlite = engine.dialect.name == "sqlite"
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def run(self, body: Callable[[Connection], T]) -> T:
        if not self.sqlite:
            async with self._engine.begin() as conn:
                return await conn.run_sync(body)
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qualibot-outbox")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._on_thread, body)

    def _on_thread(self, body: Callable[[Connection], T]) -> T:
        if self._sync is None:
            self._sync = make_sync_engine(self._engine.url).execution_options(**{WRITE: True})
        with self._sync.begin() as conn:
            return body(conn)

    async def aclose(self) -> None:
        if self._thread is not None:
            thread, self._thread = self._thread, None
            if self._sync is not None:
                await asyncio.get_running_loop().run_in_executor(thread, self._sync.dispose)
                self._sync = None
            thread.shutdown(wait=True)


class SqlOutbox:
    """Fan-out, claims, attempt records and replays over SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._units = _Units(engine)
        self._postgres = engine.dialect.name == "postgresql"
        self.stats = ClaimStats()

    async def aclose(self) -> None:
        """Stop the SQLite thread, if one was started (the engine stays open)."""
        await self._units.aclose()

    # -- the worker --------------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        *,
        exclude_endpoints: Iterable[uuid.UUID] = (),
        fan_out_limit: int = 500,
    ) -> list[ClaimedDelivery]:
        """Fan out new events, then lease up to ``limit`` due deliveries to ``owner``."""
        excluded = set(exclude_endpoints)
        claimed = await self._units.run(
            lambda conn: self._claim(conn, owner, now, lease, limit, excluded, fan_out_limit)
        )
        self.stats.claims += 1
        self.stats.claimed += len(claimed)
        return claimed

    def _claim(
        self,
        conn: Connection,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        excluded: set[uuid.UUID],
        fan_out_limit: int,
    ) -> list[ClaimedDelivery]:
        live = _live_endpoints(conn)
        self.stats.fanned_out += _fan_out(conn, now, fan_out_limit, live)
        active = [e.id for e in live if e.status == ACTIVE and e.id not in excluded]
        if limit <= 0 or not active:
            return []
        ids = list(
            conn.execute(
                select(_d.c.id)
                .where(
                    _d.c.status == PENDING,
                    _d.c.next_attempt_at <= now,
                    or_(_d.c.lease_until.is_(None), _d.c.lease_until <= now),
                    _d.c.endpoint_id.in_(active),
                    ~_WAITS_FOR_EARLIER,
                )
                .order_by(_d.c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if not ids:
            return []
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(lease_owner=owner, lease_until=now + lease, updated_at=now)
        )
        rows = conn.execute(
            select(
                _d.c.id,
                _d.c.endpoint_id,
                _d.c.event_id,
                _d.c.event_type,
                _d.c.event_at,
                _d.c.lead_id,
                _d.c.attempts,
                outbox.c.conversation_id,
                outbox.c.payload,
            )
            .join(outbox, outbox.c.id == _d.c.event_id)
            .where(_d.c.id.in_(ids))
            .order_by(_d.c.next_attempt_at)
        ).all()
        facts = _lead_facts(conn, {r.lead_id for r in rows})
        by_id = {e.id: e for e in live}
        return [
            ClaimedDelivery(
                id=r.id,
                endpoint_id=r.endpoint_id,
                event_id=r.event_id,
                event_type=r.event_type,
                event_at=r.event_at,
                lead_id=r.lead_id,
                conversation_id=r.conversation_id,
                attempts=r.attempts,
                url=by_id[r.endpoint_id].url,
                secrets=by_id[r.endpoint_id].secrets(now),
                stage_map=by_id[r.endpoint_id].stage_map,
                payload=dict(r.payload),
                lead=facts[r.lead_id],
            )
            for r in rows
        ]

    async def record(
        self, owner: str, results: Sequence[AttemptRecord], now: datetime, *, disable_after: timedelta
    ) -> None:
        """Write the attempts and what follows from them: the deliveries' new status (only where
        ``owner`` still holds the lease), the endpoints' health (a 2xx clears ``failing_since``,
        a failure starts it, a 410 or failing since ``disable_after`` ago disables)."""
        if not results:
            return
        await self._units.run(lambda conn: _record(conn, owner, results, now, disable_after))
        self.stats.recorded += len(results)

    async def release(self, owner: str, delivery_ids: Sequence[uuid.UUID], now: datetime) -> None:
        """Give back leases of deliveries this worker claimed but never sent."""
        if not delivery_ids:
            return
        await self._units.run(
            lambda conn: conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(list(delivery_ids)), deliveries.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None, updated_at=now)
            )
        )

    # -- abandoned conversations ---------------------------------------------------------------

    async def wants(self, event_type: str) -> bool:
        """Whether any live endpoint subscribes to ``event_type``."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(endpoints.c.events).where(endpoints.c.status != DELETED))).all()
        return any(event_type in r.events for r in rows)

    async def abandoned(
        self, idle_before: datetime, not_before: datetime, limit: int
    ) -> list[AbandonedConversation]:
        """Open conversations last touched in [not_before, idle_before) whose lead left an e-mail
        or a phone, and that have no ``lead.abandoned`` event yet."""
        c = conversations
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        c.c.id,
                        c.c.lead_id,
                        c.c.channel,
                        c.c.flow_id,
                        c.c.flow_version,
                        c.c.version,
                        c.c.state,
                        c.c.created_at,
                        c.c.updated_at,
                        leads.c.stage,
                        leads.c.score,
                        leads.c.tier,
                        leads.c.name,
                        leads.c.email,
                        leads.c.phone,
                        leads.c.company,
                    )
                    .join(leads, leads.c.id == c.c.lead_id)
                    .where(
                        c.c.stage.in_(["new", "in_progress"]),
                        c.c.updated_at < idle_before,
                        c.c.updated_at >= not_before,
                        or_(leads.c.email.is_not(None), leads.c.phone.is_not(None)),
                        ~exists().where(outbox.c.conversation_id == c.c.id, outbox.c.type == ABANDONED),
                    )
                    .order_by(c.c.updated_at)
                    .limit(limit)
                )
            ).all()
        return [
            AbandonedConversation(
                stored_conversation(dict(r._mapping), r.state),
                LeadFacts(r.stage, r.tier, r.score, r.name, r.email, r.phone, r.company),
            )
            for r in rows
        ]

    async def raise_abandoned(self, events: Sequence[NewEvent], now: datetime) -> int:
        """Queue ``lead.abandoned`` events, one per conversation ever: two workers sweeping at
        once queue each one once (an advisory lock on PostgreSQL, the write lock on SQLite)."""
        if not events:
            return 0
        return await self._units.run(lambda conn: _raise_abandoned(conn, events, now, self._postgres))

    # -- replay --------------------------------------------------------------------------------

    async def redeliver(self, delivery_id: uuid.UUID, now: datetime) -> DeliveryView | None:
        """Queue a delivery again, due now, with a fresh schedule (a leased one is left to its
        worker). None when there is no such delivery of a live endpoint."""
        async with self._writer.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == delivery_id,
                    or_(deliveries.c.status != PENDING, deliveries.c.lease_until.is_(None)),
                    deliveries.c.endpoint_id.in_(select(endpoints.c.id).where(endpoints.c.status != DELETED)),
                )
                .values(
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
        return await self.delivery(delivery_id)

    async def redeliver_range(
        self, endpoint: EndpointRecord, since: datetime, until: datetime, now: datetime
    ) -> int:
        """Queue everything ``endpoint`` missed among the events raised in [since, until): its
        dead-lettered deliveries, and events of the types it takes that it never had (it did not
        exist yet, or did not take that type then). Returns how many deliveries were queued."""
        async with self._writer.begin() as conn:
            requeued = await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.endpoint_id == endpoint.id,
                    deliveries.c.status.in_([FAILED, CANCELLED]),
                    deliveries.c.event_at >= since,
                    deliveries.c.event_at < until,
                )
                .values(
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
            missing = [
                r.id
                for r in (
                    await conn.execute(
                        select(outbox.c.id).where(
                            outbox.c.status == EVENT_DISPATCHED,
                            outbox.c.type.in_(list(endpoint.events)),
                            outbox.c.created_at >= since,
                            outbox.c.created_at < until,
                            ~exists().where(
                                deliveries.c.event_id == outbox.c.id, deliveries.c.endpoint_id == endpoint.id
                            ),
                        )
                    )
                ).all()
            ]
            for chunk in range(0, len(missing), 500):
                await conn.execute(
                    _fan_out_statement(
                        endpoint.id, endpoint.events, missing[chunk : chunk + 500], now, due_now=True
                    )
                )
        return int(requeued.rowcount or 0) + len(missing)

    # -- reading -------------------------------------------------------------------------------

    async def delivery(self, delivery_id: uuid.UUID) -> DeliveryView | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))).first()
        return None if row is None else _delivery_view(row)

    async def attempts_of(self, delivery_id: uuid.UUID) -> list[AttemptView]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(attempts).where(attempts.c.delivery_id == delivery_id).order_by(attempts.c.id)
                )
            ).all()
        return [_attempt_view(r) for r in rows]

    async def deliveries_of_endpoint(
        self,
        endpoint_id: uuid.UUID,
        *,
        status: str | None = None,
        limit: int = 50,
        before: tuple[datetime, uuid.UUID] | None = None,
    ) -> list[DeliveryView]:
        """Newest first; ``before`` is the (event time, id) of the last row of the previous page."""
        query = select(deliveries).where(deliveries.c.endpoint_id == endpoint_id)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        if before is not None:
            query = query.where(
                tuple_(deliveries.c.event_at, deliveries.c.id)
                < tuple_(literal(before[0]), literal(before[1]))
            )
        query = query.order_by(deliveries.c.event_at.desc(), deliveries.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_delivery_view(r) for r in rows]

    async def deliveries_of_lead(self, lead_id: uuid.UUID) -> list[DeliveryView]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(deliveries)
                    .where(deliveries.c.lead_id == lead_id)
                    .order_by(deliveries.c.event_at, deliveries.c.id)
                )
            ).all()
        return [_delivery_view(r) for r in rows]

    async def counts(self) -> dict[str, int]:
        """Deliveries by status (for benchmarks, health and tests)."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(select(deliveries.c.status, func.count()).group_by(deliveries.c.status))
            ).all()
        return {str(r[0]): int(r[1]) for r in rows}

    async def endpoint(self, endpoint_id: uuid.UUID) -> EndpointRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(endpoints).where(endpoints.c.id == endpoint_id))).first()
        return None if row is None else endpoint_record(row)


def _fan_out(conn: Connection, now: datetime, limit: int, live: Sequence[EndpointRecord]) -> int:
    """One delivery per new event and endpoint that takes its type, written by the database
    itself (INSERT ... SELECT, one statement per endpoint): nothing crosses the wire per row.
    The outbox's ``next_attempt_at`` is the time the event was raised, and its index orders them."""
    new_events = list(
        conn.execute(
            select(outbox.c.id)
            .where(outbox.c.status == EVENT_PENDING)
            .order_by(outbox.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not new_events:
        return 0
    for endpoint in live:
        conn.execute(_fan_out_statement(endpoint.id, endpoint.events, new_events, now))
    conn.execute(update(outbox).where(outbox.c.id.in_(new_events)).values(status=EVENT_DISPATCHED))
    return len(new_events)


def _lead_facts(conn: Connection, lead_ids: set[uuid.UUID]) -> dict[uuid.UUID, LeadFacts]:
    wanted = list(lead_ids)
    lead_rows = conn.execute(
        select(
            leads.c.id,
            leads.c.stage,
            leads.c.tier,
            leads.c.score,
            leads.c.name,
            leads.c.email,
            leads.c.phone,
            leads.c.company,
        ).where(leads.c.id.in_(wanted))
    ).all()
    telegram = {
        r.lead_id: r.value
        for r in conn.execute(
            select(identities.c.lead_id, identities.c.value).where(
                identities.c.lead_id.in_(wanted), identities.c.kind == "telegram"
            )
        ).all()
    }
    newest = (
        func.row_number()
        .over(partition_by=engagement.c.lead_id, order_by=engagement.c.id.desc())
        .label("newest")
    )
    recent = (
        select(engagement.c.lead_id, engagement.c.name, engagement.c.data, engagement.c.created_at, newest)
        .where(engagement.c.lead_id.in_(wanted))
        .subquery()
    )
    pages: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for r in conn.execute(
        select(recent).where(recent.c.newest <= PAGES_SHOWN).order_by(recent.c.lead_id, recent.c.newest)
    ).all():
        page = _page(r.name, r.data, r.created_at)
        if page is not None:
            pages.setdefault(r.lead_id, []).append(page)
    return {
        r.id: LeadFacts(
            stage=r.stage,
            tier=r.tier,
            score=r.score,
            name=r.name,
            email=r.email,
            phone=r.phone,
            company=r.company,
            telegram_user_id=telegram.get(r.id),
            pages=tuple(pages.get(r.id, ())),
        )
        for r in lead_rows
    }


# The VALUES list of a batch's attempts. It carries no NULL (PostgreSQL would type a column of
# NULLs as text): no status code is 0 and no error is '', turned back into NULL by NULLIF.
_AFTER_ATTEMPT = (
    column("id", Uuid()),
    column("status", String()),
    column("attempts", Integer()),
    column("next_attempt_at", UTCDateTime()),
    column("status_code", Integer()),
    column("error", String()),
    column("started_at", UTCDateTime()),
)


def _record(
    conn: Connection, owner: str, results: Sequence[AttemptRecord], now: datetime, disable_after: timedelta
) -> None:
    conn.execute(
        insert(attempts).values(
            [
                {
                    "delivery_id": r.delivery_id,
                    "number": r.number,
                    "worker": owner,
                    "started_at": r.started_at,
                    "latency_ms": r.latency_ms,
                    "status_code": r.status_code,
                    "error": r.error,
                    "response_excerpt": r.response_excerpt,
                }
                for r in results
            ]
        )
    )
    # One UPDATE for the whole batch, its rows as a VALUES list (never executemany).
    after = (
        values(*_AFTER_ATTEMPT, name="after")
        .data(
            [
                (
                    r.delivery_id,
                    r.status,
                    r.number,
                    r.next_attempt_at or r.started_at,
                    r.status_code or 0,
                    r.error or "",
                    r.started_at,
                )
                for r in results
            ]
        )
        .cte("after")
    )
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == after.c.id, deliveries.c.lease_owner == owner)
        .values(
            status=after.c.status,
            attempts=after.c.attempts,
            next_attempt_at=after.c.next_attempt_at,
            lease_owner=None,
            lease_until=None,
            last_status_code=func.nullif(after.c.status_code, 0),
            last_error=func.nullif(after.c.error, ""),
            delivered_at=case((after.c.status == DELIVERED, after.c.started_at), else_=None),
            updated_at=now,
        )
    )
    _endpoint_health(conn, results, now, disable_after)


def _endpoint_health(
    conn: Connection, results: Sequence[AttemptRecord], now: datetime, disable_after: timedelta
) -> None:
    last: dict[uuid.UUID, AttemptRecord] = {}
    gone: set[uuid.UUID] = set()
    for r in sorted(results, key=lambda r: r.started_at):
        last[r.endpoint_id] = r
        if r.endpoint_gone:
            gone.add(r.endpoint_id)
    healthy = [e for e, r in last.items() if r.endpoint_ok]
    failing = [e for e, r in last.items() if not r.endpoint_ok]
    if healthy:
        conn.execute(
            update(endpoints)
            .where(endpoints.c.id.in_(healthy), endpoints.c.failing_since.is_not(None))
            .values(failing_since=None, updated_at=now)
        )
    if failing:
        conn.execute(
            update(endpoints)
            .where(endpoints.c.id.in_(failing), endpoints.c.failing_since.is_(None))
            .values(failing_since=now, updated_at=now)
        )
        conn.execute(
            update(endpoints)
            .where(
                endpoints.c.id.in_(failing),
                endpoints.c.status == ACTIVE,
                endpoints.c.failing_since <= now - disable_after,
            )
            .values(
                status=DISABLED,
                disabled_reason=f"every delivery failed for {_duration(disable_after)}",
                updated_at=now,
            )
        )
    if gone:
        conn.execute(
            update(endpoints)
            .where(endpoints.c.id.in_(list(gone)), endpoints.c.status == ACTIVE)
            .values(status=DISABLED, disabled_reason="the endpoint answered 410 Gone", updated_at=now)
        )


def _raise_abandoned(conn: Connection, events: Sequence[NewEvent], now: datetime, postgres: bool) -> int:
    if postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SWEEP_LOCK})
    raised = set(
        conn.execute(
            select(outbox.c.conversation_id).where(
                outbox.c.type == ABANDONED, outbox.c.conversation_id.in_([e.conversation_id for e in events])
            )
        ).scalars()
    )
    fresh = [e for e in events if e.conversation_id not in raised]
    if fresh:
        conn.execute(
            insert(outbox).values(
                [
                    {
                        "id": uuid.uuid4(),
                        "type": e.type,
                        "lead_id": e.lead_id,
                        "conversation_id": e.conversation_id,
                        "payload": e.payload,
                        "status": EVENT_PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for e in fresh
                ]
            )
        )
    return len(fresh)


def _page(name: str, data: Any, at: datetime) -> dict[str, Any] | None:
    """A page the lead saw, from an engagement event that names a URL."""
    if not isinstance(data, dict):
        return None
    url = data.get("url") or data.get("path") or data.get("page_url")
    if not isinstance(url, str) or not url:
        return None
    title = data.get("title")
    return {
        "event": name,
        "url": url,
        "title": title if isinstance(title, str) else None,
        "at": at.isoformat(),
    }


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day" + ("s" if days != 1 else "")
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds} s"
