"""Group commit: one writer saves the turns of many visitors in one transaction.

Every statement through an async driver costs a hand-over between threads or a network round trip,
and each one waits its turn on a busy event loop; every commit costs a flush. So turns are not
written one by one: callers queue their write and wait; the writer takes everything queued and, in
ONE write transaction (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL),
checks the versions of the whole batch with one SELECT, then writes each table once with
executemany. It runs on a thread of its own, so a whole batch costs the callers' event loop one
hand-over, not one per statement. A caller's future resolves only after COMMIT: an answered turn
is a durable turn. While one batch commits the next one gathers, so batches grow with the load by
themselves and no timer is needed.

If a batch fails (a constraint, an injected fault), its writes are retried one transaction each,
so a bad write fails alone and never takes its neighbours down with it.
"""

from __future__ import annotations

import asyncio
import functools
import operator
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    Table,
    Uuid,
    bindparam,
    func,
    insert,
    update,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.errors import ConcurrentUpdate, ConversationNotFound
from flows.model import Stage
from flows.ports import Identity, NewConversation, RandomIds, StoredConversation, TurnWrite
from storage.db import WRITE, dumps_json, loads_json, make_engine, make_sync_engine, writer
from storage.tables import (
    Conversation,
    EngagementEvent,
    Lead,
    LeadIdentity,
    Message,
    OutboxEvent,
    ScoreSnapshotRow,
    UTCDateTime,
)

Op = NewConversation | TurnWrite
Outcome = StoredConversation | Exception
_Item = tuple[Op, "asyncio.Future[StoredConversation]", asyncio.AbstractEventLoop]

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
    and one commit per ``ops / batches`` turns; ``cpu_seconds`` is the CPU time of the writer's
    thread spent on batches (Python and the database driver's own work)."""

    batches: int = 0
    ops: int = 0
    statements: int = 0
    fallbacks: int = 0
    largest_batch: int = 0
    cpu_seconds: float = 0.0


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
    lead_updates: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    merges: list[tuple[uuid.UUID, uuid.UUID, datetime]] = field(default_factory=list)


class GroupCommitWriter:
    """Saves the writes of all callers of one process, a batch per transaction, on a thread of its
    own: a batch costs the callers' event loop one hand-over out and one back, however many
    statements it runs. SQLite is written through the standard ``sqlite3`` module on that thread
    (no further thread hops); PostgreSQL through asyncpg on a private event loop of that thread."""

    def __init__(self, url: str | URL, *, max_batch: int = 500) -> None:
        self._url = make_url(url)
        self._postgres = self._url.get_backend_name() == "postgresql"
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._new_id = RandomIds()
        self.stats = WriterStats()

    async def submit(self, op: Op) -> StoredConversation:
        """Queue one write; returns once it is committed (or raises why it was not)."""
        if self._closing:
            raise RuntimeError("the writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredConversation] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="qualibot-writer", daemon=True)
            self._thread.start()
        self._queue.put((op, future, loop))
        return await future

    async def aclose(self) -> None:
        """Write what is queued, then stop the thread."""
        self._closing = True
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def _main(self) -> None:
        try:
            if self._postgres:
                self._main_postgres()
            else:
                self._main_sqlite()
        except Exception as exc:
            # The writer could not even be set up: answer every write, now and later, with why.
            failure = exc

            def fail(_ops: Sequence[Op]) -> list[Outcome]:
                raise failure

            self._serve(fail)

    def _main_postgres(self) -> None:
        loop = asyncio.new_event_loop()
        engine = writer(make_engine(self._url, pool_size=1))
        try:
            self._serve(lambda ops: loop.run_until_complete(self._transaction_async(engine, ops)))
        finally:
            loop.run_until_complete(engine.dispose())
            loop.close()

    def _main_sqlite(self) -> None:
        sync_engine = make_sync_engine(self._url).execution_options(**{WRITE: True})
        try:
            self._serve(lambda ops: self._transaction_sync(sync_engine, ops))
        finally:
            sync_engine.dispose()

    def _serve(self, transaction: Callable[[Sequence[Op]], list[Outcome]]) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            began = time.thread_time()
            self._write(batch, transaction)
            self.stats.cpu_seconds += time.thread_time() - began
            if stop:
                return

    def _write(self, batch: list[_Item], transaction: Callable[[Sequence[Op]], list[Outcome]]) -> None:
        try:
            outcomes: list[Outcome] = transaction([op for op, _, _ in batch])
        except Exception as exc:
            if len(batch) > 1:
                # One write spoilt the batch: give each its own transaction, so it fails alone.
                self.stats.fallbacks += 1
                for item in batch:
                    self._write([item], transaction)
                return
            outcomes = [exc]
        by_loop: dict[
            asyncio.AbstractEventLoop, list[tuple[asyncio.Future[StoredConversation], Outcome]]
        ] = {}
        for (_, future, loop), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, outcome))
        for loop, settled in by_loop.items():
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle_all, settled)

    def _transaction_sync(self, engine: Engine, ops: Sequence[Op]) -> list[Outcome]:
        with engine.begin() as conn:
            return self._commit(conn, ops)

    async def _transaction_async(self, engine: AsyncEngine, ops: Sequence[Op]) -> list[Outcome]:
        async with engine.begin() as conn:
            return await conn.run_sync(self._commit, ops)

    def _commit(self, conn: Connection, ops: Sequence[Op]) -> list[Outcome]:
        self.stats.batches += 1
        self.stats.ops += len(ops)
        self.stats.largest_batch = max(self.stats.largest_batch, len(ops))
        rows = self._lock_rows(conn, ops)
        owners = self._owners(conn, ops)
        plan = _Plan()
        outcomes = [self._plan(op, rows, owners, plan) for op in ops]
        self._apply(conn, plan)
        return outcomes

    def _lock_rows(self, conn: Connection, ops: Sequence[Op]) -> dict[uuid.UUID, _Row]:
        ids = sorted({op.conversation_id for op in ops if isinstance(op, TurnWrite)})
        if not ids:
            return {}
        self.stats.statements += 1
        if not self._postgres:
            return _sqlite_lock_rows(conn, ids)
        result = conn.exec_driver_sql(_POSTGRES_LOCK_ROWS, (ids,))
        return {_uuid(r[0]): _Row(_uuid(r[1]), r[2], r[3], r[4], r[5], r[6].astimezone(UTC)) for r in result}

    def _owners(self, conn: Connection, ops: Sequence[Op]) -> dict[Identity, uuid.UUID]:
        wanted = {i for op in ops for i in op.identities}
        if not wanted:
            return {}
        self.stats.statements += 1
        if not self._postgres:
            return _sqlite_owners(conn, wanted)
        pairs = list(wanted)
        result = conn.exec_driver_sql(_POSTGRES_OWNERS, ([i.kind for i in pairs], [i.value for i in pairs]))
        return {Identity(r[0], r[1]): _uuid(r[2]) for r in result}

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
            lead_id = self._new_id()
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
                "id": self._new_id(),
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
            change = {
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
            earlier = plan.lead_updates.get(row.lead_id)
            if earlier is not None:
                # One row per lead: a later turn's fields win where it has them.
                change = earlier | {k: v for k, v in change.items() if v is not None}
            plan.lead_updates[row.lead_id] = change
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

    def _apply(self, conn: Connection, plan: _Plan) -> None:
        steps: list[tuple[Any, list[dict[str, Any]]]] = [
            (_INSERTS[leads], plan.leads),
            (_INSERTS[identities], plan.identities),
            (_INSERTS[conversations], plan.conversations),
            (_UPDATE_CONVERSATION, plan.updates),
            (_INSERTS[messages], plan.messages),
            (_INSERTS[snapshots], plan.snapshots),
            (_INSERTS[engagement_events], plan.engagement),
            (_INSERTS[outbox], plan.outbox),
            (_UPDATE_LEAD, list(plan.lead_updates.values())),
        ]
        for statement, params in steps:
            if not params:
                continue
            self.stats.statements += 1
            unique = statement is not _UPDATE_CONVERSATION or len({p["b_id"] for p in params}) == len(params)
            if self._postgres and not unique:
                conn.execute(statement, params)
            elif self._postgres:
                _postgres_unnest(conn, statement, params)
            elif statement is _UPDATE_CONVERSATION and unique:
                _sqlite_values_statement(
                    conn, _SQLITE_UPDATE_CONVERSATIONS, _CONVERSATION_UPDATE_TYPES, params
                )
            elif statement is _UPDATE_LEAD:
                _sqlite_values_statement(conn, _SQLITE_UPDATE_LEADS, _LEAD_UPDATE_TYPES, params)
            elif statement is _UPDATE_CONVERSATION:
                sql, row = _sqlite_plan(conn.dialect, statement, tuple(params[0]))
                conn.exec_driver_sql(sql, [row(p) for p in params])
            else:
                _sqlite_insert(conn, statement, params)
        for source, target, at in plan.merges:
            self.stats.statements += 3
            for table in (identities, conversations):
                conn.execute(update(table).where(table.c.lead_id == source).values(lead_id=target))
            conn.execute(update(leads).where(leads.c.id == source).values(merged_into=target, updated_at=at))


# PostgreSQL: one statement per table for the whole batch, its rows sent as one array per column and
# unpacked with unnest(). The SQL text does not depend on the batch size, so asyncpg prepares it
# once per connection (a multi-row VALUES list is a new statement, and a prepare round trip, for
# every batch size), and SQLAlchemy's per-row parameter processing is skipped: the arrays are
# built here, with JSON columns as JSON text cast in SQL.


# The batch's SELECTs, fixed SQL too (ids come back as asyncpg's own UUID type).
_POSTGRES_LOCK_ROWS = (
    "SELECT id, lead_id, channel, flow_id, flow_version, version, created_at FROM conversations "
    "WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE"
)
_POSTGRES_OWNERS = (
    "SELECT kind, value, lead_id FROM lead_identities "
    "WHERE (kind, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
)


def _uuid(value: uuid.UUID) -> uuid.UUID:
    return uuid.UUID(bytes=value.bytes)


def _postgres_type(dialect: Any, column: Any) -> tuple[str, str]:
    """The array element type a column's values are sent as, and the SQL cast to its own type."""
    type_ = column.type
    if isinstance(type_, JSON):
        return "text", "::" + type_.dialect_impl(dialect).compile(dialect=dialect).lower()
    if isinstance(type_, Uuid):
        return "uuid", ""
    if isinstance(type_, UTCDateTime):
        return "timestamptz", ""
    if isinstance(type_, BigInteger):
        return "bigint", ""
    if isinstance(type_, Integer):
        return "integer", ""
    return "text", ""


@functools.cache
def _postgres_unnest_sql(dialect: Any, statement: Any, keys: tuple[str, ...]) -> str:
    table = statement.table
    if statement is _UPDATE_CONVERSATION:
        target = {"b_id": "id", "b_expected": "version"}
    elif statement is _UPDATE_LEAD:
        target = {"b_id": "id"}
    else:
        target = {}
    types = [_postgres_type(dialect, table.c[target.get(k, k)]) for k in keys]
    arrays = ", ".join(f"${i}::{element}[]" for i, (element, _) in enumerate(types, 1))
    source = f"unnest({arrays}) AS v({', '.join(keys)})"
    if not target:
        values = ", ".join(f"v.{k}{to_type}" for k, (_, to_type) in zip(keys, types, strict=True))
        return f"INSERT INTO {table.name} ({', '.join(keys)}) SELECT {values} FROM {source}"
    sets = []
    for k, (_, to_type) in zip(keys, types, strict=True):
        if k in target:
            continue
        value = f"v.{k}{to_type}"
        if statement is _UPDATE_LEAD and k != "updated_at":
            value = f"coalesce({value}, t.{k})"  # a lead keeps what a turn did not learn
        sets.append(f"{k} = {value}")
    where = " AND ".join(f"t.{column} = v.{k}" for k, column in target.items())
    return f"UPDATE {table.name} AS t SET {', '.join(sets)} FROM {source} WHERE {where}"


def _postgres_unnest(conn: Connection, statement: Any, params: list[dict[str, Any]]) -> None:
    keys = tuple(params[0])
    columns: list[list[Any]] = []
    table = statement.table
    for k in keys:
        values = [p[k] for p in params]
        column = table.c.get(k)
        if column is not None and isinstance(column.type, JSON):
            values = [None if v is None else dumps_json(v) for v in values]
        columns.append(values)
    conn.exec_driver_sql(_postgres_unnest_sql(conn.dialect, statement, keys), tuple(columns))


_INSERTS = {
    table: insert(table)
    for table in (leads, identities, conversations, messages, snapshots, engagement_events, outbox)
}


_TIME_TEXTS: dict[datetime, str] = {}
_TIME_TEXTS_KEPT = 4096


def _utc_text(value: datetime) -> str:
    """UTC time as SQLAlchemy's SQLite DATETIME stores it. The rows of one turn (several tables,
    several rows each) share their time, and formatting one costs microseconds, so recent ones are
    remembered (plain dict reads and writes: safe to share between writer threads)."""
    text = _TIME_TEXTS.get(value)
    if text is None:
        if len(_TIME_TEXTS) >= _TIME_TEXTS_KEPT:
            _TIME_TEXTS.clear()
        text = _TIME_TEXTS[value] = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return text


def _uuid_hex(value: uuid.UUID) -> str:
    return value.hex


def _sqlite_value(type_: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy stores a non-null value of this type on SQLite, done directly (None: as it is)."""
    if isinstance(type_, UTCDateTime):
        return _utc_text
    if isinstance(type_, Uuid):
        return _uuid_hex
    if isinstance(type_, JSON):
        return dumps_json
    return None


@functools.cache
def _sqlite_plan(
    dialect: Any, statement: Any, keys: tuple[str, ...]
) -> tuple[str, Callable[[dict[str, Any]], list[Any]]]:
    """The SQL text of a Core statement and a row converter, to send rows straight to sqlite3:
    SQLAlchemy's per-row parameter processing would cost more than SQLite itself. The conversions
    are the ones the column types apply (UTC text for times, hex for UUIDs, JSON text), so the ORM
    reads these rows back as it wrote them."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names: list[str] = list(compiled.positiontup or ())
    converted = [
        (i, c) for i, c in enumerate(_sqlite_value(compiled.binds[n].type) for n in names) if c is not None
    ]
    pick = operator.itemgetter(*names) if len(names) > 1 else (lambda params: (params[names[0]],))

    def row(params: dict[str, Any]) -> list[Any]:
        values = list(pick(params))
        for i, convert in converted:
            value = values[i]
            if value is not None:
                values[i] = convert(value)
        return values

    return str(compiled), row


# SQLite: one statement for many rows, never executemany. The sqlite3 module lets go of the GIL
# for every row it steps; with the event loop's thread busy, each of those costs a wait of up to
# the switch interval (measured: a 200-row executemany took 357 ms and 44 us of CPU a row beside a
# busy thread, the same rows as one multi-row INSERT 6.6 ms and 7 us a row). So rows go in as one
# multi-row VALUES list, updates as UPDATE ... FROM (VALUES ...), and the SELECTs of a batch come
# back as one JSON row.
SQLITE_MAX_VARIABLES = 30_000

_SQLITE_UPDATE_CONVERSATIONS = (
    "UPDATE conversations SET state = v.column3, version = v.column4, stage = v.column5, "
    "lead_id = v.column6, updated_at = v.column7 FROM (VALUES {rows}) AS v "
    "WHERE conversations.id = v.column1 AND conversations.version = v.column2"
)
_CONVERSATION_UPDATE_TYPES = (
    ("b_id", Uuid()),
    ("b_expected", None),
    ("state", JSON()),
    ("version", None),
    ("stage", None),
    ("lead_id", Uuid()),
    ("updated_at", UTCDateTime()),
)
_SQLITE_UPDATE_LEADS = (
    "UPDATE leads SET stage = coalesce(v.column2, leads.stage), score = coalesce(v.column3, leads.score), "
    "tier = coalesce(v.column4, leads.tier), name = coalesce(v.column5, leads.name), "
    "email = coalesce(v.column6, leads.email), phone = coalesce(v.column7, leads.phone), "
    "company = coalesce(v.column8, leads.company), updated_at = v.column9 "
    "FROM (VALUES {rows}) AS v WHERE leads.id = v.column1"
)
_LEAD_UPDATE_TYPES = (
    ("b_id", Uuid()),
    ("stage", None),
    ("score", None),
    ("tier", None),
    ("name", None),
    ("email", None),
    ("phone", None),
    ("company", None),
    ("updated_at", UTCDateTime()),
)


def _chunks(params: list[dict[str, Any]], width: int) -> list[list[dict[str, Any]]]:
    size = max(1, SQLITE_MAX_VARIABLES // width)
    return [params[i : i + size] for i in range(0, len(params), size)]


def _sqlite_values_statement(
    conn: Connection, template: str, columns: tuple[tuple[str, Any], ...], params: list[dict[str, Any]]
) -> None:
    pick = operator.itemgetter(*(name for name, _ in columns))
    converted = [(i, _sqlite_value(type_)) for i, (_, type_) in enumerate(columns) if type_ is not None]
    group = "(" + ", ".join("?" * len(columns)) + ")"
    for chunk in _chunks(params, len(columns)):
        values: list[Any] = []
        for p in chunk:
            row = list(pick(p))
            for i, convert in converted:
                value = row[i]
                if value is not None and convert is not None:
                    row[i] = convert(value)
            values += row
        conn.exec_driver_sql(template.format(rows=", ".join([group] * len(chunk))), tuple(values))


def _sqlite_insert(conn: Connection, statement: Any, params: list[dict[str, Any]]) -> None:
    sql, row = _sqlite_plan(conn.dialect, statement, tuple(params[0]))
    head, group = sql.rsplit(" VALUES ", 1)
    for chunk in _chunks(params, group.count("?")):
        values: list[Any] = []
        for p in chunk:
            values += row(p)
        conn.exec_driver_sql(f"{head} VALUES {', '.join([group] * len(chunk))}", tuple(values))


def sqlite_time(text: str) -> datetime:
    """A time as SQLAlchemy's SQLite DATETIME stores it, read back as aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _sqlite_lock_rows(conn: Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, _Row]:
    marks = ", ".join("?" * len(ids))
    found = conn.exec_driver_sql(
        "SELECT json_group_array(json_array(id, lead_id, channel, flow_id, flow_version, version, "
        f"created_at)) FROM conversations WHERE id IN ({marks})",
        tuple(i.hex for i in ids),
    ).scalar_one()
    return {
        uuid.UUID(hex=r[0]): _Row(uuid.UUID(hex=r[1]), r[2], r[3], r[4], r[5], sqlite_time(r[6]))
        for r in loads_json(found)
    }


def _sqlite_owners(conn: Connection, wanted: set[Identity]) -> dict[Identity, uuid.UUID]:
    pairs = ", ".join(["(?, ?)"] * len(wanted))
    found = conn.exec_driver_sql(
        "SELECT json_group_array(json_array(kind, value, lead_id)) FROM lead_identities "
        f"WHERE (kind, value) IN (VALUES {pairs})",
        tuple(v for i in wanted for v in (i.kind, i.value)),
    ).scalar_one()
    return {Identity(r[0], r[1]): uuid.UUID(hex=r[2]) for r in loads_json(found)}


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


def _settle_all(settled: list[tuple[asyncio.Future[StoredConversation], Outcome]]) -> None:
    """Answer the callers of one batch (runs on their event loop)."""
    for future, outcome in settled:
        if future.done():
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
