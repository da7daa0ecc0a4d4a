"""Group commit: one writer task saves the turns of many visitors in one transaction.

Every statement through an async driver costs a round trip (a thread hop with aiosqlite, a network
round trip with asyncpg) and every commit costs a flush to disk. So turns are not written one by
one: callers queue their write and wait; the writer takes everything queued, and in ONE write
transaction (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL) checks the
versions of the whole batch with one SELECT, then writes each table once with executemany. A
caller's future resolves only after COMMIT, so an answered turn is a durable turn. While one batch
commits, the next one gathers, so batches grow with load by themselves and no timer is needed.

If a batch fails (a constraint, an injected fault), its operations are retried one transaction
each, so a bad write fails alone and never takes its neighbours down with it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flows.errors import ConcurrentUpdate, ConversationNotFound
from flows.model import Stage
from flows.ports import Identity, NewConversation, StoredConversation, TurnWrite
from storage.db import writer as write_engine
from storage.tables import (
    Conversation,
    EngagementEvent,
    Lead,
    LeadIdentity,
    Message,
    OutboxEvent,
    ScoreSnapshotRow,
)

Op = NewConversation | TurnWrite
Outcome = StoredConversation | Exception

conversations = cast(Table, Conversation.__table__)
leads = cast(Table, Lead.__table__)
identities = cast(Table, LeadIdentity.__table__)
messages = cast(Table, Message.__table__)
snapshots = cast(Table, ScoreSnapshotRow.__table__)
engagement_events = cast(Table, EngagementEvent.__table__)
outbox = cast(Table, OutboxEvent.__table__)

_UPDATE_CONVERSATION = (
    update(conversations)
    .where(conversations.c.id == bindparam("b_id"), conversations.c.version == bindparam("b_expected"))
    .values(
        state=bindparam("state"),
        version=bindparam("version"),
        stage=bindparam("stage"),
        lead_id=bindparam("lead_id"),
        updated_at=bindparam("updated_at"),
    )
)

_UPDATE_LEAD = (
    update(leads)
    .where(leads.c.id == bindparam("b_id"))
    .values(
        stage=func.coalesce(bindparam("stage", type_=leads.c.stage.type), leads.c.stage),
        score=func.coalesce(bindparam("score", type_=leads.c.score.type), leads.c.score),
        tier=func.coalesce(bindparam("tier", type_=leads.c.tier.type), leads.c.tier),
        name=func.coalesce(bindparam("name", type_=leads.c.name.type), leads.c.name),
        email=func.coalesce(bindparam("email", type_=leads.c.email.type), leads.c.email),
        phone=func.coalesce(bindparam("phone", type_=leads.c.phone.type), leads.c.phone),
        company=func.coalesce(bindparam("company", type_=leads.c.company.type), leads.c.company),
        updated_at=bindparam("updated_at"),
    )
)


@dataclass(slots=True)
class WriterStats:
    """What the writer did, for benchmarks and logs: a turn costs ``statements / ops`` statements
    and one commit per ``ops / batches`` turns."""

    batches: int = 0
    ops: int = 0
    statements: int = 0
    fallbacks: int = 0
    largest_batch: int = 0


@dataclass(slots=True)
class _Row:
    """What the batch knows of one stored conversation while it applies the batch."""

    lead_id: uuid.UUID
    channel: str
    flow_id: str
    flow_version: int
    version: int
    created_at: datetime


@dataclass(slots=True)
class _Plan:
    """The rows one batch writes, table by table."""

    leads: list[dict[str, Any]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    conversations: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    engagement: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    lead_updates: list[dict[str, Any]] = field(default_factory=list)
    merges: list[tuple[uuid.UUID, uuid.UUID, datetime]] = field(default_factory=list)


class GroupCommitWriter:
    def __init__(self, engine: AsyncEngine, *, max_batch: int = 500) -> None:
        self._engine = write_engine(engine)
        self._postgres = engine.dialect.name == "postgresql"
        self._max_batch = max_batch
        self._queue: list[tuple[Op, asyncio.Future[StoredConversation]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.stats = WriterStats()

    async def submit(self, op: Op) -> StoredConversation:
        """Queue one write; returns once it is committed (or raises why it was not)."""
        if self._closing:
            raise RuntimeError("the writer is closed")
        future: asyncio.Future[StoredConversation] = asyncio.get_running_loop().create_future()
        self._queue.append((op, future))
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="qualibot-group-commit")
        self._wake.set()
        return await future

    async def aclose(self) -> None:
        """Write what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._write(batch)
            if self._closing:
                return

    async def _write(self, batch: list[tuple[Op, asyncio.Future[StoredConversation]]]) -> None:
        try:
            outcomes = await self._commit([op for op, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            self.stats.fallbacks += 1
            for item in batch:
                await self._write([item])
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)

    async def _commit(self, ops: Sequence[Op]) -> list[Outcome]:
        self.stats.batches += 1
        self.stats.ops += len(ops)
        self.stats.largest_batch = max(self.stats.largest_batch, len(ops))
        async with self._engine.begin() as conn:
            rows = await self._lock_rows(conn, ops)
            owners = await self._owners(conn, ops)
            plan = _Plan()
            outcomes = [self._plan(op, rows, owners, plan) for op in ops]
            await self._apply(conn, plan)
        return outcomes

    async def _lock_rows(self, conn: AsyncConnection, ops: Sequence[Op]) -> dict[uuid.UUID, _Row]:
        ids = sorted({op.conversation_id for op in ops if isinstance(op, TurnWrite)})
        if not ids:
            return {}
        c = conversations.c
        query = select(c.id, c.lead_id, c.channel, c.flow_id, c.flow_version, c.version, c.created_at).where(
            c.id.in_(ids)
        )
        if self._postgres:
            query = query.order_by(c.id).with_for_update()
        self.stats.statements += 1
        result = await conn.execute(query)
        return {
            r.id: _Row(r.lead_id, r.channel, r.flow_id, r.flow_version, r.version, r.created_at)
            for r in result
        }

    async def _owners(self, conn: AsyncConnection, ops: Sequence[Op]) -> dict[Identity, uuid.UUID]:
        wanted = {i for op in ops for i in op.identities}
        if not wanted:
            return {}
        c = identities.c
        self.stats.statements += 1
        result = await conn.execute(
            select(c.kind, c.value, c.lead_id).where(
                tuple_(c.kind, c.value).in_([(i.kind, i.value) for i in wanted])
            )
        )
        return {Identity(r.kind, r.value): r.lead_id for r in result}

    def _plan(
        self, op: Op, rows: dict[uuid.UUID, _Row], owners: dict[Identity, uuid.UUID], plan: _Plan
    ) -> Outcome:
        if isinstance(op, NewConversation):
            return self._plan_create(op, rows, owners, plan)
        return self._plan_turn(op, rows, owners, plan)

    def _plan_create(
        self, op: NewConversation, rows: dict[uuid.UUID, _Row], owners: dict[Identity, uuid.UUID], plan: _Plan
    ) -> Outcome:
        lead_id = next((owners[i] for i in op.identities if i in owners), None)
        if lead_id is None:
            lead_id = uuid.uuid4()
            plan.leads.append(
                {"id": lead_id, "stage": op.state.stage.value, "created_at": op.at, "updated_at": op.at}
            )
        for ident in op.identities:
            if ident not in owners:
                owners[ident] = lead_id
                plan.identities.append(
                    {"kind": ident.kind, "value": ident.value, "lead_id": lead_id, "created_at": op.at}
                )
        state = op.state
        plan.conversations.append(
            {
                "id": op.id,
                "lead_id": lead_id,
                "channel": op.channel,
                "flow_id": state.flow_id,
                "flow_version": state.flow_version,
                "stage": state.stage.value,
                "version": 1,
                "state": state.to_json(),
                "created_at": op.at,
                "updated_at": op.at,
            }
        )
        rows[op.id] = _Row(lead_id, op.channel, state.flow_id, state.flow_version, 1, op.at)
        _plan_messages(op.id, op.messages, op.at, plan)
        return StoredConversation(
            id=op.id,
            lead_id=lead_id,
            channel=op.channel,
            flow_id=state.flow_id,
            flow_version=state.flow_version,
            version=1,
            state=state,
            created_at=op.at,
            updated_at=op.at,
        )

    def _plan_turn(
        self, op: TurnWrite, rows: dict[uuid.UUID, _Row], owners: dict[Identity, uuid.UUID], plan: _Plan
    ) -> Outcome:
        row = rows.get(op.conversation_id)
        if row is None:
            return ConversationNotFound(op.conversation_id)
        if row.version != op.expected_version:
            return ConcurrentUpdate(op.conversation_id, op.expected_version)
        for ident in op.identities:
            owner = owners.get(ident)
            if owner is None:
                owners[ident] = row.lead_id
                plan.identities.append(
                    {"kind": ident.kind, "value": ident.value, "lead_id": row.lead_id, "created_at": op.at}
                )
            elif owner != row.lead_id:
                _merge(row.lead_id, owner, op.at, rows, owners, plan)
        row.version = op.expected_version + 1
        state = op.state
        plan.updates.append(
            {
                "b_id": op.conversation_id,
                "b_expected": op.expected_version,
                "state": state.to_json(),
                "version": row.version,
                "stage": state.stage.value,
                "lead_id": row.lead_id,
                "updated_at": op.at,
            }
        )
        _plan_messages(op.conversation_id, op.messages, op.at, plan)
        base = {"conversation_id": op.conversation_id, "lead_id": row.lead_id, "created_at": op.at}
        if op.score is not None:
            s = op.score
            plan.snapshots.append(
                base
                | {
                    "total": s.total,
                    "fit": s.fit,
                    "engagement": s.engagement,
                    "stage": s.stage.value,
                    "tier": s.tier,
                    "breakdown": list(s.breakdown),
                }
            )
        plan.engagement.extend(base | {"name": e.name, "data": e.data} for e in op.engagement)
        plan.outbox.extend(
            base
            | {
                "id": uuid.uuid4(),
                "type": o.type,
                "payload": o.payload | {"lead_id": str(row.lead_id)},
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": op.at,
            }
            for o in op.outbox
        )
        contact = op.contact
        if op.score is not None or contact is not None:
            plan.lead_updates.append(
                {
                    "b_id": row.lead_id,
                    "stage": state.stage.value if state.stage is not Stage.NEW else None,
                    "score": op.score.total if op.score is not None else None,
                    "tier": op.score.tier if op.score is not None else None,
                    "name": contact.name if contact else None,
                    "email": contact.email if contact else None,
                    "phone": contact.phone if contact else None,
                    "company": contact.company if contact else None,
                    "updated_at": op.at,
                }
            )
        return StoredConversation(
            id=op.conversation_id,
            lead_id=row.lead_id,
            channel=row.channel,
            flow_id=row.flow_id,
            flow_version=row.flow_version,
            version=row.version,
            state=state,
            created_at=row.created_at,
            updated_at=op.at,
        )

    async def _apply(self, conn: AsyncConnection, plan: _Plan) -> None:
        steps: list[tuple[Any, list[dict[str, Any]]]] = [
            (insert(leads), plan.leads),
            (insert(identities), plan.identities),
            (insert(conversations), plan.conversations),
            (_UPDATE_CONVERSATION, plan.updates),
            (insert(messages), plan.messages),
            (insert(snapshots), plan.snapshots),
            (insert(engagement_events), plan.engagement),
            (insert(outbox), plan.outbox),
            (_UPDATE_LEAD, plan.lead_updates),
        ]
        for statement, params in steps:
            if params:
                self.stats.statements += 1
                await conn.execute(statement, params)
        for source, target, at in plan.merges:
            self.stats.statements += 3
            for table in (identities, conversations):
                await conn.execute(update(table).where(table.c.lead_id == source).values(lead_id=target))
            await conn.execute(
                update(leads).where(leads.c.id == source).values(merged_into=target, updated_at=at)
            )


def _plan_messages(conversation_id: uuid.UUID, records: Sequence[Any], at: datetime, plan: _Plan) -> None:
    plan.messages.extend(
        {
            "conversation_id": conversation_id,
            "direction": m.direction,
            "kind": m.kind,
            "text": m.text,
            "payload": m.payload,
            "created_at": at,
        }
        for m in records
    )


def _merge(
    source: uuid.UUID,
    target: uuid.UUID,
    at: datetime,
    rows: dict[uuid.UUID, _Row],
    owners: dict[Identity, uuid.UUID],
    plan: _Plan,
) -> None:
    """The person behind lead ``source`` turned out to be lead ``target`` (same e-mail or phone):
    their identities and conversations move to ``target``; ``source`` points to it."""
    plan.merges.append((source, target, at))
    for row in rows.values():
        if row.lead_id == source:
            row.lead_id = target
    for ident, owner in owners.items():
        if owner == source:
            owners[ident] = target
    for row_params in plan.identities:
        if row_params["lead_id"] == source:
            row_params["lead_id"] = target


def _settle(future: asyncio.Future[StoredConversation], outcome: Outcome) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
