"""Group commit: one writer saves the turns of many visitors in one transaction.

Every statement through an async driver costs a hand-over between threads or a network round trip,
and each one waits its turn on a busy event loop; every commit costs a flush. So turns are not
written one by one: callers queue their write and wait; the writer takes everything queued and, in
ONE write transaction (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL),
reads what the whole batch depends on (versions, leads, identity owners, claimed idempotency keys)
in a few statements, plans every write's rows with the lead rules (``storage.batch``), then writes
each table with one statement (``storage.sqlite``, ``storage.postgres``). It runs on a thread of
its own, so a whole batch costs the callers' event loop one hand-over, not one per statement. A
caller's future resolves only after COMMIT: an answered turn is a durable turn. While one batch
commits the next one gathers, so batches grow with the load by themselves and no timer is needed.

If a batch fails (a constraint, an injected fault), its writes are retried one transaction each,
so a bad write fails alone and never takes its neighbours down with it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.ports import NewConversation, RandomIds, StoredConversation, TurnWrite
from storage import postgres, sqlite
from storage.batch import Op, Outcome, TokenGrant, plan_batch, wanted
from storage.db import WRITE, make_engine, make_sync_engine, writer

_Done = StoredConversation | TokenGrant
_Item = tuple[Op, "asyncio.Future[_Done]", asyncio.AbstractEventLoop]


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

    async def submit(self, op: NewConversation | TurnWrite) -> StoredConversation:
        """Queue one write; returns once it is committed (or raises why it was not)."""
        stored = await self._queued(op)
        assert isinstance(stored, StoredConversation)
        return stored

    async def grant(self, op: TokenGrant) -> None:
        """Queue a conversation token; returns once it is committed (or raises why it was not)."""
        await self._queued(op)

    async def _queued(self, op: Op) -> _Done:
        if self._closing:
            raise RuntimeError("the writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Done] = loop.create_future()
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
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[_Done], Outcome]]] = {}
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
        """One batch inside its write transaction: read what it depends on (locked), plan its rows
        with the lead rules (``storage.batch``), write them (the dialect's statements)."""
        self.stats.batches += 1
        self.stats.ops += len(ops)
        self.stats.largest_batch = max(self.stats.largest_batch, len(ops))
        dialect: Any = postgres if self._postgres else sqlite
        ids, names, keys = wanted(ops)
        reads, sent = dialect.read(conn, ids, names, keys)
        plan, outcomes = plan_batch(ops, reads, self._new_id)
        self.stats.statements += sent + dialect.apply(conn, plan)
        return outcomes


def _settle_all(settled: list[tuple[asyncio.Future[_Done], Outcome]]) -> None:
    """Answer the callers of one batch (runs on their event loop)."""
    for future, outcome in settled:
        if future.done():
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
