"""SQL implementations of the ports in ``flows.ports``.

Writes go through the group-commit writer (``storage.writer``): a turn costs the caller no
statement of its own, only a share of one batch transaction. Reads of conversation state are
answered from a per-process cache that every committed write refreshes; a stale entry (another
process saved the conversation meanwhile) cannot do harm, because the write it leads to fails the
batch's version check with ``ConcurrentUpdate``, which also evicts the entry, and the service
retries from a fresh read. Transcript and score views read the database through the ORM, off the
hot path. Nothing here commits on its own behalf outside the writer's unit of work.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import sqlite3
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import exists, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from flows import leads as lead_rules
from flows.errors import ConcurrentUpdate, ConversationNotFound, FlowVersionConflict
from flows.model import JSON, Stage
from flows.ports import (
    CandidateMatch,
    ConversationView,
    Identity,
    LeadContact,
    LeadDetail,
    LeadFilter,
    LeadPage,
    LeadSummary,
    NewConversation,
    ScoreSnapshot,
    StoredConversation,
    StoredMessage,
    TurnWrite,
)
from storage import postgres, sqlite
from storage.batch import lead_record, stored_conversation
from storage.db import (
    asyncpg_dsn,
    connect_timeout,
    dumps_json,
    loads_json,
    make_sessionmaker,
    make_sync_engine,
    writer,
)
from storage.tables import (
    Continuation,
    Conversation,
    EngagementEvent,
    FlowVersion,
    InboundKey,
    Lead,
    LeadIdentity,
    LeadMatch,
    Message,
    ScoreSnapshotRow,
)
from storage.writer import GroupCommitWriter, WriterStats

T = TypeVar("T")


class KeyReader:
    """Reads by key on the hot path, each run in one go.

    On SQLite a read by key takes tens of microseconds in C, while every statement through aiosqlite
    costs several hand-overs to its thread, each waiting for a busy event loop, and SQLAlchemy's
    own work per statement costs more than SQLite's; so SQLite reads by key run on one reader thread
    of their own, on one ``sqlite3`` connection (in autocommit: a single SELECT needs no BEGIN), one
    hand-over per read. PostgreSQL reads go straight to asyncpg on the caller's loop, on a small pool
    of the reader's own: through SQLAlchemy's async engine a read by key cost ~1 ms of CPU (pool
    checkout, greenlet, result processing), through asyncpg alone ~0.3 ms."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._sync: Engine | None = None
        self._raw: Any = None
        self._thread: ThreadPoolExecutor | None = None
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()
        self.reads = 0

    async def run_postgres(self, read: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``read`` with an ``asyncpg`` connection of the reader's pool (PostgreSQL)."""
        self.reads += 1
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    url = self._engine.url
                    self._pool = await asyncpg.create_pool(
                        asyncpg_dsn(url), min_size=1, max_size=READ_POOL_SIZE, timeout=connect_timeout(url)
                    )
        async with self._pool.acquire() as conn:
            return await read(conn)

    async def run_sqlite(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``read`` with the reader thread's ``sqlite3`` connection (SQLite)."""
        self.reads += 1
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qualibot-reader")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run_sqlite, read)

    def _run_sqlite(self, read: Callable[[sqlite3.Connection], T]) -> T:
        if self._raw is None:
            self._sync = make_sync_engine(self._engine.url)
            self._raw = self._sync.raw_connection()
        connection: sqlite3.Connection = self._raw.driver_connection
        return read(connection)

    def _close_sqlite(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        if self._sync is not None:
            self._sync.dispose()
            self._sync = None

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.get_running_loop().run_in_executor(thread, self._close_sqlite)
            thread.shutdown(wait=True)


READ_POOL_SIZE = 4


class SqlConversationStore:
    """``flows.ports.ConversationStore`` over SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, *, cache_size: int = 50_000, max_batch: int = 500) -> None:
        self._engine = engine
        self._sessions = make_sessionmaker(engine)
        self._writer = GroupCommitWriter(engine.url, max_batch=max_batch)
        self._reader = KeyReader(engine)
        self._cache: OrderedDict[uuid.UUID, StoredConversation] = OrderedDict()
        self._cache_size = cache_size
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def stats(self) -> WriterStats:
        return self._writer.stats

    @property
    def writer(self) -> GroupCommitWriter:
        """The one writer of this process's conversations, for the web adapter's tokens."""
        return self._writer

    @property
    def key_reads(self) -> int:
        """Reads that went to the database (cache misses and returning-lead look-ups)."""
        return self._reader.reads

    async def aclose(self) -> None:
        """Finish the queued writes; the engine stays open (its owner disposes of it)."""
        await self._writer.aclose()
        await self._reader.aclose()

    async def find_lead(self, identities: Sequence[Identity]) -> uuid.UUID | None:
        if not identities:
            return None
        if self._reader.sqlite:
            return await self._reader.run_sqlite(lambda db: sqlite.find_lead(db, identities))
        return await self._reader.run_postgres(lambda db: postgres.find_lead(db, identities))

    async def create(self, new: NewConversation) -> StoredConversation:
        stored = await self._writer.submit(new)
        self._remember(stored)
        return stored

    async def load(self, conversation_id: uuid.UUID) -> StoredConversation | None:
        cached = self._cache.get(conversation_id)
        if cached is not None:
            self._cache.move_to_end(conversation_id)
            self.cache_hits += 1
            return cached
        self.cache_misses += 1
        if self._reader.sqlite:
            loaded = await self._reader.run_sqlite(lambda db: sqlite.load(db, conversation_id))
        else:
            loaded = await self._reader.run_postgres(lambda db: postgres.load(db, conversation_id))
        if loaded is not None:
            self._remember(loaded)
        return loaded

    async def save_turn(self, turn: TurnWrite) -> StoredConversation:
        try:
            stored = await self._writer.submit(turn)
        except ConcurrentUpdate:
            self._cache.pop(turn.conversation_id, None)
            raise
        self._remember(stored)
        return stored

    def forget(self, conversation_id: uuid.UUID) -> None:
        self._cache.pop(conversation_id, None)

    def _remember(self, stored: StoredConversation) -> None:
        known = self._cache.get(stored.id)
        if known is not None and known.version > stored.version:
            return
        self._cache[stored.id] = stored
        self._cache.move_to_end(stored.id)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def view(self, conversation_id: uuid.UUID) -> ConversationView | None:
        async with self._sessions() as session:
            row = await session.get(Conversation, conversation_id, populate_existing=True)
            if row is None:
                return None
            return await conversation_view(session, row)

    async def replay(self, idempotency_key: str) -> JSON | None:
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(select(InboundKey.result).where(InboundKey.key == idempotency_key))
            ).scalar_one_or_none()
        return None if found is None else dict(found)

    async def find_conversation(self, identity: Identity, *, open_only: bool) -> uuid.UUID | None:
        query = (
            select(Conversation.id)
            .join(LeadIdentity, LeadIdentity.lead_id == Conversation.lead_id)
            .where(LeadIdentity.kind == identity.kind, LeadIdentity.value == identity.value)
            .order_by(Conversation.updated_at.desc())
            .limit(1)
        )
        if open_only:
            query = query.where(Conversation.stage == Stage.IN_PROGRESS.value)
        async with self._engine.connect() as conn:
            found: uuid.UUID | None = (await conn.execute(query)).scalar_one_or_none()
        return found

    async def save_continuation(
        self, token_hash: str, conversation_id: uuid.UUID, expires_at: datetime, at: datetime
    ) -> None:
        async with writer(self._engine).begin() as conn:
            known = await conn.scalar(select(Conversation.id).where(Conversation.id == conversation_id))
            if known is None:
                raise ConversationNotFound(conversation_id)
            await conn.execute(
                insert(Continuation).values(
                    token_hash=token_hash,
                    conversation_id=conversation_id,
                    expires_at=expires_at,
                    created_at=at,
                )
            )

    async def redeem_continuation(
        self, token_hash: str, identity: Identity, at: datetime
    ) -> StoredConversation | None:
        async with writer(self._engine).begin() as conn:
            used = await conn.execute(
                update(Continuation)
                .where(
                    Continuation.token_hash == token_hash,
                    Continuation.used_at.is_(None),
                    Continuation.expires_at > at,
                )
                .values(used_at=at)
                .returning(Continuation.conversation_id)
            )
            conversation_id = used.scalar_one_or_none()
            if conversation_id is None:
                return None
            lead_id = await conn.scalar(
                select(Conversation.lead_id).where(Conversation.id == conversation_id)
            )
            assert lead_id is not None  # the foreign key keeps the conversation
            moved = await _link_strong(conn, identity, lead_id, at)
        for cid, cached in list(self._cache.items()):
            if cached.lead_id in moved or cid == conversation_id:
                self.forget(cid)
        return await self.load(conversation_id)


async def _link_strong(
    conn: AsyncConnection, identity: Identity, lead_id: uuid.UUID, at: datetime
) -> set[uuid.UUID]:
    """Make a channel identity ``lead_id``'s, merging the lead that owned it (``flows.leads``);
    returns the leads merged away."""
    owner = await conn.scalar(
        select(LeadIdentity.lead_id).where(
            LeadIdentity.kind == identity.kind, LeadIdentity.value == identity.value
        )
    )
    how = lead_rules.link(identity, owner, lead_id)
    if how is lead_rules.Link.ATTACH:
        await conn.execute(
            insert(LeadIdentity).values(
                kind=identity.kind, value=identity.value, lead_id=lead_id, created_at=at
            )
        )
        return set()
    if how is not lead_rules.Link.MERGE or owner is None:
        return set()
    rows = (await conn.execute(select(*_LEAD_READ).where(Lead.id.in_([lead_id, owner])))).mappings().all()
    first, second = (lead_record(dict(row)) for row in rows)
    survivor, merged = lead_rules.merge(first, second)
    contact = survivor.contact
    await conn.execute(
        update(Lead)
        .where(Lead.id == survivor.id)
        .values(
            name=contact.name,
            email=contact.email,
            phone=contact.phone,
            company=contact.company,
            updated_at=at,
        )
    )
    for model in (LeadIdentity, Conversation, ScoreSnapshotRow, EngagementEvent):
        await conn.execute(update(model).where(model.lead_id == merged.id).values(lead_id=survivor.id))
    await conn.execute(update(LeadMatch).where(LeadMatch.lead_id == merged.id).values(lead_id=survivor.id))
    await conn.execute(
        update(LeadMatch).where(LeadMatch.other_lead_id == merged.id).values(other_lead_id=survivor.id)
    )
    await conn.execute(
        update(Lead).where(Lead.id == merged.id).values(merged_into=survivor.id, updated_at=at)
    )
    return {merged.id}


_LEAD_READ = (
    Lead.id,
    Lead.stage,
    Lead.score,
    Lead.tier,
    Lead.name,
    Lead.email,
    Lead.phone,
    Lead.company,
    Lead.created_at,
    Lead.outcome_at,
)


async def conversation_view(session: AsyncSession, row: Conversation) -> ConversationView:
    """A conversation with its transcript and latest score (the service adds what is waiting)."""
    transcript = (
        await session.scalars(select(Message).where(Message.conversation_id == row.id).order_by(Message.id))
    ).all()
    snapshot = (
        await session.scalars(
            select(ScoreSnapshotRow)
            .where(ScoreSnapshotRow.conversation_id == row.id)
            .order_by(ScoreSnapshotRow.id.desc())
            .limit(1)
        )
    ).first()
    stored = stored_conversation(
        {
            "id": row.id,
            "lead_id": row.lead_id,
            "channel": row.channel,
            "flow_id": row.flow_id,
            "flow_version": row.flow_version,
            "version": row.version,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        },
        row.state,
    )
    score = (
        None
        if snapshot is None
        else ScoreSnapshot(
            total=snapshot.total,
            fit=snapshot.fit,
            engagement=snapshot.engagement,
            stage=Stage(snapshot.stage),
            tier=snapshot.tier,
            breakdown=tuple(snapshot.breakdown),
        )
    )
    lines = tuple(
        StoredMessage(
            seq=m.id,
            direction="in" if m.direction == "in" else "out",
            kind=m.kind,
            text=m.text,
            payload=m.payload,
            created_at=m.created_at,
        )
        for m in transcript
    )
    return ConversationView(conversation=stored, transcript=lines, score=score)


class SqlLeadReader:
    """``flows.ports.LeadReader``: leads for operators, newest first, paged by a keyset cursor."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = make_sessionmaker(engine)

    async def leads(self, filter: LeadFilter, *, limit: int, cursor: str | None) -> LeadPage:
        query = select(Lead, *_summary_columns()).where(Lead.merged_into.is_(None))
        if filter.stage is not None:
            query = query.where(Lead.stage == filter.stage.value)
        if filter.tier is not None:
            query = query.where(Lead.tier == filter.tier)
        if filter.flow_id is not None:
            query = query.where(
                exists().where(Conversation.lead_id == Lead.id, Conversation.flow_id == filter.flow_id)
            )
        if filter.channel is not None:
            query = query.where(
                exists().where(Conversation.lead_id == Lead.id, Conversation.channel == filter.channel)
            )
        if filter.since is not None:
            query = query.where(Lead.created_at >= filter.since)
        if filter.until is not None:
            query = query.where(Lead.created_at < filter.until)
        if cursor is not None:
            at, lead_id = _read_cursor(cursor)
            query = query.where(tuple_(Lead.created_at, Lead.id) < tuple_(at, lead_id))
        query = query.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit + 1)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        items = tuple(_summary(*tuple(row)) for row in rows[:limit])
        more = len(rows) > limit
        return LeadPage(items, _cursor(items[-1]) if more and items else None)

    async def lead(self, lead_id: uuid.UUID) -> LeadDetail | None:
        async with self._sessions() as session:
            for _ in range(8):  # a merged lead is shown as the lead it was merged into
                found = (
                    await session.execute(select(Lead, *_summary_columns()).where(Lead.id == lead_id))
                ).first()
                if found is None:
                    return None
                if found[0].merged_into is None:
                    break
                lead_id = found[0].merged_into
            else:
                return None
            summary = _summary(*tuple(found))
            idents = (
                await session.execute(
                    select(LeadIdentity.kind, LeadIdentity.value)
                    .where(LeadIdentity.lead_id == lead_id)
                    .order_by(LeadIdentity.id)
                )
            ).all()
            rows = (
                await session.scalars(
                    select(Conversation)
                    .where(Conversation.lead_id == lead_id)
                    .order_by(Conversation.created_at)
                )
            ).all()
            views = [await conversation_view(session, row) for row in rows]
            matches = (
                await session.scalars(
                    select(LeadMatch)
                    .where(or_(LeadMatch.lead_id == lead_id, LeadMatch.other_lead_id == lead_id))
                    .order_by(LeadMatch.id)
                )
            ).all()
        candidates = tuple(
            CandidateMatch(
                lead_id=m.other_lead_id if m.lead_id == lead_id else m.lead_id,
                identity=Identity(m.kind, m.value),
                conversation_id=m.conversation_id,
                created_at=m.created_at,
            )
            for m in matches
        )
        return LeadDetail(summary, tuple(Identity(k, v) for k, v in idents), tuple(views), candidates)


def _summary_columns() -> tuple[Any, ...]:
    latest = (
        select(Conversation).where(Conversation.lead_id == Lead.id).order_by(Conversation.updated_at.desc())
    )
    return (
        latest.with_only_columns(Conversation.flow_id).limit(1).scalar_subquery(),
        latest.with_only_columns(Conversation.channel).limit(1).scalar_subquery(),
        select(func.count()).where(Conversation.lead_id == Lead.id).scalar_subquery(),
        select(func.count())
        .where(or_(LeadMatch.lead_id == Lead.id, LeadMatch.other_lead_id == Lead.id))
        .scalar_subquery(),
    )


def _summary(
    lead: Lead, flow_id: str | None, channel: str | None, conversations: int, candidates: int
) -> LeadSummary:
    return LeadSummary(
        id=lead.id,
        stage=Stage(lead.stage),
        score=lead.score,
        tier=lead.tier,
        contact=LeadContact(lead.name, lead.email, lead.phone, lead.company),
        flow_id=flow_id,
        channel=channel,
        conversations=int(conversations),
        candidates=int(candidates),
        created_at=lead.created_at,
        updated_at=lead.updated_at,
        outcome_at=lead.outcome_at,
        outcome_reason=lead.outcome_reason,
    )


def _cursor(last: LeadSummary) -> str:
    raw = dumps_json({"at": last.created_at.isoformat(), "id": last.id.hex}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = loads_json(raw)
        at = datetime.fromisoformat(data["at"])
        if at.tzinfo is None:
            raise ValueError("naive time")
        return at.astimezone(UTC), uuid.UUID(hex=data["id"])
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise ValueError("not a cursor from a previous page") from exc


class SqlFlowVersionStore:
    """``flows.ports.FlowVersionStore``: the exact sources of the flow versions in use."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    async def record(self, flow_id: str, version: int, sha256: str, source: str) -> None:
        table = FlowVersion.__table__
        values = {
            "flow_id": flow_id,
            "version": version,
            "sha256": sha256,
            "source": source,
            "created_at": datetime.now(UTC),
        }
        dialect = postgresql_dialect if self._engine.dialect.name == "postgresql" else sqlite_dialect
        statement = dialect.insert(table).values(**values).on_conflict_do_nothing()
        async with self._writer.begin() as conn:
            await conn.execute(statement)
            kept = (
                await conn.execute(
                    select(table.c.sha256).where(table.c.flow_id == flow_id, table.c.version == version)
                )
            ).scalar_one()
        if kept != sha256:
            raise FlowVersionConflict(flow_id, version)

    async def source(self, flow_id: str, version: int) -> str | None:
        table = FlowVersion.__table__
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(
                    select(table.c.source).where(table.c.flow_id == flow_id, table.c.version == version)
                )
            ).scalar_one_or_none()
        return None if found is None else str(found)
