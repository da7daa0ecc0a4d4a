"""Fault tests against a real receiver on 127.0.0.1 with the schedule compressed: a 500, a hang, a
connection reset, a 410, a 429 with Retry-After; every committed lead is eventually delivered,
always with the same webhook-id; per-lead order; dead-letter; the five-day rule; a dead
endpoint beside a healthy one."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, update

from storage.tables import WebhookEndpoint
from tests.handoff.conftest import Handoff, eventually, fast_settings
from tests.handoff.receiver import Action, Hang, Received, Reset, Respond
from tests.handoff.seed import seed_events


def flaky(first: Action, times: int) -> Callable[[Received], Action]:
    """``first`` for the first ``times`` requests of each webhook-id, then 200."""
    seen: Counter[str] = Counter()

    def script(request: Received) -> Action:
        seen[request.headers["webhook-id"]] += 1
        return first if seen[request.headers["webhook-id"]] <= times else Respond(200)

    return script


async def _statuses(handoff: Handoff) -> dict[str, int]:
    return await handoff.outbox.counts()


async def _all_delivered(handoff: Handoff, count: int) -> bool:
    return (await handoff.outbox.counts()) == {"delivered": count}


async def test_every_lead_is_delivered_through_500s_hangs_and_resets(
    handoff: Handoff, receiver_factory: Callable[..., Any]
) -> None:
    receivers = [
        await receiver_factory(flaky(Respond(500, body=b"oops"), 2)),
        await receiver_factory(flaky(Hang(), 1)),
        await receiver_factory(flaky(Reset(), 2)),
    ]
    for receiver in receivers:
        await handoff.admin.create(receiver.url, ["lead.mql"])
    events = await seed_events(handoff.engine, 5, event_type="lead.mql")

    async with handoff.worker(fast_settings(webhook_timeout=0.5)):
        await eventually(lambda: _all_delivered(handoff, 15), within=20)

    expected_ids = {f"msg_{e.hex}" for e in events}
    for receiver, tries in zip(receivers, (3, 2, 3), strict=True):
        ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
        assert set(ids) == expected_ids
        assert set(ids.values()) == {tries}


async def test_a_hang_is_cut_at_the_timeout_and_recorded(
    handoff: Handoff, receiver_factory: Callable[..., Any]
) -> None:
    receiver = await receiver_factory(flaky(Hang(), 1))
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    await seed_events(handoff.engine, 1)
    async with handoff.worker(fast_settings(webhook_timeout=0.3)):
        await eventually(lambda: _all_delivered(handoff, 1))
    [delivery] = await handoff.outbox.deliveries_of_endpoint(endpoint.id)
    first, second = await handoff.outbox.attempts_of(delivery.id)
    assert first.status_code is None
    assert first.error == "no answer within 0.3 s"
    assert 250 <= first.latency_ms < 2000
    assert second.status_code == 200


async def test_a_reset_is_recorded_as_an_error(
    handoff: Handoff, receiver_factory: Callable[..., Any]
) -> None:
    receiver = await receiver_factory(flaky(Reset(), 1))
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    await seed_events(handoff.engine, 1)
    async with handoff.worker():
        await eventually(lambda: _all_delivered(handoff, 1))
    [delivery] = await handoff.outbox.deliveries_of_endpoint(endpoint.id)
    first, _second = await handoff.outbox.attempts_of(delivery.id)
    assert first.status_code is None
    assert first.error is not None
    assert first.error.startswith(("RemoteProtocolError", "ReadError", "ConnectError"))


async def test_429_waits_for_retry_after(handoff: Handoff, receiver_factory: Callable[..., Any]) -> None:
    receiver = await receiver_factory(flaky(Respond(429, headers={"Retry-After": "1"}, body=b"slow down"), 1))
    await handoff.admin.create(receiver.url, ["lead.sql"])
    await seed_events(handoff.engine, 1)
    # The schedule alone would retry after 0.2 s; the receiver asked for a second.
    async with handoff.worker():
        first, second = await receiver.wait_for(2, within=10)
    assert second.at - first.at >= 0.95
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


async def test_410_disables_the_endpoint_and_its_deliveries_wait_for_it(
    handoff: Handoff, receiver_factory: Callable[..., Any]
) -> None:
    gone = True
    receiver = await receiver_factory(lambda _r: Respond(410, body=b"gone") if gone else Respond(200))
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    await seed_events(handoff.engine, 3)
    async with handoff.worker():
        await eventually(lambda: _disabled(handoff, endpoint.id))
        await asyncio.sleep(0.6)  # three retry intervals: nothing more is sent to a disabled endpoint
        sent_while_disabled = len(receiver.requests)
        assert sent_while_disabled <= 3  # the first tries, at most one per lead
        assert (await handoff.outbox.counts()) == {"pending": 3}
        disabled = await handoff.admin.get(endpoint.id)
        assert disabled.disabled_reason == "the endpoint answered 410 Gone"

        gone = False
        await handoff.admin.update(endpoint.id, enabled=True)
        await eventually(lambda: _all_delivered(handoff, 3))
    assert (await handoff.admin.get(endpoint.id)).status == "active"


async def _disabled(handoff: Handoff, endpoint_id: uuid.UUID) -> bool:
    return (await handoff.admin.get(endpoint_id)).status == "disabled"


async def test_after_the_last_try_the_delivery_is_dead_lettered(
    handoff: Handoff, receiver_factory: Callable[..., Any]
) -> None:
    receiver = await receiver_factory(lambda _r: Respond(503, body=b"maintenance"))
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    await seed_events(handoff.engine, 1)
    async with handoff.worker(fast_settings(retry_schedule=(0.0, 0.05, 0.05))):
        await eventually(lambda: _statuses_are(handoff, {"failed": 1}))
    assert len(receiver.requests) == 3
    [delivery] = await handoff.outbox.deliveries_of_endpoint(endpoint.id)
    assert delivery.status == "failed"
    assert delivery.attempts == 3
    assert delivery.last_status_code == 503
    assert delivery.next_attempt_at is None
    assert [a.number for a in await handoff.outbox.attempts_of(delivery.id)] == [1, 2, 3]


async def _statuses_are(handoff: Handoff, wanted: dict[str, int]) -> bool:
    return (await handoff.outbox.counts()) == wanted


async def test_an_endpoint_failing_for_the_configured_time_is_disabled(
    handoff: Handoff, receiver_factory: Callable[..., Any]
) -> None:
    receiver = await receiver_factory(lambda _r: Respond(500))
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    # It has been failing for five days already.
    table = cast(Table, WebhookEndpoint.__table__)
    async with handoff.engine.begin() as conn:
        await conn.execute(
            update(table)
            .where(table.c.id == endpoint.id)
            .values(failing_since=datetime.now(UTC) - timedelta(days=5, minutes=1))
        )
    await seed_events(handoff.engine, 1)
    async with handoff.worker():
        await eventually(lambda: _disabled(handoff, endpoint.id))
    disabled = await handoff.admin.get(endpoint.id)
    assert disabled.disabled_reason == "every delivery failed for 5 days"
    assert (await handoff.outbox.counts()) == {"pending": 1}


async def test_a_success_clears_the_failing_clock(
    handoff: Handoff, receiver_factory: Callable[..., Any]
) -> None:
    receiver = await receiver_factory(flaky(Respond(500), 1))
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    await seed_events(handoff.engine, 1)
    async with handoff.worker():
        await eventually(lambda: _all_delivered(handoff, 1))
    assert (await handoff.admin.get(endpoint.id)).failing_since is None


async def test_events_of_one_lead_reach_an_endpoint_in_order(
    handoff: Handoff, receiver_factory: Callable[..., Any]
) -> None:
    # The first try of every message fails: without per-lead order the later events would
    # overtake the earlier ones while those wait for their retry.
    receiver = await receiver_factory(flaky(Respond(500), 1))
    await handoff.admin.create(receiver.url, ["lead.mql", "lead.sql", "lead.updated"])
    lead = uuid.uuid4()
    at = datetime.now(UTC)
    first = await seed_events(handoff.engine, 1, event_type="lead.mql", lead_ids=[lead], at=at)
    second = await seed_events(
        handoff.engine, 1, event_type="lead.sql", lead_ids=[lead], at=at + timedelta(seconds=1)
    )
    third = await seed_events(
        handoff.engine, 1, event_type="lead.updated", lead_ids=[lead], at=at + timedelta(seconds=2)
    )
    async with handoff.worker():
        await eventually(lambda: _all_delivered(handoff, 3))
    order = [r.headers["webhook-id"] for r in receiver.requests]
    expected = [f"msg_{e.hex}" for e in (*first, *second, *third)]
    assert order == [expected[0], expected[0], expected[1], expected[1], expected[2], expected[2]]


async def test_a_dead_endpoint_beside_a_healthy_one_leaves_its_latency_unchanged(
    handoff: Handoff, receiver_factory: Callable[..., Any]
) -> None:
    """The healthy endpoint's time from event to arrival, alone and then beside an endpoint that
    hangs every request until the timeout: the medians stay close, and no delivery waits for the
    dead one's timeout."""
    settings = fast_settings(
        webhook_timeout=1.0, retry_schedule=(0.0, 0.05), worker_concurrency_per_endpoint=4
    )
    healthy = await receiver_factory()
    await handoff.admin.create(healthy.url, ["lead.sql"])

    async def latencies(count: int) -> list[float]:
        already = len(healthy.requests)
        sent: list[float] = []
        for _ in range(count):
            sent.append(time.time())
            await seed_events(handoff.engine, 1)
            await healthy.wait_for(already + len(sent), within=10)
            await asyncio.sleep(0.01)
        return [r.at - s for r, s in zip(healthy.requests[already:], sent, strict=True)]

    async with handoff.worker(settings):
        alone = await latencies(20)
        dead = await receiver_factory(lambda _r: Hang())
        await handoff.admin.create(dead.url, ["lead.sql"])
        beside_dead = await latencies(20)
        assert len(dead.requests) >= 4  # the dead endpoint was being tried all along
    assert statistics.median(beside_dead) < statistics.median(alone) + 0.1
    assert max(beside_dead) < 0.6  # never once held up for the dead endpoint's 1 s timeout
