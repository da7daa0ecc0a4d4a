"""Fixtures for the handoff tests: the handoff's stores over a migrated database (SQLite and
PostgreSQL), a real receiver on 127.0.0.1, events seeded the way turns write them, and a worker
running in the test's event loop with a compressed schedule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.service import SystemClock
from handoff.admin import WebhookAdmin
from handoff.settings import HandoffSettings
from handoff.transport import make_client
from handoff.worker import DeliveryWorker, Sweeper
from storage.endpoints import SqlEndpoints
from storage.outbox import SqlOutbox
from tests.handoff.receiver import Receiver, Script

FAST: dict[str, Any] = {
    "allow_private_webhooks": True,
    "retry_schedule": (0.0, 0.2, 0.2, 0.2),
    "webhook_timeout": 1.0,
    "worker_lease": 3.0,
    "worker_poll_interval": 0.02,
}


def fast_settings(**overrides: Any) -> HandoffSettings:
    return HandoffSettings(**(FAST | overrides))


@dataclass
class Handoff:
    engine: AsyncEngine
    outbox: SqlOutbox
    endpoints: SqlEndpoints
    admin: WebhookAdmin
    settings: HandoffSettings

    @asynccontextmanager
    async def worker(
        self, settings: HandoffSettings | None = None, sweeper: Sweeper | None = None
    ) -> AsyncIterator[DeliveryWorker]:
        """A worker running in this event loop until the block ends."""
        used = settings or self.settings
        client = make_client(timeout=used.webhook_timeout, allow_private=used.allow_private_webhooks)
        worker = DeliveryWorker(self.outbox, client, used, SystemClock(), sweeper=sweeper)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            yield worker
        finally:
            stop.set()
            await asyncio.wait_for(task, used.webhook_timeout + 5)
            await client.aclose()


@pytest.fixture
def handoff(engine: AsyncEngine) -> Handoff:
    settings = fast_settings()
    outbox = SqlOutbox(engine)
    endpoints = SqlEndpoints(engine)
    return Handoff(
        engine, outbox, endpoints, WebhookAdmin(endpoints, outbox, settings, SystemClock()), settings
    )


@pytest.fixture
async def receiver_factory() -> AsyncIterator[Callable[..., Any]]:
    started: list[Receiver] = []

    async def start(script: Script | None = None) -> Receiver:
        receiver = await Receiver(script).start()
        started.append(receiver)
        return receiver

    try:
        yield start
    finally:
        for receiver in started:
            await receiver.close()


@pytest.fixture
async def receiver(receiver_factory: Callable[..., Any]) -> Receiver:
    created: Receiver = await receiver_factory()
    return created


async def eventually(check: Callable[[], Any], within: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; AssertionError after ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {within} s")
        await asyncio.sleep(interval)
