"""Service throughput: durable turns per second through the real service and SQL stores.

    python -m bench.service [--turns N] [--visitors N] [--backend sqlite|postgresql|both]

Many visitors talk at once (each walks the shipped BANT flow, tapping a random button or typing a
plausible answer, and starts over when done). A turn counts once ``handle_message`` has returned,
i.e. after its transaction committed. Beside each figure is a baseline on the same database: one
raw SELECT by key + one INSERT per turn (raw sqlite3 for SQLite, raw asyncpg for PostgreSQL), and
the ratio. Then where the time goes: CPU per turn by thread (the event loop's thread: engine.step,
measured alone, and the rest; the writer's thread: batches, its Python and the driver's C work),
statements and commits per turn, batch sizes, hand-overs between threads and the read cache. A
summary of both databases ends the run. On a machine with other work, CPU per turn is the figure
that carries over: turns/s is about one core divided by it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy.engine import make_url

from flows import engine as flow_engine
from flows.catalog import FlowCatalog
from flows.model import Channel, ConversationState, Inbound, Reply, Source
from flows.ports import WEB_VISITOR, Identity
from flows.service import ConversationService, SystemClock
from flows.spec import library_path
from storage.db import SQLITE_PRAGMAS, make_engine
from storage.migrations import upgrade
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader

FLOW = "bant"
POSTGRES_URL = os.environ.get(
    "QUALIBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

TYPED = {
    "money": "около 2 млн руб",
    "number": "120",
    "date": "через пару месяцев",
    "name": "Иван Петров",
    "text": "автоматизировать продажи",
}


def next_inbound(reply: Reply, rng: random.Random, visitor: int) -> Inbound:
    """What a visitor does with the question in ``reply``: a random button, or a typed answer
    (each visitor has an e-mail and phone of their own)."""
    if reply.buttons and (reply.input == "none" or rng.random() < 0.8):
        choices = [b.id for b in reply.buttons if not b.id.startswith("cmd:")]
        if choices:
            return Inbound.tap(rng.choice(choices))
    if reply.input == "email":
        return Inbound.typed(f"visitor{visitor}@company.ru")
    if reply.input == "tel":
        return Inbound.typed(f"+7 999 {visitor:07d}")
    return Inbound.typed(TYPED.get(reply.input, "да"))


@dataclass
class Figures:
    turns: int
    seconds: float
    cpu_seconds: float = 0.0
    main_cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.turns / self.seconds


async def run_service(
    url: str, turns: int, visitors: int, hops: list[int]
) -> tuple[Figures, SqlConversationStore]:
    engine = make_engine(url)
    catalog = FlowCatalog()
    catalog.add(library_path(FLOW).read_text(encoding="utf-8"))
    store = SqlConversationStore(engine)
    service = ConversationService(
        store, SqlFlowVersionStore(engine), catalog, SystemClock(), leads=SqlLeadReader(engine)
    )
    remaining = [turns]
    web = Source(channel=Channel.WEB, page_url="https://example.com/pricing", utm={"source": "bench"})

    async def visitor(n: int) -> None:
        rng = random.Random(n)
        visitor_id = Identity(WEB_VISITOR, f"b{n}")
        result = await service.start_conversation(FLOW, "ru", web, identity=visitor_id)
        while remaining[0] > 0:
            remaining[0] -= 1
            result = await service.handle_message(
                result.conversation_id, next_inbound(result.replies[-1], rng, n)
            )
            if result.done:
                result = await service.start_conversation(FLOW, "ru", web, identity=visitor_id)

    await service.start_conversation(FLOW, "ru", web)  # records the flow version once
    hops[0] = 0
    began, cpu_began, main_began = time.perf_counter(), time.process_time(), time.thread_time()
    await asyncio.gather(*(visitor(n) for n in range(visitors)))
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    main_cpu = time.thread_time() - main_began
    await store.aclose()
    await engine.dispose()
    return Figures(turns, elapsed, cpu, main_cpu), store


def engine_cost(turns: int) -> float:
    """Microseconds of pure ``engine.step`` per turn (the same visitor behaviour, no storage)."""
    catalog = FlowCatalog()
    flow = catalog.add(library_path(FLOW).read_text(encoding="utf-8")).flow
    rng = random.Random(0)
    now = datetime.now(UTC)
    fresh = ConversationState(flow_id=flow.id, flow_version=flow.version, locale="ru")
    turn = flow_engine.step(fresh, Inbound(kind="start"), flow, now)
    began = time.perf_counter()
    for _ in range(turns):
        turn = flow_engine.step(turn.state, next_inbound(turn.replies[-1], rng, 0), flow, now)
        if turn.replies and turn.replies[-1].question_id is None:
            turn = flow_engine.step(fresh, Inbound(kind="start"), flow, now)
    return (time.perf_counter() - began) / turns * 1e6


def raw_sqlite(path: Path, turns: int) -> Figures:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        db.execute(pragma)
    db.execute("CREATE TABLE conv (id TEXT PRIMARY KEY, state TEXT, version INTEGER)")
    db.execute("CREATE TABLE msg (id INTEGER PRIMARY KEY, conv TEXT, body TEXT)")
    ids = [uuid.uuid4().hex for _ in range(200)]
    db.executemany("INSERT INTO conv VALUES (?, '{}', 1)", [(i,) for i in ids])
    began = time.perf_counter()
    for n in range(turns):
        cid = ids[n % len(ids)]
        db.execute("SELECT state, version FROM conv WHERE id = ?", (cid,)).fetchone()
        db.execute("INSERT INTO msg (conv, body) VALUES (?, ?)", (cid, '{"kind":"text","text":"120"}'))
    elapsed = time.perf_counter() - began
    db.close()
    return Figures(turns, elapsed)


async def raw_asyncpg(dsn: str, turns: int, visitors: int) -> Figures:
    pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE conv (id uuid PRIMARY KEY, state jsonb, version int)")
        await conn.execute("CREATE TABLE msg (id bigserial PRIMARY KEY, conv uuid, body jsonb)")
        ids = [uuid.uuid4() for _ in range(visitors)]
        await conn.executemany("INSERT INTO conv VALUES ($1, '{}', 1)", [(i,) for i in ids])
    remaining = [turns]

    async def visitor(cid: uuid.UUID) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            async with pool.acquire() as conn, conn.transaction():
                await conn.fetchrow("SELECT state, version FROM conv WHERE id = $1", cid)
                await conn.execute(
                    "INSERT INTO msg (conv, body) VALUES ($1, $2)", cid, '{"kind":"text","text":"120"}'
                )

    began = time.perf_counter()
    await asyncio.gather(*(visitor(i) for i in ids))
    elapsed = time.perf_counter() - began
    await pool.close()
    return Figures(turns, elapsed)


def count_hops(counter: list[int]) -> None:
    """Count every call that crosses into aiosqlite's worker thread."""
    original: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return await original(self, fn, *args, **kwargs)

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]


def report(
    name: str,
    service: Figures,
    baseline: Figures,
    baseline_name: str,
    store: SqlConversationStore,
    step_us: float,
) -> None:
    stats = store.stats
    cpu_us = service.cpu_seconds / service.turns * 1e6
    print(f"\n{name}")
    print(f"  service   {service.rate:9,.0f} turns/s  ({service.turns} turns in {service.seconds:.1f} s)")
    main_us = service.main_cpu_seconds / service.turns * 1e6
    writer_us = stats.cpu_seconds / service.turns * 1e6
    print(
        f"  cpu       {cpu_us:9,.0f} us of this process's CPU per turn, all threads "
        f"({service.cpu_seconds / service.seconds:.0%} of one core used); one free core would do "
        f"{1e6 / cpu_us:,.0f} turns/s"
    )
    print(
        f"            main thread {main_us:.0f} us = engine.step {step_us:.0f} us (measured alone) "
        f"+ service, stores, event loop and visitors {main_us - step_us:.0f} us; "
        f"writer thread {writer_us:.0f} us; other threads {max(0.0, cpu_us - main_us - writer_us):.0f} us"
        " (the three clocks are read apart, so a few us either way are noise)"
    )
    print(f"  baseline  {baseline.rate:9,.0f} turns/s  ({baseline_name})")
    print(f"  ratio     {service.rate / baseline.rate:9.2f}  service / baseline")
    print(
        f"  writer    {stats.ops} writes in {stats.batches} transactions: "
        f"{stats.ops / max(stats.batches, 1):.1f} per commit on average, largest {stats.largest_batch}"
    )
    print(
        f"  statements {stats.statements / max(stats.ops, 1):.2f} per write, "
        f"{stats.statements / max(stats.batches, 1):.1f} per batch (one SELECT of the versions, one of "
        "the identities' owners, then one multi-row statement per table written), plus BEGIN and COMMIT"
    )
    print(
        f"  reads     state cache hits {store.cache_hits}, misses {store.cache_misses}; "
        f"{store.key_reads} reads by key in all ({store.key_reads / service.turns:.2f} per turn)"
    )
    sqlite = name.startswith("SQLite")
    handovers = 2 * stats.batches + (2 * store.key_reads if sqlite else 0)
    why = "2 per write batch, 2 per read by key" if sqlite else "2 per write batch; reads stay on the loop"
    print(f"  threads   {handovers / service.turns:.2f} hand-overs between threads per turn ({why})")


Summary = tuple[str, Figures, Figures]


async def bench_sqlite(turns: int, visitors: int, step_us: float) -> Summary:
    hops = [0]
    count_hops(hops)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        figures, store = await run_service(url, turns, visitors, hops)
        baseline = raw_sqlite(Path(tmp) / "raw.db", turns)
    report("SQLite (WAL, synchronous=NORMAL)", figures, baseline, "raw sqlite3, same pragmas", store, step_us)
    print(
        f"  aiosqlite {hops[0] / figures.turns:.2f} aiosqlite hops per turn on the hot path "
        f"(each ~70-130 us; a naive async-ORM turn takes 15-20)"
    )
    return "SQLite", figures, baseline


async def bench_postgres(turns: int, visitors: int, step_us: float) -> Summary | None:
    admin_dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        print(f"\nPostgreSQL: skipped, {POSTGRES_URL} is unreachable ({exc})")
        return None
    name = f"qualibot_bench_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade, url)
        figures, store = await run_service(url, turns, visitors, [0])
        raw_dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        baseline = await raw_asyncpg(raw_dsn, turns, visitors)
        report(
            "PostgreSQL (asyncpg)", figures, baseline, "raw asyncpg, one transaction per turn", store, step_us
        )
        return "PostgreSQL", figures, baseline
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    step_us = engine_cost(min(args.turns, 5_000))
    print(f"{args.turns} turns by {args.visitors} concurrent visitors on the {FLOW} flow")
    summaries: list[Summary | None] = []
    if args.backend in ("sqlite", "both"):
        summaries.append(await bench_sqlite(args.turns, args.visitors, step_us))
    if args.backend in ("postgresql", "both"):
        summaries.append(await bench_postgres(args.turns, args.visitors, step_us))
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nSummary (load average {load}; engine.step alone {step_us:.0f} us per turn)")
    for summary in summaries:
        if summary is not None:
            name, service, baseline = summary
            cpu_us = service.cpu_seconds / service.turns * 1e6
            print(
                f"  {name:<11} service {service.rate:7,.0f} turns/s  "
                f"raw baseline {baseline.rate:8,.0f} turns/s  ratio {service.rate / baseline.rate:.2f}  "
                f"CPU {cpu_us:,.0f} us/turn"
            )


if __name__ == "__main__":
    asyncio.run(main())
