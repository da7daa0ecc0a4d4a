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
from flows.model import Channel, Inbound, Source, Stage, TurnResult
from flows.ports import TELEGRAM, WEB_VISITOR, Identity
from storage.db import make_engine
from storage.tables import (
    Conversation,
    EngagementEvent,
    Lead,
    LeadIdentity,
    LeadMatch,
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


async def _web(stack: Stack, visitor: str | None = None, locale: str = "en", **source: Any) -> TurnResult:
    identity = Identity(WEB_VISITOR, visitor) if visitor is not None else None
    return await stack.service.start_conversation(
        FLOW_ID, locale, Source(channel=Channel.WEB, **source), identity=identity
    )


async def _telegram(stack: Stack, user: int) -> TurnResult:
    return await stack.service.start_conversation(
        FLOW_ID, "ru", Source(channel=Channel.TELEGRAM), identity=Identity(TELEGRAM, str(user))
    )


async def _answer_all(stack: Stack, cid: uuid.UUID, email: str = EMAIL) -> None:
    for inbound in ANSWERS:
        await stack.service.handle_message(cid, inbound)
    await stack.service.handle_message(cid, Inbound.typed(email))


async def test_full_conversation_to_mql_writes_one_outbox_row(stack: Stack, engine: AsyncEngine) -> None:
    started = await _web(stack, "v-1", utm={"source": "newsletter"}, referrer="https://x.test/")
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
    assert payload["type"] == "lead.mql"
    assert payload["lead"] == {
        "id": str(started.lead_id),
        "stage": "mql",
        "previous_stage": "in_progress",
        "score": 80,
        "tier": "A",
    }
    assert payload["contact"]["email"] == EMAIL.lower()
    assert payload["conversation"]["id"] == str(cid)
    assert payload["conversation"]["flow"] == {"id": FLOW_ID, "version": 1, "framework": "BANT"}
    assert set(payload["answers"]) == {"budget", "role", "timing", "email"}
    assert payload["answers"]["budget"]["value"] == ["large"]
    assert payload["answers"]["role"]["question"] == "Who decides?"
    assert (payload["score"]["total"], payload["score"]["tier"]) == (80, "A")
    assert sum(line["points"] for line in payload["score"]["breakdown"]) == 80
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
    cid = (await _web(stack, "v-2")).conversation_id
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
    cid = (await _telegram(stack, 5)).conversation_id
    result = await stack.service.handle_message(cid, Inbound.tap("none"))
    assert [r.text for r in result.replies] == ["Жаль, без бюджета не выйдет."]
    assert result.done
    outbox = await _rows(engine, OutboxEvent)
    assert [row["type"] for row in outbox] == ["lead.disqualified"]
    assert outbox[0]["payload"]["conversation"]["knockout"] == "no_budget"
    assert outbox[0]["payload"]["source"]["channel"] == "telegram"


async def test_returning_lead_by_telegram_id(stack: Stack) -> None:
    first = await _telegram(stack, 4242)
    second = await _telegram(stack, 4242)
    other = await _telegram(stack, 4243)
    assert second.lead_id == first.lead_id
    assert second.conversation_id != first.conversation_id
    assert second.returning
    assert not first.returning
    assert other.lead_id != first.lead_id
    assert not other.returning
    state = (await stack.service.get_conversation(second.conversation_id)).conversation.state
    assert state.facts["returning"] is True
    assert state.facts["channel"] == "telegram"


async def test_a_typed_email_of_another_lead_never_merges_it(stack: Stack, engine: AsyncEngine) -> None:
    web = await _web(stack, "browser-1")
    await _answer_all(stack, web.conversation_id)
    tg = await _telegram(stack, 777)
    assert tg.lead_id != web.lead_id

    await _answer_all(stack, tg.conversation_id, email=EMAIL.upper())

    kept = await stack.service.get_conversation(tg.conversation_id)
    assert kept.conversation.lead_id == tg.lead_id
    owners = {(row["kind"], row["value"]): row["lead_id"] for row in await _rows(engine, LeadIdentity)}
    assert owners == {
        ("web_visitor", "browser-1"): web.lead_id,
        ("email", EMAIL.lower()): web.lead_id,
        ("telegram", "777"): tg.lead_id,
    }
    assert (await _rows(engine, Lead, id=tg.lead_id))[0]["merged_into"] is None
    matches = await _rows(engine, LeadMatch)
    assert [(m["lead_id"], m["other_lead_id"], m["kind"]) for m in matches] == [
        (tg.lead_id, web.lead_id, "email")
    ]
    again = await _telegram(stack, 777)
    assert again.lead_id == tg.lead_id
    assert again.returning
    handoffs = await _rows(engine, OutboxEvent)
    assert sorted(row["lead_id"] for row in handoffs) == sorted([web.lead_id, tg.lead_id])


async def test_a_conversation_keeps_the_flow_version_it_started_on(
    stack: Stack, engine: AsyncEngine, make_stack: StackFactory, flow_source: Callable[[int], str]
) -> None:
    old = await _web(stack, "pin")
    stack.catalog.add(flow_source(2), "demo_v2.yaml")

    new = await _web(stack, "pin-2")
    assert new.replies[-1].text == "What budget do you have (v2)?"
    resent = await stack.service.current(old.conversation_id)
    assert resent.replies[-1].text == "What is your budget?"

    # A new process that only knows version 2 still continues the old conversation on version 1.
    fresh = make_stack(engine, 2)
    resent = await fresh.service.current(old.conversation_id)
    assert resent.replies[-1].text == "What is your budget?"
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
    cid = (await _web(stack, "ev")).conversation_id
    result = await stack.service.handle_message(
        cid, Inbound(kind="event", name="page_view", data={"path": "/pricing", "title": "Цены", "x": [1]})
    )
    assert result.replies == ()
    assert result.question_id == "budget"
    rows = await _rows(engine, EngagementEvent, conversation_id=cid)
    assert [(r["name"], r["data"]) for r in rows] == [("page_view", {"path": "/pricing", "title": "Цены"})]
    state = (await stack.service.get_conversation(cid)).conversation.state
    assert state.facts["pages_seen"] == 1
    assert state.facts["last_page"] == "/pricing"


async def test_unknown_things_are_typed_errors(stack: Stack) -> None:
    with pytest.raises(ConversationNotFound):
        await stack.service.handle_message(uuid.uuid4(), Inbound.typed("hi"))
    with pytest.raises(ConversationNotFound):
        await stack.service.get_conversation("not-a-uuid")
    with pytest.raises(FlowNotFound):
        await stack.service.start_conversation("nope", "en", Source(channel=Channel.WEB))
    with pytest.raises(InvalidLocale):
        await _web(stack, locale="de")


async def test_markup_is_kept_as_text_and_never_understood_as_markup(
    stack: Stack, engine: AsyncEngine
) -> None:
    cid = (await _web(stack)).conversation_id
    sent = "<script>alert(1)</script>Large"
    result = await stack.service.handle_message(cid, Inbound.typed(sent))
    assert result.question_id == "role"
    texts = [r["text"] for r in await _rows(engine, Message, conversation_id=cid, direction="in")]
    assert texts == ["", sent]  # what the person sent, as text: every renderer escapes it
    answer = (await stack.service.get_conversation(cid)).conversation.state.answers["budget"]
    assert answer.raw == "Large"  # the answer is read from the cleaned text
    assert answer.value == ["large"]


async def test_fifty_concurrent_messages_at_one_conversation(
    engine: AsyncEngine, database_url: str, make_stack: StackFactory
) -> None:
    """Three services (as three processes: own engine, cache and writer) and 50 messages at once."""
    engines = [engine, make_engine(database_url), make_engine(database_url)]
    stacks = [make_stack(e) for e in engines]
    try:
        started = await _web(stacks[0], "busy")
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
