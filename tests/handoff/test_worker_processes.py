"""`qualibot worker` as real processes: killed between the receiver's 2xx and marking the delivery
sent, the delivery is sent again exactly once with the same webhook-id; two workers on PostgreSQL
share 10,000 deliveries and never send one twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.tables import WebhookAttempt
from tests.handoff.conftest import Handoff, eventually
from tests.handoff.receiver import Received, Respond, StallAfterStatus
from tests.handoff.seed import seed_events

pytestmark = pytest.mark.slow


def _env(database_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIBOT_")}
    env |= {
        "QUALIBOT_DATABASE_URL": database_url,
        "QUALIBOT_ALLOW_PRIVATE_WEBHOOKS": "1",
        "QUALIBOT_WORKER_POLL_INTERVAL": "0.02",
        "QUALIBOT_LOG_LEVEL": "WARNING",
    }
    return env | {f"QUALIBOT_{k.upper()}": v for k, v in settings.items()}


@asynccontextmanager
async def worker_process(database_url: str, **settings: str) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "qualibot.cli",
        "worker",
        env=_env(database_url, **settings),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_a_worker_killed_after_the_2xx_redelivers_exactly_once_with_the_same_id(
    handoff: Handoff, database_url: str, receiver_factory: Callable[..., Any]
) -> None:
    def script(_request: Received) -> Any:
        # The first answer is a 200 whose body never comes: the worker has its 2xx but cannot
        # have marked the delivery sent when it is killed.
        return StallAfterStatus(200) if not receiver.requests[:-1] else Respond(200)

    receiver = await receiver_factory(script)
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    [event_id] = await seed_events(handoff.engine, 1)

    async with worker_process(database_url, worker_lease="3", webhook_timeout="2.5") as doomed:
        [first] = await receiver.wait_for(1, within=20)
        await eventually(lambda: first.answered_at is not None)
        doomed.kill()
        await doomed.wait()
    [delivery] = await handoff.outbox.deliveries_of_endpoint(endpoint.id)
    assert delivery.status == "pending"
    assert await handoff.outbox.attempts_of(delivery.id) == []

    async with worker_process(database_url, worker_lease="3", webhook_timeout="2.5"):
        [_, second] = await receiver.wait_for(2, within=20)
        await eventually(lambda: _status(handoff, endpoint.id, "delivered"), within=10)
        await asyncio.sleep(1.0)  # nothing more comes
    assert len(receiver.requests) == 2
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"msg_{event_id.hex}"
    [delivery] = await handoff.outbox.deliveries_of_endpoint(endpoint.id)
    [attempt] = await handoff.outbox.attempts_of(delivery.id)
    assert attempt.status_code == 200


async def _status(handoff: Handoff, endpoint_id: Any, status: str) -> bool:
    [delivery] = await handoff.outbox.deliveries_of_endpoint(endpoint_id)
    return delivery.status == status


async def test_two_workers_on_postgresql_never_send_a_delivery_twice(
    handoff: Handoff, database_url: str, backend: str, receiver_factory: Callable[..., Any]
) -> None:
    if backend != "postgresql":
        pytest.skip("several workers are for PostgreSQL; SQLite runs one")
    count = 10_000
    receiver = await receiver_factory(lambda _r: Respond(200, delay=0.002))
    await handoff.admin.create(receiver.url, ["lead.sql"])
    await seed_events(handoff.engine, count)

    settings = {"worker_concurrency": "32", "worker_batch": "100"}
    async with worker_process(database_url, **settings), worker_process(database_url, **settings):
        await eventually(lambda: _delivered(handoff, count), within=240, interval=0.5)

    ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert len(ids) == count
    assert set(ids.values()) == {1}
    async with handoff.engine.connect() as conn:
        by_worker: dict[str, int] = dict(
            (
                await conn.execute(
                    select(WebhookAttempt.__table__.c.worker, func.count()).group_by(
                        WebhookAttempt.__table__.c.worker
                    )
                )
            ).all()
        )
    assert len(by_worker) == 2, by_worker  # both took a share
    assert sum(by_worker.values()) == count


async def _delivered(handoff: Handoff, count: int) -> bool:
    return (await handoff.outbox.counts()).get("delivered", 0) >= count
