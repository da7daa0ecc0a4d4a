"""PostgreSQL: the writer's statements and the hot reads, generated from the table metadata.

One statement per table for the whole batch, its rows sent as one array per column and unpacked
with ``unnest()``. The SQL text does not depend on the batch size, so asyncpg prepares it once per
connection (a multi-row VALUES list is a new statement, and a prepare round trip, for every batch
size), and SQLAlchemy's per-row parameter processing is skipped: the arrays are built here, with
JSON columns sent as JSON text and cast in SQL. The batch's SELECTs are fixed SQL over arrays too.
The rows a batch depends on are locked with ``FOR UPDATE``, conversations first and then their
leads, each in id order, so two writers never wait on each other in a circle.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, Table, Uuid
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from flows.ports import Identity, StoredConversation
from storage.batch import (
    CONVERSATION_COLUMNS,
    CONVERSATION_UPDATE_GUARD,
    CONVERSATION_UPDATE_KEY,
    INSERT_IGNORING_DUPLICATES,
    INSERT_ORDER,
    LEAD_COLUMNS,
    LOCKED_COLUMNS,
    Plan,
    Reads,
    conversations,
    inbound_keys,
    lead_record,
    leads,
    locked_row,
    stored_conversation,
)
from storage.db import dumps_json, loads_json
from storage.tables import UTCDateTime

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


@functools.cache
def _types(table: Table, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """For each column: the array element type its values are sent as, and the cast to its type."""
    out = []
    for name in names:
        type_ = table.c[name].type
        if isinstance(type_, JSON):
            out.append(("text", "::" + type_.dialect_impl(_DIALECT).compile(dialect=_DIALECT).lower()))
        elif isinstance(type_, Uuid):
            out.append(("uuid", ""))
        elif isinstance(type_, UTCDateTime):
            out.append(("timestamptz", ""))
        elif isinstance(type_, BigInteger):
            out.append(("bigint", ""))
        elif isinstance(type_, Integer):
            out.append(("integer", ""))
        else:
            out.append(("text", ""))
    return tuple(out)


def _ordered(table: Table, keys: Sequence[str]) -> tuple[str, ...]:
    given = set(keys)
    return tuple(c.name for c in table.columns if c.name in given)


def _unnest(names: tuple[str, ...], types: tuple[tuple[str, str], ...]) -> str:
    arrays = ", ".join(f"${i}::{element}[]" for i, (element, _) in enumerate(types, 1))
    return f"unnest({arrays}) AS v({', '.join(names)})"


@functools.cache
def _insert_sql(table: Table, names: tuple[str, ...], ignore: bool) -> str:
    types = _types(table, names)
    values = ", ".join(f"v.{n}{cast}" for n, (_, cast) in zip(names, types, strict=True))
    conflict = " ON CONFLICT DO NOTHING" if ignore else ""
    columns = ", ".join(names)
    return f"INSERT INTO {table.name} ({columns}) SELECT {values} FROM {_unnest(names, types)}{conflict}"


@functools.cache
def _update_sql(
    table: Table, keys: tuple[str, ...], guards: tuple[tuple[str, str], ...], sets: tuple[str, ...]
) -> str:
    names = (*keys, *(g for g, _ in guards), *sets)
    types = _types(table, (*keys, *(column for _, column in guards), *sets))
    cast = dict(zip(names, (c for _, c in types), strict=True))
    assignments = ", ".join(f"{name} = v.{name}{cast[name]}" for name in sets)
    where = [f"t.{k} = v.{k}" for k in keys] + [f"t.{column} = v.{guard}" for guard, column in guards]
    return (
        f"UPDATE {table.name} AS t SET {assignments} FROM {_unnest(names, types)} WHERE {' AND '.join(where)}"
    )


def _arrays(
    table: Table, names: tuple[str, ...], columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> tuple[list[Any], ...]:
    out = []
    for name, column in zip(names, columns, strict=True):
        values = [row[name] for row in rows]
        if isinstance(table.c[column].type, JSON):
            values = [None if v is None else dumps_json(v) for v in values]
        out.append(values)
    return tuple(out)


def insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    names = _ordered(table, list(rows[0]))
    sql = _insert_sql(table, names, table in INSERT_IGNORING_DUPLICATES)
    conn.exec_driver_sql(sql, _arrays(table, names, names, rows))


def update(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: tuple[str, ...],
    guards: Mapping[str, str],
) -> None:
    guarded = tuple(guards.items())
    skip = {*keys, *guards}
    sets = _ordered(table, [k for k in rows[0] if k not in skip])
    names = (*keys, *guards, *sets)
    columns = (*keys, *(column for _, column in guarded), *sets)
    conn.exec_driver_sql(_update_sql(table, keys, guarded, sets), _arrays(table, names, columns, rows))


def apply(conn: Connection, plan: Plan) -> int:
    """Write a planned batch, one statement per table; returns the statements sent."""
    sent = 0
    for table in INSERT_ORDER:
        rows = plan.inserts[table]
        if rows:
            insert(conn, table, rows)
            sent += 1
    if plan.conversation_updates:
        rows = list(plan.conversation_updates.values())
        update(conn, conversations, rows, CONVERSATION_UPDATE_KEY, CONVERSATION_UPDATE_GUARD)
        sent += 1
    if plan.lead_updates:
        update(conn, leads, list(plan.lead_updates.values()), ("id",), {})
        sent += 1
    return sent


def _uuid(value: Any) -> uuid.UUID:
    """asyncpg's own UUID type as the standard one."""
    return uuid.UUID(bytes=value.bytes)


def decode(table: Table, names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """A row read straight from asyncpg, each value in the type its column holds."""
    out = {}
    for name, value in zip(names, values, strict=True):
        type_ = table.c[name].type
        if value is not None:
            if isinstance(type_, Uuid):
                value = _uuid(value)
            elif isinstance(type_, JSON) and isinstance(value, str | bytes):
                value = loads_json(value)
        out[name] = value
    return out


_LOCK_CONVERSATIONS = (
    f"SELECT {', '.join(LOCKED_COLUMNS)} FROM conversations WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE"
)
_LOCK_LEADS = f"SELECT {', '.join(LEAD_COLUMNS)} FROM leads WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE"
_OWNERS = (
    "SELECT kind, value, lead_id FROM lead_identities "
    "WHERE (kind, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
)
_CLAIMED = f"SELECT key FROM {inbound_keys.name} WHERE key = ANY($1::text[])"


def read(
    conn: Connection, ids: Sequence[uuid.UUID], names: set[Identity], keys: set[str]
) -> tuple[Reads, int]:
    """What a batch depends on, its rows locked; returns it and the statements sent."""
    reads = Reads()
    sent = 0
    if ids:
        for values in conn.exec_driver_sql(_LOCK_CONVERSATIONS, (list(ids),)):
            row = decode(conversations, LOCKED_COLUMNS, values)
            reads.conversations[row["id"]] = locked_row(row)
        lead_ids = sorted({row.lead_id for row in reads.conversations.values()})
        for values in conn.exec_driver_sql(_LOCK_LEADS, (lead_ids,)):
            lead = decode(leads, LEAD_COLUMNS, values)
            reads.leads[lead["id"]] = lead_record(lead)
        sent += 2
    if names:
        pairs = list(names)
        result = conn.exec_driver_sql(_OWNERS, ([i.kind for i in pairs], [i.value for i in pairs]))
        reads.owners = {Identity(r[0], r[1]): _uuid(r[2]) for r in result}
        sent += 1
    if keys:
        reads.claimed = {str(r[0]) for r in conn.exec_driver_sql(_CLAIMED, (sorted(keys),))}
        sent += 1
    return reads, sent


# --------------------------------------------------------------------------- reads by key (asyncpg)

_LOAD = f"SELECT {', '.join(CONVERSATION_COLUMNS)} FROM conversations WHERE id = $1"
_FIND_LEAD = (
    "SELECT lead_id FROM lead_identities WHERE (kind, value) IN "
    "(SELECT * FROM unnest($1::text[], $2::text[])) LIMIT 1"
)


async def load(db: Any, conversation_id: uuid.UUID) -> StoredConversation | None:
    row = await db.fetchrow(_LOAD, conversation_id)
    if row is None:
        return None
    decoded = decode(conversations, CONVERSATION_COLUMNS, tuple(row))
    return stored_conversation(decoded, decoded["state"])


async def find_lead(db: Any, identities: Sequence[Identity]) -> uuid.UUID | None:
    found = await db.fetchval(_FIND_LEAD, [i.kind for i in identities], [i.value for i in identities])
    return None if found is None else _uuid(found)
