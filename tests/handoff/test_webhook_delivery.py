"""Deliveries end to end against a real receiver on 127.0.0.1, on SQLite and PostgreSQL: signed per
Standard Webhooks (checked with the ``standardwebhooks`` package), the envelope and what it
carries, one delivery per endpoint, every attempt recorded."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import cast

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.handoff.conftest import Handoff, eventually
from tests.handoff.receiver import Receiver, Respond
from tests.handoff.seed import seed_events


async def test_a_committed_event_reaches_the_endpoint_signed_and_recorded(
    handoff: Handoff, receiver: Receiver
) -> None:
    endpoint = await handoff.admin.create(
        receiver.url + "/crm", ["lead.sql"], {"mql": "Был контакт", "sal": "Hold", "sql": "Аудит"}
    )
    [event_id] = await seed_events(handoff.engine, 1)

    async with handoff.worker():
        [request] = await receiver.wait_for(1)
        await eventually(lambda: _delivered(handoff, 1))

    assert request.path == "/crm"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == f"msg_{event_id.hex}"
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "lead.sql"
    assert body["timestamp"].endswith("Z")
    lead = body["data"]["lead"]
    assert lead["stage"] == "sql"
    assert lead["crm_stage"] == "Аудит"
    assert lead["tier"] == "A"
    assert lead["score"]["total"] == 82
    assert lead["score"]["breakdown"][0]["reason"] == "Бюджет: от 1 млн ₽"
    assert lead["contact"]["name"] == "Иван Петров"
    assert lead["contact"]["phone"] == "+79161234567"
    assert lead["answers"] == [
        {
            "question_id": "budget",
            "question": "Какой бюджет на год?",
            "dimension": "budget",
            "text": "около 2 млн",
            "value": {"min": 2000000, "max": 2000000, "currency": "RUB"},
            "understood": True,
            "skipped": False,
        }
    ]
    assert lead["source"]["utm"] == {"source": "yandex", "medium": "cpc"}
    assert lead["source"]["landing_page"] == "https://x.test/"
    assert lead["transcript_url"].endswith(f"/v1/leads/{lead['id']}")
    assert lead["flow"] == {"id": "seeded", "version": 1, "framework": "BANT"}
    assert len(request.body) < 20_000

    [delivery] = await handoff.outbox.deliveries_of_endpoint(endpoint.id)
    assert delivery.status == "delivered"
    assert delivery.event_id == event_id
    [attempt] = await handoff.outbox.attempts_of(delivery.id)
    assert attempt.status_code == 200
    assert attempt.response_excerpt == "ok"
    assert attempt.error is None
    assert attempt.latency_ms >= 0


async def _delivered(handoff: Handoff, count: int) -> bool:
    return (await handoff.outbox.counts()).get("delivered", 0) >= count


async def test_a_tampered_body_or_another_secret_fails_verification(
    handoff: Handoff, receiver: Receiver
) -> None:
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    await seed_events(handoff.engine, 1)
    async with handoff.worker():
        [request] = await receiver.wait_for(1)
    Webhook(endpoint.secret).verify(request.body, request.headers)
    tampered = request.body.replace(b'"sql"', b'"mql"', 1)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(tampered, request.headers)
    other = await handoff.admin.create(receiver.url, ["lead.sql"])
    with pytest.raises(WebhookVerificationError):
        Webhook(other.secret).verify(request.body, request.headers)


async def test_each_endpoint_gets_the_events_it_takes_with_its_own_stage_names(
    handoff: Handoff, receiver_factory: object
) -> None:
    amo = await receiver_factory()  # type: ignore[operator]
    other = await receiver_factory()  # type: ignore[operator]
    amo_endpoint = await handoff.admin.create(amo.url, ["lead.mql", "lead.sql"], {"mql": "Был контакт"})
    other_endpoint = await handoff.admin.create(other.url, ["lead.sql"], {"sql": "Qualified"})
    await seed_events(handoff.engine, 2, event_type="lead.mql")
    await seed_events(handoff.engine, 1, event_type="lead.sql")

    async with handoff.worker():
        await amo.wait_for(3)
        await other.wait_for(1)
        await eventually(lambda: _delivered(handoff, 4))

    amo_bodies = [Webhook(amo_endpoint.secret).verify(r.body, r.headers) for r in amo.requests]
    assert sorted(b["type"] for b in amo_bodies) == ["lead.mql", "lead.mql", "lead.sql"]
    assert {b["data"]["lead"]["crm_stage"] for b in amo_bodies if b["type"] == "lead.mql"} == {"Был контакт"}
    assert [b["data"]["lead"]["crm_stage"] for b in amo_bodies if b["type"] == "lead.sql"] == [None]
    [other_body] = [Webhook(other_endpoint.secret).verify(r.body, r.headers) for r in other.requests]
    assert other_body["type"] == "lead.sql"
    assert other_body["data"]["lead"]["crm_stage"] == "Qualified"
    # The same event carries the same webhook-id to every endpoint.
    sql_ids = {
        r.headers["webhook-id"]
        for r in amo.requests + other.requests
        if json.loads(r.body)["type"] == "lead.sql"
    }
    assert len(sql_ids) == 1


async def test_rotation_keeps_both_secrets_signing_for_the_grace_period(
    handoff: Handoff, receiver: Receiver
) -> None:
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    rotated = await handoff.admin.rotate_secret(endpoint.id, timedelta(hours=1))
    assert rotated.secret != endpoint.secret
    assert rotated.previous_secret == endpoint.secret
    await seed_events(handoff.engine, 1)
    async with handoff.worker():
        [during] = await receiver.wait_for(1)
        # Receivers on either secret accept it while the grace period lasts.
        Webhook(endpoint.secret).verify(during.body, during.headers)
        Webhook(rotated.secret).verify(during.body, during.headers)
        assert len(during.headers["webhook-signature"].split(" ")) == 2

        # Once the grace period is over only the new secret signs.
        ended = await handoff.admin.rotate_secret(endpoint.id, timedelta(0))
        await seed_events(handoff.engine, 1)
        [_, after] = await receiver.wait_for(2)
    Webhook(ended.secret).verify(after.body, after.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    for old in (endpoint.secret, rotated.secret):
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(after.body, after.headers)


async def test_a_huge_lead_is_trimmed_under_20_kb_and_says_so(handoff: Handoff, receiver: Receiver) -> None:
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    [event_id] = await seed_events(handoff.engine, 1)
    from sqlalchemy import Table, update

    from storage.tables import OutboxEvent

    table = cast(Table, OutboxEvent.__table__)
    async with handoff.engine.begin() as conn:
        row = (await conn.execute(table.select().where(table.c.id == event_id))).one()
        payload = dict(row.payload)
        payload["answers"] = {
            f"q{i}": {
                "raw": "я" * 3000,
                "value": "я" * 3000,
                "question": "Вопрос " * 100,
                "dimension": "need",
            }
            for i in range(30)
        }
        payload["score"] = payload["score"] | {
            "breakdown": [{"category": "summary", "reason": "SQL, A " * 500, "points": 0}]
            + [{"reason": "причина " * 200, "points": 1} for _ in range(40)]
        }
        await conn.execute(update(table).where(table.c.id == event_id).values(payload=payload))

    async with handoff.worker():
        [request] = await receiver.wait_for(1)
    assert len(request.body) <= 20_000
    lead = Webhook(endpoint.secret).verify(request.body, request.headers)["data"]["lead"]
    assert lead["truncated"] is True
    assert len(lead["answers"]) == 30
    assert lead["answers"][0]["text"].startswith("я")
    assert len(lead["score"]["breakdown"]) == 41
    assert lead["score"]["summary"].startswith("SQL, A ")
    assert len(lead["score"]["summary"]) <= 500


async def test_a_non_2xx_answer_is_retried_with_the_same_id(
    handoff: Handoff, receiver_factory: object
) -> None:
    answers = iter([Respond(500, body=b"db down"), Respond(200)])
    receiver = await receiver_factory(lambda _r: next(answers))  # type: ignore[operator]
    endpoint = await handoff.admin.create(receiver.url, ["lead.sql"])
    await seed_events(handoff.engine, 1)
    async with handoff.worker():
        first, second = await receiver.wait_for(2)
        await eventually(lambda: _delivered(handoff, 1))
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    [delivery] = await handoff.outbox.deliveries_of_endpoint(endpoint.id)
    attempts = await handoff.outbox.attempts_of(delivery.id)
    assert [(a.number, a.status_code, a.error, a.response_excerpt) for a in attempts] == [
        (1, 500, "HTTP 500", "db down"),
        (2, 200, None, "ok"),
    ]
