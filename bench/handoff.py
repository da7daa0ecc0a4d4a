"""Handoff delivery: the real worker, signing and POSTing to a local receiver in another process.

    python -m bench.handoff [--backend sqlite|postgresql|both] [--deliveries N] [--rate R]
                            [--seconds S] [--outage-minutes M]

Three figures per database, each beside a baseline measured in the same run:

- **deliveries/s**: N committed events fanned out, claimed, rendered, signed, POSTed and recorded
  by one worker; baseline: the same signed body POSTed N times by a bare httpx loop with the same
  concurrency (no database), and the ratio.
- **enqueue to first attempt** at R new leads/s for S seconds: a producer commits one lead with its
  conversation and outbox event every 1/R s (a turn's transaction); the latency is from that
  commit to the receiver reading the request. p50/p95 (aim: p95 < 100 ms on one worker); baseline:
  the receiver's own round trip, a bare POST from this process.
- **outage backlog**: M minutes of events at R/s that the endpoint missed (dead-lettered), queued
  again with one replay of the time range; the time until every one is delivered (aim < 30 s).

The receiver is a plain asyncio HTTP/1.1 server (tests/handoff/receiver.py) in its own process,
answering 200 at once. The load average is printed with the figures: other work on the machine
shows in them.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
from sqlalchemy import Table, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.service import SystemClock
from handoff import payload, signing
from handoff.admin import WebhookAdmin
from handoff.settings import HandoffSettings
from handoff.transport import make_client
from handoff.worker import DeliveryWorker
from storage.db import make_engine, writer
from storage.endpoints import SqlEndpoints
from storage.migrations import upgrade
from storage.outbox import ClaimedDelivery, LeadFacts, SqlOutbox
from storage.tables import OutboxEvent, WebhookDelivery
from tests.handoff.receiver import Receiver, Respond
from tests.handoff.seed import event_payload, seed_events

POSTGRES_URL = os.environ.get(
    "QUALIBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SETTINGS = HandoffSettings(allow_private_webhooks=True)


# -- the receiver, in a process of its own ------------------------------------------------------


def _receiver_main(control: Connection) -> None:
    async def main() -> None:
        arrivals: dict[str, float] = {}

        def script(request: Any) -> Respond:
            arrivals.setdefault(request.headers["webhook-id"], request.at)
            return Respond(200)

        receiver = await Receiver(script, keep=False).start()
        control.send(receiver.port)
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, control.recv)
            if command == "arrivals":
                control.send(arrivals)
            elif command == "clear":
                arrivals.clear()
                control.send(True)
            else:
                break
        await receiver.close()

    asyncio.run(main())


class ReceiverProcess:
    def __init__(self) -> None:
        self._control, theirs = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("fork").Process(target=_receiver_main, args=(theirs,))
        self._process.start()
        self.url = f"http://127.0.0.1:{self._control.recv()}/hook"

    def arrivals(self) -> dict[str, float]:
        self._control.send("arrivals")
        result: dict[str, float] = self._control.recv()
        return result

    def clear(self) -> None:
        self._control.send("clear")
        self._control.recv()

    def stop(self) -> None:
        self._control.send("stop")
        self._process.join(10)


# -- the measurements ---------------------------------------------------------------------------


@dataclass
class Figures:
    backend: str
    deliveries: int = 0
    seconds: float = 0.0
    baseline_per_second: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    latency_count: int = 0
    baseline_latency_ms: float = 0.0
    produced_rate: float = 0.0
    backlog: int = 0
    backlog_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0


async def _delivered(engine: AsyncEngine) -> int:
    table = cast(Table, WebhookDelivery.__table__)
    async with engine.connect() as conn:
        found = await conn.execute(
            select(func.count()).select_from(table).where(table.c.status == "delivered")
        )
        return int(found.scalar_one())


async def _until_delivered(engine: AsyncEngine, count: int, within: float = 600) -> float:
    began = time.perf_counter()
    while await _delivered(engine) < count:
        if time.perf_counter() - began > within:
            raise RuntimeError(f"not delivered within {within} s")
        await asyncio.sleep(0.05)
    return time.perf_counter() - began


class RunningWorker:
    def __init__(self, engine: AsyncEngine) -> None:
        self._client = make_client(timeout=SETTINGS.webhook_timeout, allow_private=True)
        self._outbox = SqlOutbox(engine)
        self.worker = DeliveryWorker(self._outbox, self._client, SETTINGS, SystemClock())
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DeliveryWorker:
        self._task = asyncio.create_task(self.worker.run(self._stop))
        return self.worker

    async def __aexit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self._outbox.aclose()
        await self._client.aclose()


async def _analyze(engine: AsyncEngine) -> None:
    """What autovacuum does within a minute of the tables growing (fresh benchmark databases
    start with no statistics at all)."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()


async def throughput(engine: AsyncEngine, count: int, figures: Figures) -> None:
    await seed_events(engine, count)
    await _analyze(engine)
    already = await _delivered(engine)
    async with RunningWorker(engine):
        figures.seconds = await _until_delivered(engine, already + count)
    figures.deliveries = count


async def baseline_posts(url: str, count: int, concurrency: int) -> float:
    """Deliveries/s of a bare httpx loop: the same kind of signed body, no database."""
    lead = uuid.uuid4()
    conversation = uuid.uuid4()
    delivery = ClaimedDelivery(
        id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        event_type="lead.sql",
        event_at=datetime.now(UTC),
        lead_id=lead,
        conversation_id=conversation,
        attempts=0,
        url=url,
        secrets=(signing.new_secret(),),
        stage_map={},
        payload=event_payload("lead.sql", lead, conversation),
        lead=LeadFacts("sql", "A", 82, None, None, None, None),
    )
    async with make_client(timeout=15, allow_private=True) as client:
        queue = list(range(count))

        async def one() -> None:
            while queue:
                queue.pop()
                body = payload.render(delivery, SETTINGS.public_url)
                message = f"msg_{uuid.uuid4().hex}"
                headers = signing.headers(delivery.secrets, message, int(time.time()), body)
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(concurrency)))
        return count / (time.perf_counter() - began)


async def latency(
    engine: AsyncEngine, receiver: ReceiverProcess, rate: float, seconds: float, figures: Figures
) -> None:
    receiver.clear()
    committed: dict[str, float] = {}
    async with RunningWorker(engine):
        await asyncio.sleep(0.5)
        began = time.perf_counter()
        produced = 0
        while (elapsed := time.perf_counter() - began) < seconds:
            due = began + produced / rate
            if due > time.perf_counter():
                await asyncio.sleep(due - time.perf_counter())
            [event_id] = await seed_events(engine, 1)
            committed[f"msg_{event_id.hex}"] = time.time()
            produced += 1
        figures.produced_rate = produced / elapsed
        await _all_arrived(receiver, set(committed), within=30)
    arrivals = receiver.arrivals()
    waits = sorted((arrivals[m] - at) * 1000 for m, at in committed.items() if m in arrivals)
    figures.latency_count = len(waits)
    figures.p50_ms = statistics.median(waits)
    figures.p95_ms = waits[int(len(waits) * 0.95) - 1]
    figures.p99_ms = waits[int(len(waits) * 0.99) - 1]


async def _all_arrived(receiver: ReceiverProcess, messages: set[str], within: float) -> None:
    deadline = time.perf_counter() + within
    while not messages <= set(receiver.arrivals()):
        if time.perf_counter() > deadline:
            return
        await asyncio.sleep(0.2)


async def baseline_round_trip(url: str, count: int = 200) -> float:
    async with httpx.AsyncClient() as client:
        times = []
        for _ in range(count):
            began = time.perf_counter()
            await client.post(url, content=b"{}", headers={"webhook-id": f"msg_{uuid.uuid4().hex}"})
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


async def outage(
    engine: AsyncEngine, admin: WebhookAdmin, endpoint_id: uuid.UUID, count: int, figures: Figures
) -> None:
    """``count`` events raised while the endpoint was down, dead-lettered, then replayed at once."""
    start = datetime.now(UTC) - timedelta(minutes=10)
    events = await seed_events(engine, count, at=start, step=timedelta(minutes=10) / max(count, 1))
    outbox = SqlOutbox(engine)
    # The fan-out happened when the events were raised; their tries all failed.
    table = cast(Table, OutboxEvent.__table__)
    async with engine.connect() as conn:
        pending = await conn.execute(
            select(func.count()).select_from(table).where(table.c.status == "pending")
        )
        left = int(pending.scalar_one())
    while left > 0:
        await outbox.claim("bench", datetime.now(UTC), timedelta(seconds=1), 0, fan_out_limit=5000)
        left -= 5000
    await outbox.aclose()
    deliveries = cast(Table, WebhookDelivery.__table__)
    async with writer(engine).begin() as conn:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.event_id.in_(select(table.c.id).where(table.c.created_at >= start)))
            .values(status="failed", attempts=8, last_status_code=503)
        )
    await _analyze(engine)
    already = await _delivered(engine)
    async with RunningWorker(engine):
        began = time.perf_counter()
        queued = await admin.redeliver_range(endpoint_id, start - timedelta(seconds=1))
        await _until_delivered(engine, already + queued, within=1800)
        figures.backlog_seconds = time.perf_counter() - began
    figures.backlog = len(events)


async def bench(url: str, backend: str, args: argparse.Namespace) -> Figures:
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    receiver = ReceiverProcess()
    figures = Figures(backend)
    try:
        endpoints = SqlEndpoints(engine)
        admin = WebhookAdmin(endpoints, SqlOutbox(engine), SETTINGS, SystemClock())  # async paths only
        endpoint = await admin.create(receiver.url, ["lead.sql"])
        await throughput(engine, args.deliveries, figures)
        figures.baseline_per_second = await baseline_posts(
            receiver.url, args.deliveries, SETTINGS.worker_concurrency
        )
        figures.baseline_latency_ms = await baseline_round_trip(receiver.url)
        await latency(engine, receiver, args.rate, args.seconds, figures)
        await outage(engine, admin, endpoint.id, int(args.rate * 60 * args.outage_minutes), figures)
    finally:
        receiver.stop()
        await engine.dispose()
    return figures


async def _postgres_database() -> tuple[str, str]:
    admin_dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"qualibot_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), name


async def _drop_postgres(name: str) -> None:
    admin_dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def report(all_figures: list[Figures], args: argparse.Namespace) -> None:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average {load} (1 / 5 / 15 min), {os.cpu_count()} cores")
    for f in all_figures:
        print(f"\n{f.backend}")
        ratio = f.per_second / f.baseline_per_second if f.baseline_per_second else 0
        print(
            f"  deliveries/s         {f.per_second:8,.0f}   ({f.deliveries:,} in {f.seconds:.2f} s; "
            f"baseline bare httpx {f.baseline_per_second:,.0f}/s, ratio {ratio:.2f})"
        )
        print(
            f"  enqueue -> 1st try   p50 {f.p50_ms:6.1f} ms   p95 {f.p95_ms:6.1f} ms   "
            f"p99 {f.p99_ms:6.1f} ms   "
            f"at {f.produced_rate:.0f} leads/s for {args.seconds:g} s ({f.latency_count} leads; "
            f"baseline bare POST {f.baseline_latency_ms:.1f} ms)"
        )
        rate = f.backlog / f.backlog_seconds if f.backlog_seconds else 0
        print(
            f"  outage backlog       {f.backlog_seconds:6.1f} s    to deliver {f.backlog:,} "
            f"({args.outage_minutes:g} min at {args.rate:g}/s) after one replay, {rate:,.0f}/s"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--outage-minutes", type=float, default=10)
    args = parser.parse_args()
    results = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            results.append(await bench(url, "SQLite", args))
    if args.backend in ("postgresql", "both"):
        url, name = await _postgres_database()
        try:
            results.append(await bench(url, "PostgreSQL", args))
        finally:
            await _drop_postgres(name)
    report(results, args)


if __name__ == "__main__":
    asyncio.run(main())
