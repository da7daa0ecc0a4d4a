"""The conversation service over the real SQL stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.errors import ConversationNotFound, FlowNotFound, InvalidLocale
from flows.model import Inbound, Stage
from storage.db import make_engine
from storage.tables import (
    Conversation,
    EngagementEvent,
    Lead,
    LeadIdentity,
    Message,
    OutboxEvent,
    ScoreSnapshotRow,
)

if TYPE_CHECKING:
    from tests.storage.conftest import Stack, StackFactory

FLOW_ID = "storage_demo"
ANSWERS = (Inbound.tap("large"), Inbound.tap("ceo"), Inbound.tap("soon"))
EMAIL = "Ivan.Petrov@Example.com"


async def _rows(engine: AsyncEngine, model: Any, **where: Any) -> list[Any]:
    query = select(model.__table__)
    for column, value in where.items():
        query = query.where(model.__table__.c[column] == value)
    async with engine.connect() as conn:
        return list((await conn.execute(query)).mappings())


async def _count(engine: AsyncEngine, model: Any, **where: Any) -> int:
    query = select(func.count()).select_from(model.__table__)
    for column, value in where.items():
        query = query.where(model.__table__.c[column] == value)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def _answer_all(stack: Stack, cid: uuid.UUID, email: str = EMAIL) -> None:
    for inbound in ANSWERS:
        await stack.service.handle_message(cid, inbound)
    await stack.service.handle_message(cid, Inbound.typed(email))


async def test_full_conversation_to_mql_writes_one_outbox_row(stack: Stack, engine: AsyncEngine) -> None:
    started = await stack.service.start_conversation(
        FLOW_ID, "web", "en", {"visitor_id": "v-1", "utm_source": "newsletter", "referrer": "https://x.test/"}
    )
    assert started.returning is False
    assert [r.text for r in started.replies] == ["Hello!", "What is your budget?"]
    cid = started.conversation_id

    await _answer_all(stack, cid)

    view = await stack.service.get_conversation(str(cid))
    state = view.conversation.state
    assert state.completed
    assert state.stage is Stage.MQL
    assert view.conversation.version == 1 + 4
    assert view.score is not None
    assert view.score.total == 80
    assert view.score.tier == "A"
    assert view.score.stage is Stage.MQL
    assert view.score.breakdown
    inbound = [m for m in view.transcript if m.direction == "in"]
    assert [m.kind for m in inbound] == ["start", "choice", "choice", "choice", "text"]
    assert inbound[-1].text == EMAIL
    assert [m.text for m in view.transcript if m.direction == "out"][-1] == "Thanks, we will write"
    assert [m.seq for m in view.transcript] == sorted(m.seq for m in view.transcript)

    outbox = await _rows(engine, OutboxEvent)
    assert [row["type"] for row in outbox] == ["lead.mql"]
    payload = outbox[0]["payload"]
    assert payload["lead_id"] == str(started.lead_id)
    assert payload["conversation_id"] == str(cid)
    assert set(payload["answers"]) == {"budget", "role", "timing", "email"}
    assert payload["answers"]["budget"]["value"] == ["large"]
    assert payload["answers"]["role"]["question"] == "Who decides?"
    assert payload["score"] == 80
    assert payload["tier"] == "A"
    assert payload["stage"] == "mql"
    assert sum(line["points"] for line in payload["score_breakdown"]) == 80
    assert payload["source"]["utm_source"] == "newsletter"
    assert payload["source"]["referrer"] == "https://x.test/"
    assert outbox[0]["status"] == "pending"
    assert outbox[0]["attempts"] == 0

    lead = (await _rows(engine, Lead, id=started.lead_id))[0]
    assert lead["stage"] == "mql"
    assert lead["score"] == 80
    assert lead["tier"] == "A"
    assert lead["email"] is not None
    assert lead["email"].lower() == EMAIL.lower()
    kinds = {
        (row["kind"], row["value"]) for row in await _rows(engine, LeadIdentity, lead_id=started.lead_id)
    }
    assert kinds == {("web_visitor", "v-1"), ("email", EMAIL.lower())}
    assert await _count(engine, ScoreSnapshotRow, conversation_id=cid) == 1


async def test_a_failure_during_the_save_leaves_neither_stage_nor_outbox(
    stack: Stack, engine: AsyncEngine
) -> None:
    cid = (
        await stack.service.start_conversation(FLOW_ID, "web", "en", {"visitor_id": "v-2"})
    ).conversation_id
    for inbound in ANSWERS:
        await stack.service.handle_message(cid, inbound)
    before = await stack.service.get_conversation(cid)

    class Injected(RuntimeError):
        pass

    def fail_after_outbox(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX_EVENTS"):
            raise Injected("the disk is full")

    # On every engine: the writer runs its own, on its own thread.
    event.listen(Engine, "after_cursor_execute", fail_after_outbox)
    try:
        with pytest.raises(Injected):
            await stack.service.handle_message(cid, Inbound.typed(EMAIL))
    finally:
        event.remove(Engine, "after_cursor_execute", fail_after_outbox)

    after = await stack.service.get_conversation(cid)
    assert after.conversation.version == before.conversation.version
    assert after.conversation.state == before.conversation.state
    assert after.conversation.state.stage is Stage.IN_PROGRESS
    assert len(after.transcript) == len(before.transcript)
    assert await _count(engine, OutboxEvent) == 0
    assert await _count(engine, ScoreSnapshotRow) == 0
    assert (await _rows(engine, Conversation, id=cid))[0]["stage"] == "in_progress"

    # The same message again goes through, once.
    await stack.service.handle_message(cid, Inbound.typed(EMAIL))
    assert [row["type"] for row in await _rows(engine, OutboxEvent)] == ["lead.mql"]
    assert (await stack.service.get_conversation(cid)).conversation.state.stage is Stage.MQL


async def test_knocked_out_lead_is_handed_off_as_disqualified(stack: Stack, engine: AsyncEngine) -> None:
    cid = (
        await stack.service.start_conversation(FLOW_ID, "telegram", "ru", {"telegram_user_id": 5})
    ).conversation_id
    replies = await stack.service.handle_message(cid, Inbound.tap("none"))
    assert [r.text for r in replies] == ["Жаль, без бюджета не выйдет."]
    outbox = await _rows(engine, OutboxEvent)
    assert [row["type"] for row in outbox] == ["lead.disqualified"]
    assert outbox[0]["payload"]["knockout"] == "no_budget"
    assert outbox[0]["payload"]["source"]["channel"] == "telegram"


async def test_returning_lead_by_telegram_id(stack: Stack) -> None:
    first = await stack.service.start_conversation(FLOW_ID, "telegram", "ru", {"telegram_user_id": 4242})
    second = await stack.service.start_conversation(FLOW_ID, "telegram", "ru", {"telegram_user_id": "4242"})
    other = await stack.service.start_conversation(FLOW_ID, "telegram", "ru", {"telegram_user_id": 4243})
    assert second.lead_id == first.lead_id
    assert second.conversation_id != first.conversation_id
    assert second.returning
    assert not first.returning
    assert other.lead_id != first.lead_id
    assert not other.returning
    state = (await stack.service.get_conversation(second.conversation_id)).conversation.state
    assert state.facts["returning"] is True
    assert state.facts["channel"] == "telegram"


async def test_returning_lead_by_email_is_merged(stack: Stack, engine: AsyncEngine) -> None:
    web = await stack.service.start_conversation(FLOW_ID, "web", "en", {"visitor_id": "browser-1"})
    await _answer_all(stack, web.conversation_id)
    tg = await stack.service.start_conversation(FLOW_ID, "telegram", "ru", {"telegram_user_id": 777})
    assert tg.lead_id != web.lead_id

    await _answer_all(stack, tg.conversation_id, email=EMAIL.upper())

    merged = await stack.service.get_conversation(tg.conversation_id)
    assert merged.conversation.lead_id == web.lead_id
    owners = {(row["kind"], row["value"]): row["lead_id"] for row in await _rows(engine, LeadIdentity)}
    assert owners == {
        ("web_visitor", "browser-1"): web.lead_id,
        ("email", EMAIL.lower()): web.lead_id,
        ("telegram", "777"): web.lead_id,
    }
    assert (await _rows(engine, Lead, id=tg.lead_id))[0]["merged_into"] == web.lead_id
    again = await stack.service.start_conversation(FLOW_ID, "telegram", "ru", {"telegram_user_id": 777})
    assert again.lead_id == web.lead_id
    assert again.returning
    handoffs = await _rows(engine, OutboxEvent)
    assert {row["payload"]["lead_id"] for row in handoffs} == {str(web.lead_id)}
    assert len(handoffs) == 2


async def test_a_conversation_keeps_the_flow_version_it_started_on(
    stack: Stack, engine: AsyncEngine, make_stack: StackFactory, flow_source: Callable[[int], str]
) -> None:
    old = await stack.service.start_conversation(FLOW_ID, "web", "en", {"visitor_id": "pin"})
    stack.catalog.add(flow_source(2), "demo_v2.yaml")

    new = await stack.service.start_conversation(FLOW_ID, "web", "en", {"visitor_id": "pin-2"})
    assert new.replies[-1].text == "What budget do you have (v2)?"
    resent = await stack.service.handle_message(old.conversation_id, Inbound(kind="start"))
    assert resent[-1].text == "What is your budget?"

    # A new process that only knows version 2 still continues the old conversation on version 1.
    fresh = make_stack(engine, 2)
    resent = await fresh.service.handle_message(old.conversation_id, Inbound(kind="start"))
    assert resent[-1].text == "What is your budget?"
    await fresh.service.handle_message(old.conversation_id, Inbound.tap("large"))
    view = await fresh.service.get_conversation(old.conversation_id)
    assert view.conversation.flow_version == 1
    assert view.conversation.state.flow_version == 1
    assert view.conversation.state.state == "role"
    assert {(r["flow_id"], r["flow_version"]) for r in await _rows(engine, Conversation)} == {
        (FLOW_ID, 1),
        (FLOW_ID, 2),
    }


async def test_engagement_events_are_recorded(stack: Stack, engine: AsyncEngine) -> None:
    cid = (await stack.service.start_conversation(FLOW_ID, "web", "en", {"visitor_id": "ev"})).conversation_id
    replies = await stack.service.handle_message(
        cid, Inbound(kind="event", name="page_view", data={"path": "/pricing"})
    )
    assert replies == ()
    rows = await _rows(engine, EngagementEvent, conversation_id=cid)
    assert [(r["name"], r["data"]) for r in rows] == [("page_view", {"path": "/pricing"})]
    state = (await stack.service.get_conversation(cid)).conversation.state
    assert state.facts["pages_seen"] == 1
    assert state.facts["last_page"] == "/pricing"


async def test_unknown_things_are_typed_errors(stack: Stack) -> None:
    with pytest.raises(ConversationNotFound):
        await stack.service.handle_message(uuid.uuid4(), Inbound.typed("hi"))
    with pytest.raises(ConversationNotFound):
        await stack.service.get_conversation("not-a-uuid")
    with pytest.raises(FlowNotFound):
        await stack.service.start_conversation("nope", "web", "en")
    with pytest.raises(InvalidLocale):
        await stack.service.start_conversation(FLOW_ID, "web", "de")


async def test_markup_is_not_stored_in_the_transcript(stack: Stack, engine: AsyncEngine) -> None:
    cid = (await stack.service.start_conversation(FLOW_ID, "web", "en")).conversation_id
    await stack.service.handle_message(cid, Inbound.typed("<script>alert(1)</script>large"))
    texts = [r["text"] for r in await _rows(engine, Message, conversation_id=cid, direction="in")]
    assert all("<script>" not in t for t in texts)


async def test_fifty_concurrent_messages_at_one_conversation(
    engine: AsyncEngine, database_url: str, make_stack: StackFactory
) -> None:
    """Three services (as three processes: own engine, cache and writer) and 50 messages at once."""
    engines = [engine, make_engine(database_url), make_engine(database_url)]
    stacks = [make_stack(e) for e in engines]
    try:
        started = await stacks[0].service.start_conversation(FLOW_ID, "web", "en", {"visitor_id": "busy"})
        cid = started.conversation_id
        paths = [f"/page/{i}" for i in range(50)]
        await asyncio.gather(
            *(
                stacks[i % 3].service.handle_message(
                    cid, Inbound(kind="event", name="page_view", data={"path": p})
                )
                for i, p in enumerate(paths)
            )
        )
        view = await stacks[1].service.get_conversation(cid)
        events = [m for m in view.transcript if m.direction == "in" and m.kind == "event"]
        assert sorted(m.payload["data"]["path"] for m in events) == sorted(paths)
        assert view.conversation.version == 1 + 50
        assert view.conversation.state.facts["pages_seen"] == 50
        assert await _count(engine, EngagementEvent, conversation_id=cid) == 50
        assert sum(s.service.retries for s in stacks) > 0, "the three writers never raced"
    finally:
        for s in stacks:
            await s.store.aclose()
        for e in engines[1:]:
            await e.dispose()
