"""SQLite: the writer's statements and the hot reads, generated from the table metadata.

Values are stored as SQLAlchemy's column types store them on SQLite (UUIDs as 32 hex characters,
UTC times as ``YYYY-MM-DD HH:MM:SS.ffffff`` text, JSON as text), so the ORM reads these rows back
as they were written; :class:`Codec` is the one place that knows how.

One statement for many rows, never ``executemany``: the ``sqlite3`` module lets go of the GIL for
every row it steps, and with the event loop's thread busy each of those costs a wait of up to the
switch interval (measured: a 200-row ``executemany`` took 357 ms and 44 us of CPU a row beside a
busy thread, the same rows as one multi-row INSERT 6.6 ms and 7 us a row). So rows go in as one
multi-row ``VALUES`` list, updates as ``UPDATE ... FROM (VALUES ...)``, and the SELECTs of a batch
come back as one JSON row.
"""

from __future__ import annotations

import functools
import operator
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table, Uuid
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

# SQLite allows 32,766 bound values per statement; stay under it.
MAX_VARIABLES = 30_000


def time_text(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def text_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Codec:
    """Column values to and from their SQLite form. One codec serves one batch: the rows of a turn
    (several tables, several rows each) share their time, so a time is formatted once per batch."""

    def __init__(self) -> None:
        self._times: dict[datetime, str] = {}

    def time(self, value: datetime) -> str:
        text = self._times.get(value)
        if text is None:
            text = self._times[value] = time_text(value)
        return text

    def values(
        self,
        table: Table,
        names: tuple[str, ...],
        rows: Iterable[Mapping[str, Any]],
        columns: tuple[str, ...] | None = None,
    ) -> list[Any]:
        """The bound values of ``rows`` (the ``names`` of each, in order), flattened; each encoded
        as its column stores it (``columns``, when a name is not a column's: default ``names``)."""
        pick = operator.itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
        kinds = _kinds(table, columns or names)
        encoders = [(i, self._encoder(kind)) for i, kind in enumerate(kinds) if kind != "plain"]
        out: list[Any] = []
        for row in rows:
            values = list(pick(row))
            for i, encode in encoders:
                value = values[i]
                if value is not None:
                    values[i] = encode(value)
            out += values
        return out

    def _encoder(self, kind: str) -> Callable[[Any], Any]:
        if kind == "time":
            return self.time
        if kind == "uuid":
            return _hex
        return dumps_json


def decode(table: Table, names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """A row read back, each value in the type its column holds (UUID, aware datetime, JSON)."""
    out = {}
    for name, kind, value in zip(names, _kinds(table, tuple(names)), values, strict=True):
        if value is not None and kind != "plain":
            value = _DECODERS[kind](value)
        out[name] = value
    return out


def _hex(value: uuid.UUID) -> str:
    return value.hex


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "time": text_time,
    "uuid": lambda value: uuid.UUID(hex=value),
    "json": lambda value: loads_json(value) if isinstance(value, str | bytes) else value,
}


@functools.cache
def _kinds(table: Table, names: tuple[str, ...]) -> tuple[str, ...]:
    kinds = []
    for name in names:
        type_ = table.c[name].type
        if isinstance(type_, UTCDateTime):
            kinds.append("time")
        elif isinstance(type_, Uuid):
            kinds.append("uuid")
        elif isinstance(type_, JSON):
            kinds.append("json")
        else:
            kinds.append("plain")
    return tuple(kinds)


def _ordered(table: Table, keys: Iterable[str]) -> tuple[str, ...]:
    given = set(keys)
    return tuple(c.name for c in table.columns if c.name in given)


# --------------------------------------------------------------------------- statements


@functools.cache
def _insert_sql(table: Table, names: tuple[str, ...], rows: int, ignore: bool) -> str:
    group = "(" + ", ".join("?" * len(names)) + ")"
    conflict = " ON CONFLICT DO NOTHING" if ignore else ""
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES {', '.join([group] * rows)}{conflict}"


@functools.cache
def _update_sql(
    table: Table, keys: tuple[str, ...], guards: tuple[tuple[str, str], ...], sets: tuple[str, ...], rows: int
) -> str:
    """``UPDATE t SET ... FROM (VALUES ...) AS v WHERE t.key = v.key AND t.guarded = v.guard``:
    the values list holds the keys, then the guards, then the columns set."""
    width = len(keys) + len(guards) + len(sets)
    group = "(" + ", ".join("?" * width) + ")"
    at = {name: f"v.column{i}" for i, name in enumerate((*keys, *(g for g, _ in guards), *sets), 1)}
    assignments = ", ".join(f"{name} = {at[name]}" for name in sets)
    where = [f"{table.name}.{k} = {at[k]}" for k in keys]
    where += [f"{table.name}.{column} = {at[guard]}" for guard, column in guards]
    return (
        f"UPDATE {table.name} SET {assignments} FROM (VALUES {', '.join([group] * rows)}) AS v "
        f"WHERE {' AND '.join(where)}"
    )


def _chunks(rows: Sequence[Mapping[str, Any]], width: int) -> Iterable[Sequence[Mapping[str, Any]]]:
    size = max(1, MAX_VARIABLES // max(1, width))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def insert(conn: Connection, codec: Codec, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows`` (all with the same keys); returns the statements sent."""
    names = _ordered(table, rows[0])
    ignore = table in INSERT_IGNORING_DUPLICATES
    sent = 0
    for chunk in _chunks(rows, len(names)):
        values = codec.values(table, names, chunk)
        conn.exec_driver_sql(_insert_sql(table, names, len(chunk), ignore), tuple(values))
        sent += 1
    return sent


def update(
    conn: Connection,
    codec: Codec,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: tuple[str, ...],
    guards: Mapping[str, str],
) -> int:
    """Update rows by ``keys`` (only where each ``guards`` value still matches its column)."""
    guarded = tuple(guards.items())
    skip = {*keys, *guards}
    sets = _ordered(table, (k for k in rows[0] if k not in skip))
    names = (*keys, *guards, *sets)
    columns = (*keys, *(column for _, column in guarded), *sets)  # a guard is typed as its column
    sent = 0
    for chunk in _chunks(rows, len(names)):
        values = codec.values(table, names, chunk, columns)
        conn.exec_driver_sql(_update_sql(table, keys, guarded, sets, len(chunk)), tuple(values))
        sent += 1
    return sent


def apply(conn: Connection, plan: Plan) -> int:
    """Write a planned batch, one statement per table (more only for very large batches)."""
    codec = Codec()
    sent = 0
    for table in INSERT_ORDER:
        rows = plan.inserts[table]
        if rows:
            sent += insert(conn, codec, table, rows)
    if plan.conversation_updates:
        rows = list(plan.conversation_updates.values())
        sent += update(conn, codec, conversations, rows, CONVERSATION_UPDATE_KEY, CONVERSATION_UPDATE_GUARD)
    if plan.lead_updates:
        sent += update(conn, codec, leads, list(plan.lead_updates.values()), ("id",), {})
    return sent


def _json_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    found = conn.exec_driver_sql(sql, tuple(params)).scalar_one()
    rows: list[Any] = loads_json(found)
    return rows


def read(
    conn: Connection, ids: Sequence[uuid.UUID], names: set[Identity], keys: set[str]
) -> tuple[Reads, int]:
    """What a batch depends on, read under its write lock; returns it and the statements sent."""
    reads = Reads()
    sent = 0
    if ids:
        picked = ", ".join([f"c.{c}" for c in LOCKED_COLUMNS] + [f"l.{c}" for c in LEAD_COLUMNS])
        marks = ", ".join("?" * len(ids))
        rows = _json_rows(
            conn,
            f"SELECT json_group_array(json_array({picked})) FROM conversations c "
            f"JOIN leads l ON l.id = c.lead_id WHERE c.id IN ({marks})",
            [i.hex for i in ids],
        )
        sent += 1
        split = len(LOCKED_COLUMNS)
        for values in rows:
            conversation = decode(conversations, LOCKED_COLUMNS, values[:split])
            lead = decode(leads, LEAD_COLUMNS, values[split:])
            reads.conversations[conversation["id"]] = locked_row(conversation)
            reads.leads[lead["id"]] = lead_record(lead)
    if names:
        pairs = ", ".join(["(?, ?)"] * len(names))
        rows = _json_rows(
            conn,
            "SELECT json_group_array(json_array(kind, value, lead_id)) FROM lead_identities "
            f"WHERE (kind, value) IN (VALUES {pairs})",
            [v for i in names for v in (i.kind, i.value)],
        )
        sent += 1
        reads.owners = {Identity(r[0], r[1]): uuid.UUID(hex=r[2]) for r in rows}
    if keys:
        marks = ", ".join("?" * len(keys))
        found = _json_rows(
            conn,
            f"SELECT json_group_array(key) FROM {inbound_keys.name} WHERE key IN ({marks})",
            sorted(keys),
        )
        sent += 1
        reads.claimed = {str(key) for key in found}
    return reads, sent


# --------------------------------------------------------------------------- reads by key (reader thread)

_LOAD = f"SELECT {', '.join(CONVERSATION_COLUMNS)} FROM conversations WHERE id = ?"
_FIND_LEAD = "SELECT lead_id FROM lead_identities WHERE kind = ? AND value = ?"


def load(db: sqlite3.Connection, conversation_id: uuid.UUID) -> StoredConversation | None:
    row = db.execute(_LOAD, (conversation_id.hex,)).fetchone()
    if row is None:
        return None
    decoded = decode(conversations, CONVERSATION_COLUMNS, row)
    return stored_conversation(decoded, decoded["state"])


def find_lead(db: sqlite3.Connection, identities: Sequence[Identity]) -> uuid.UUID | None:
    for ident in identities:
        row = db.execute(_FIND_LEAD, (ident.kind, ident.value)).fetchone()
        if row is not None:
            return uuid.UUID(hex=row[0])
    return None
