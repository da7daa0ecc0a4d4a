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
import sqlite3
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.errors import ConcurrentUpdate, FlowVersionConflict
from flows.model import ConversationState, Stage
from flows.ports import (
    ConversationView,
    Identity,
    NewConversation,
    ScoreSnapshot,
    StoredConversation,
    StoredMessage,
    TurnWrite,
)
from storage.db import loads_json, make_sessionmaker, make_sync_engine, writer
from storage.tables import Conversation, FlowVersion, Message, ScoreSnapshotRow
from storage.writer import GroupCommitWriter, WriterStats, sqlite_time

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
                    dsn = self._engine.url.set(drivername="postgresql")
                    self._pool = await asyncpg.create_pool(
                        dsn.render_as_string(hide_password=False), min_size=1, max_size=READ_POOL_SIZE
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

# The two hot reads on PostgreSQL, straight to asyncpg (ids come back as asyncpg's own UUID type,
# JSON as text, times as aware datetimes).
_POSTGRES_FIND_LEAD = (
    "SELECT lead_id FROM lead_identities WHERE (kind, value) IN "
    "(SELECT * FROM unnest($1::text[], $2::text[])) LIMIT 1"
)
_POSTGRES_LOAD = (
    "SELECT id, lead_id, channel, flow_id, flow_version, version, state, created_at, updated_at "
    "FROM conversations WHERE id = $1"
)


async def _postgres_find_lead(db: Any, identities: Sequence[Identity]) -> uuid.UUID | None:
    found = await db.fetchval(
        _POSTGRES_FIND_LEAD, [i.kind for i in identities], [i.value for i in identities]
    )
    return None if found is None else uuid.UUID(bytes=found.bytes)


async def _postgres_load(db: Any, conversation_id: uuid.UUID) -> StoredConversation | None:
    row = await db.fetchrow(_POSTGRES_LOAD, conversation_id)
    if row is None:
        return None
    return StoredConversation(
        id=uuid.UUID(bytes=row[0].bytes),
        lead_id=uuid.UUID(bytes=row[1].bytes),
        channel=row[2],
        flow_id=row[3],
        flow_version=row[4],
        version=row[5],
        state=ConversationState.from_json(loads_json(row[6])),
        created_at=row[7],
        updated_at=row[8],
    )


# The SQL SQLAlchemy sends for the two hot reads, straight to sqlite3; values come back as the
# column types store them on SQLite (UUIDs as hex, JSON as text, UTC times as text).
_SQLITE_FIND_LEAD = "SELECT lead_id FROM lead_identities WHERE kind = ? AND value = ?"
_SQLITE_LOAD = (
    "SELECT id, lead_id, channel, flow_id, flow_version, version, state, created_at, updated_at "
    "FROM conversations WHERE id = ?"
)


def _sqlite_find_lead(db: sqlite3.Connection, identities: Sequence[Identity]) -> uuid.UUID | None:
    for ident in identities:
        row = db.execute(_SQLITE_FIND_LEAD, (ident.kind, ident.value)).fetchone()
        if row is not None:
            return uuid.UUID(hex=row[0])
    return None


def _sqlite_load(db: sqlite3.Connection, conversation_id: uuid.UUID) -> StoredConversation | None:
    row = db.execute(_SQLITE_LOAD, (conversation_id.hex,)).fetchone()
    if row is None:
        return None
    return StoredConversation(
        id=uuid.UUID(hex=row[0]),
        lead_id=uuid.UUID(hex=row[1]),
        channel=row[2],
        flow_id=row[3],
        flow_version=row[4],
        version=row[5],
        state=ConversationState.from_json(loads_json(row[6])),
        created_at=sqlite_time(row[7]),
        updated_at=sqlite_time(row[8]),
    )


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
            return await self._reader.run_sqlite(lambda db: _sqlite_find_lead(db, identities))
        return await self._reader.run_postgres(lambda db: _postgres_find_lead(db, identities))

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
            loaded = await self._reader.run_sqlite(lambda db: _sqlite_load(db, conversation_id))
            if loaded is not None:
                self._remember(loaded)
            return loaded
        stored = await self._reader.run_postgres(lambda db: _postgres_load(db, conversation_id))
        if stored is None:
            return None
        self._remember(stored)
        return stored

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
            transcript = (
                await session.scalars(
                    select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
                )
            ).all()
            snapshot = (
                await session.scalars(
                    select(ScoreSnapshotRow)
                    .where(ScoreSnapshotRow.conversation_id == conversation_id)
                    .order_by(ScoreSnapshotRow.id.desc())
                    .limit(1)
                )
            ).first()
        stored = StoredConversation(
            id=row.id,
            lead_id=row.lead_id,
            channel=row.channel,
            flow_id=row.flow_id,
            flow_version=row.flow_version,
            version=row.version,
            state=ConversationState.from_json(row.state),
            created_at=row.created_at,
            updated_at=row.updated_at,
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
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
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
