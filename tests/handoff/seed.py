"""Outbox events as turns write them, straight into the tables: for the handoff tests and
``bench.handoff``, which need many events fast (the service itself is exercised elsewhere)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import writer
from storage.tables import Conversation, FlowVersion, Lead, OutboxEvent

FLOW_SOURCE = "id: seeded\nversion: 1\n"


def event_payload(event_type: str, lead_id: uuid.UUID, conversation_id: uuid.UUID) -> dict[str, Any]:
    """What a turn writes into ``outbox_events.payload``: ``flows.service.handoff_payload`` and
    what the store adds (type, the lead as the event leaves it, its contact)."""
    stage = event_type.removeprefix("lead.")
    return {
        "type": event_type,
        "lead": {
            "id": str(lead_id),
            "stage": stage,
            "previous_stage": "in_progress",
            "score": 82,
            "tier": "A",
        },
        "contact": {
            "name": "Иван Петров",
            "email": "ivan@example.ru",
            "phone": "+79161234567",
            "company": "ООО Ромашка",
        },
        "conversation": {
            "id": str(conversation_id),
            "channel": "web",
            "locale": "ru",
            "stage": stage,
            "knockout": None,
            "flow": {"id": "seeded", "version": 1, "framework": "BANT"},
        },
        "score": {
            "total": 82,
            "fit": 70,
            "engagement": 12,
            "tier": "A",
            "breakdown": [
                {
                    "category": "fit",
                    "source": "budget",
                    "dimension": "budget",
                    "answer": "около 2 млн",
                    "value": {"min": 2000000, "max": 2000000, "currency": "RUB"},
                    "points": 30,
                    "max_points": 30,
                    "reason": "Бюджет: от 1 млн ₽",
                }
            ],
        },
        "answers": {
            "budget": {
                "raw": "около 2 млн",
                "value": {"min": 2000000, "max": 2000000, "currency": "RUB"},
                "understood": True,
                "skipped": False,
                "question": "Какой бюджет на год?",
                "dimension": "budget",
            }
        },
        "source": {
            "channel": "web",
            "utm_source": "yandex",
            "utm_medium": "cpc",
            "landing_page": "https://x.test/",
        },
    }


async def seed_events(
    engine: AsyncEngine,
    count: int,
    *,
    event_type: str = "lead.sql",
    lead_ids: list[uuid.UUID] | None = None,
    at: datetime | None = None,
    step: timedelta = timedelta(microseconds=1),
) -> list[uuid.UUID]:
    """``count`` committed outbox events, one lead each (or the leads given, in turn), raised at
    ``at`` (default now) and ``step`` apart. Returns the event ids in order."""
    start = at or datetime.now(UTC)
    lead_ids = lead_ids or [uuid.uuid4() for _ in range(count)]
    flow = cast(Table, FlowVersion.__table__)
    lead_table = cast(Table, Lead.__table__)
    conversations = cast(Table, Conversation.__table__)
    outbox = cast(Table, OutboxEvent.__table__)
    known_leads = set()
    lead_rows, conversation_rows, event_rows = [], [], []
    event_ids = []
    for i in range(count):
        lead_id = lead_ids[i % len(lead_ids)]
        when = start + step * i
        conversation_id = uuid.uuid4()
        if lead_id not in known_leads:
            known_leads.add(lead_id)
            lead_rows.append(
                {
                    "id": lead_id,
                    "stage": event_type.removeprefix("lead."),
                    "score": 82,
                    "tier": "A",
                    "name": "Иван Петров",
                    "email": f"ivan{i}@example.ru",
                    "phone": "+79161234567",
                    "company": "ООО Ромашка",
                    "created_at": when,
                    "updated_at": when,
                }
            )
        conversation_rows.append(
            {
                "id": conversation_id,
                "lead_id": lead_id,
                "channel": "web",
                "flow_id": "seeded",
                "flow_version": 1,
                "stage": event_type.removeprefix("lead."),
                "version": 1,
                "state": {},
                "created_at": when,
                "updated_at": when,
            }
        )
        event_id = uuid.uuid4()
        event_ids.append(event_id)
        event_rows.append(
            {
                "id": event_id,
                "type": event_type,
                "lead_id": lead_id,
                "conversation_id": conversation_id,
                "payload": event_payload(event_type, lead_id, conversation_id),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": when,
                "created_at": when,
            }
        )
    async with writer(engine).begin() as conn:
        existing = (await conn.execute(flow.select().where(flow.c.flow_id == "seeded"))).first()
        if existing is None:
            await conn.execute(
                insert(flow).values(
                    flow_id="seeded", version=1, sha256="0" * 64, source=FLOW_SOURCE, created_at=start
                )
            )
        known = {
            r.id
            for r in (await conn.execute(lead_table.select().where(lead_table.c.id.in_(list(known_leads)))))
        }
        fresh = [r for r in lead_rows if r["id"] not in known]
        for chunk in range(0, max(len(fresh), 1), 2000):
            if fresh[chunk : chunk + 2000]:
                await conn.execute(insert(lead_table), fresh[chunk : chunk + 2000])
        for rows, table in ((conversation_rows, conversations), (event_rows, outbox)):
            for chunk in range(0, len(rows), 2000):
                await conn.execute(insert(table), rows[chunk : chunk + 2000])
    return event_ids
