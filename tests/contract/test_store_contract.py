"""The conversation store's contract, through the service, on every store: the in-memory one,
SQLite and PostgreSQL run the same scenarios and must behave the same.

The lead rules (a returning lead's stage never drops, a re-completion is handed off once), identity
trust (a typed e-mail of another lead is only a candidate match), answers that say what they answer
(double taps, stale buttons), idempotency keys, continuation tokens, text no database can store,
and the operators' read side.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from flows.catalog import FlowCatalog
from flows.errors import ContinuationInvalid, LeadNotFound
from flows.model import Channel, Inbound, Source, Stage, TurnResult
from flows.ports import EMAIL, TELEGRAM, WEB_VISITOR, Identity, LeadFilter
from flows.service import ConversationService
from storage.db import make_engine
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader
from storage.tables import Message, OutboxEvent
from tests.conftest import fresh_database
from tests.fakes import FakeClock, FakeFlowVersionStore, MemoryStore

FLOW = Path(__file__).parent / "flows" / "contract_demo.yaml"
FLOW_ID = "contract_demo"
WEB = Source(channel=Channel.WEB, page_url="https://example.com/pricing")
ADS = Source(channel=Channel.WEB, utm={"source": "google"})

STRONG = ("large", "Иван", "ceo", "soon", "demo", "ivan@acme.ru")  # 80 fit -> mql, a demo -> sql
WEAK = ("small", "Пётр", "manager", "later", "materials", "petr@acme.ru")  # 25 -> nurture
MID = ("large", "Анна", "ceo", "later", "materials", "anna@acme.ru")  # 65 -> mql


@dataclass
class Contract:
    """One store under test, with what the scenarios inspect of it."""

    service: ConversationService
    clock: FakeClock
    outbox: Callable[[], Awaitable[list[tuple[str, uuid.UUID, dict[str, Any]]]]]
    transcript_in: Callable[[uuid.UUID], Awaitable[list[str]]]


def _catalog() -> FlowCatalog:
    catalog = FlowCatalog()
    catalog.add(FLOW.read_text(encoding="utf-8"), str(FLOW))
    return catalog


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def contract(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Contract]:
    clock = FakeClock()
    if request.param == "memory":
        memory = MemoryStore()
        service = ConversationService(memory, FakeFlowVersionStore(), _catalog(), clock, leads=memory)

        async def memory_outbox() -> list[tuple[str, uuid.UUID, dict[str, Any]]]:
            return [(row.type, row.lead_id, row.payload) for row in memory.outbox]

        async def memory_in(cid: uuid.UUID) -> list[str]:
            return [m.text for m in memory.transcripts[cid] if m.direction == "in"]

        yield Contract(service, clock, memory_outbox, memory_in)
        return
    async with fresh_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        store = SqlConversationStore(engine)
        service = ConversationService(
            store, SqlFlowVersionStore(engine), _catalog(), clock, leads=SqlLeadReader(engine)
        )

        async def sql_outbox() -> list[tuple[str, uuid.UUID, dict[str, Any]]]:
            async with engine.connect() as conn:
                rows = await conn.execute(select(OutboxEvent).order_by(OutboxEvent.created_at))
                return [(r.type, r.lead_id, r.payload) for r in rows]

        async def sql_in(cid: uuid.UUID) -> list[str]:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    select(Message.text)
                    .where(Message.conversation_id == cid, Message.direction == "in")
                    .order_by(Message.id)
                )
                return [r.text for r in rows]

        try:
            yield Contract(service, clock, sql_outbox, sql_in)
        finally:
            await store.aclose()
            await engine.dispose()


async def _start(c: Contract, visitor: str, source: Source = WEB) -> TurnResult:
    return await c.service.start_conversation(FLOW_ID, "ru", source, identity=Identity(WEB_VISITOR, visitor))


async def _answer(c: Contract, result: TurnResult, answers: tuple[str, ...]) -> TurnResult:
    """Answer the waiting questions in order, as the widget would: taps for buttons, typed text
    for the name and e-mail, each with the question and version it was shown with."""
    for answer in answers:
        reply = result.replies[-1]
        buttons = {b.id for b in reply.buttons}
        question, version = result.question_id, result.version
        if answer in buttons:
            inbound = Inbound.tap(answer, question_id=question, version=version)
        else:
            inbound = Inbound.typed(answer, question_id=question, version=version)
        result = await c.service.handle_message(result.conversation_id, inbound)
        assert not result.stale, (answer, result.replies)
    return result


async def _types(c: Contract) -> list[str]:
    return [kind for kind, _, _ in await c.outbox()]


# --------------------------------------------------------------------------- lead rules


async def test_a_returning_lead_never_drops_a_stage(contract: Contract) -> None:
    first = await _answer(contract, await _start(contract, "v-1"), STRONG)
    assert first.done
    assert first.outcome is Stage.SQL
    lead = (await contract.service.get_lead(first.lead_id)).lead
    assert (lead.stage, lead.score, lead.tier) == (Stage.SQL, 80, "A")

    second = await _start(contract, "v-1")
    assert second.returning
    assert second.lead_id == first.lead_id
    half = await _answer(contract, second, WEAK[:2])  # a name given half-way
    assert half.question_id == "role"
    assert (await contract.service.get_lead(first.lead_id)).lead.stage is Stage.SQL

    done = await _answer(contract, half, WEAK[2:])
    assert done.outcome is Stage.NURTURE
    lead = (await contract.service.get_lead(first.lead_id)).lead
    assert (lead.stage, lead.score, lead.tier) == (Stage.SQL, 80, "A")
    assert lead.contact.name == "Пётр"  # the lead's own newer answer
    assert lead.conversations == 2
    events = await contract.outbox()
    assert [kind for kind, _, _ in events] == ["lead.sql", "lead.updated"]
    updated = events[1][2]
    assert updated["lead"]["stage"] == "sql"
    assert updated["conversation"]["stage"] == "nurture"
    assert updated["score"]["total"] == 25


async def test_a_restarted_and_completed_again_conversation_is_handed_off_once(contract: Contract) -> None:
    done = await _answer(contract, await _start(contract, "v-2"), STRONG)
    again = await contract.service.handle_message(done.conversation_id, Inbound.typed("заново"))
    assert again.question_id == "budget"
    assert not again.done
    redone = await _answer(contract, again, STRONG)
    assert redone.outcome is Stage.SQL
    assert await _types(contract) == ["lead.sql", "lead.updated"]


async def test_a_re_completion_that_moves_forward_hands_off_the_next_stage(contract: Contract) -> None:
    done = await _answer(contract, await _start(contract, "v-3"), MID)
    assert done.outcome is Stage.MQL
    again = await contract.service.handle_message(done.conversation_id, Inbound.tap("cmd:restart"))
    await _answer(contract, again, STRONG)
    assert await _types(contract) == ["lead.mql", "lead.sql"]
    assert (await contract.service.get_lead(done.lead_id)).lead.stage is Stage.SQL


async def test_a_knocked_out_visitor_does_not_disqualify_a_qualified_lead(contract: Contract) -> None:
    done = await _answer(contract, await _start(contract, "v-4"), MID)
    second = await _start(contract, "v-4")
    out = await _answer(contract, second, ("none",))
    assert out.outcome is Stage.DISQUALIFIED
    assert (await contract.service.get_lead(done.lead_id)).lead.stage is Stage.MQL
    assert await _types(contract) == ["lead.mql", "lead.updated"]


# --------------------------------------------------------------------------- identity trust


async def test_a_typed_email_of_another_lead_is_a_candidate_match_never_a_merge(contract: Contract) -> None:
    customer = await _answer(contract, await _start(contract, "customer"), STRONG)
    before = (await contract.service.get_lead(customer.lead_id)).lead
    stranger = await _start(contract, "stranger")
    done = await _answer(contract, stranger, (*WEAK[:5], "ivan@acme.ru"))
    assert done.lead_id != customer.lead_id

    after = await contract.service.get_lead(customer.lead_id)
    assert after.lead.stage is Stage.SQL
    assert (after.lead.score, after.lead.tier, after.lead.contact) == (
        before.score,
        before.tier,
        before.contact,
    )
    assert after.lead.conversations == 1
    assert [m.lead_id for m in after.candidates] == [done.lead_id]
    assert after.candidates[0].identity == Identity(EMAIL, "ivan@acme.ru")
    theirs = await contract.service.get_lead(done.lead_id)
    assert [m.lead_id for m in theirs.candidates] == [customer.lead_id]
    assert theirs.lead.stage is Stage.NURTURE
    events = await contract.outbox()
    assert [(kind, lead) for kind, lead, _ in events] == [
        ("lead.sql", customer.lead_id),
        ("lead.nurture", done.lead_id),
    ]


# ------------------------------------------------------------------------ answers that say what they answer


async def test_two_taps_of_one_button_at_once_answer_once(contract: Contract) -> None:
    started = await _start(contract, "v-5")
    tap = Inbound.tap("small", question_id="budget", version=started.version)
    first, second = await asyncio.gather(
        contract.service.handle_message(started.conversation_id, tap),
        contract.service.handle_message(started.conversation_id, tap),
    )
    assert sorted([first.stale, second.stale]) == [False, True]
    fresh = first if not first.stale else second
    stale = second if fresh is first else first
    assert fresh.version == started.version + 1
    assert stale.version == fresh.version
    assert stale.question_id == "name"
    assert stale.replies[-1].question_id == "name"
    view = await contract.service.get_conversation(started.conversation_id)
    assert view.conversation.version == started.version + 1
    assert view.conversation.state.answers["budget"].value == ["small"]
    assert await contract.transcript_in(started.conversation_id) == ["", "small"]


async def test_a_stale_button_of_an_earlier_question_changes_nothing(contract: Contract) -> None:
    started = await _start(contract, "v-6")
    at_name = await _answer(contract, started, ("large",))
    old = Inbound.tap("none", question_id="budget", version=started.version)  # the knock-out button
    stale = await contract.service.handle_message(started.conversation_id, old)
    assert stale.stale
    assert stale.version == at_name.version
    assert [r.question_id for r in stale.replies] == [None, "name"]
    assert "уже есть ответ" in stale.replies[0].text
    view = await contract.service.get_conversation(started.conversation_id)
    assert view.conversation.state.answers["budget"].value == ["large"]
    assert view.conversation.state.state == "name"
    assert await _types(contract) == []


async def test_a_button_from_before_going_back_is_stale(contract: Contract) -> None:
    started = await _start(contract, "v-7")
    at_name = await _answer(contract, started, ("large",))
    back = await contract.service.handle_message(at_name.conversation_id, Inbound.typed("назад"))
    assert back.question_id == "budget"
    old = await contract.service.handle_message(
        started.conversation_id, Inbound.tap("small", question_id="budget", version=started.version)
    )
    assert old.stale
    new = await contract.service.handle_message(
        started.conversation_id, Inbound.tap("small", question_id="budget", version=back.version)
    )
    assert not new.stale
    assert new.question_id == "name"


async def test_an_idempotency_key_applies_a_retried_request_once(contract: Contract) -> None:
    started = await _start(contract, "v-8")
    tap = Inbound.tap("large", question_id="budget", version=started.version)
    key = f"web:{started.conversation_id}:k-1"
    first = await contract.service.handle_message(started.conversation_id, tap, idempotency_key=key)
    again = await contract.service.handle_message(started.conversation_id, tap, idempotency_key=key)
    assert not first.replayed
    assert again.replayed
    assert (again.version, again.question_id, again.replies) == (
        first.version,
        first.question_id,
        first.replies,
    )
    racing = await asyncio.gather(
        *(
            contract.service.handle_message(
                started.conversation_id,
                Inbound.typed("Иван", question_id="name", version=first.version),
                idempotency_key=f"web:{started.conversation_id}:k-2",
            )
            for _ in range(3)
        )
    )
    assert sorted(r.replayed for r in racing) == [False, True, True]
    assert {r.version for r in racing} == {first.version + 1}
    assert await contract.transcript_in(started.conversation_id) == ["", "large", "Иван"]


async def test_a_retried_start_opens_one_conversation(contract: Contract) -> None:
    one = await contract.service.start_conversation(FLOW_ID, "ru", WEB, idempotency_key="tg:1:100")
    two = await contract.service.start_conversation(FLOW_ID, "ru", WEB, idempotency_key="tg:1:100")
    assert two.replayed
    assert two.conversation_id == one.conversation_id
    assert two.lead_id == one.lead_id


# --------------------------------------------------------------------------- text no database can store


async def test_nul_bytes_and_huge_markup_never_fail_a_turn(contract: Contract) -> None:
    started = await _start(contract, "v-9")
    await _answer(contract, started, ("large",))
    named = await contract.service.handle_message(started.conversation_id, Inbound.typed("Ив\x00ан"))
    assert named.question_id == "role"
    huge = "<b>" * 1_700_000  # about 5 MB of markup that cleans to nothing
    missed = await contract.service.handle_message(started.conversation_id, Inbound.typed(huge))
    assert missed.question_id == "role"  # not understood: asked again
    event = Inbound(kind="event", name="page_view", data={"url": "https://x.test/\x00a", "title": "\ud800 T"})
    await contract.service.handle_message(started.conversation_id, event)
    lines = await contract.transcript_in(started.conversation_id)
    assert lines[2] == "Иван"
    assert len(lines[3]) == 4000
    assert lines[3] == huge[:4000]  # kept as the text it was, cut to the limit; shown escaped
    view = await contract.service.get_conversation(started.conversation_id)
    assert view.conversation.state.answers["name"].value == "Иван"


# --------------------------------------------------------------------------- continuing on another channel


async def test_a_continuation_token_carries_the_conversation_to_telegram_once(contract: Contract) -> None:
    web = await _answer(contract, await _start(contract, "web-1"), ("large", "Иван"))
    link = await contract.service.issue_continuation(web.conversation_id)
    assert len(link.token) == 32
    telegram = Identity(TELEGRAM, "555")
    carried = await contract.service.redeem_continuation(link.token, telegram)
    assert carried.conversation_id == web.conversation_id
    assert carried.lead_id == web.lead_id
    assert carried.question_id == "role"
    assert carried.returning
    assert await contract.service.find_conversation(telegram) == web.conversation_id
    with pytest.raises(ContinuationInvalid):
        await contract.service.redeem_continuation(link.token, telegram)
    done = await _answer(contract, carried, STRONG[2:])
    assert done.outcome is Stage.SQL
    assert await contract.service.find_conversation(telegram) is None
    assert await contract.service.find_conversation(telegram, open_only=False) == web.conversation_id
    identities = (await contract.service.get_lead(web.lead_id)).identities
    assert Identity(TELEGRAM, "555") in identities


async def test_an_expired_or_made_up_token_is_refused(contract: Contract) -> None:
    web = await _start(contract, "web-2")
    link = await contract.service.issue_continuation(web.conversation_id, ttl=timedelta(minutes=5))
    contract.clock.at += timedelta(minutes=6)
    with pytest.raises(ContinuationInvalid):
        await contract.service.redeem_continuation(link.token, Identity(TELEGRAM, "1"))
    for token in ("", "x" * 32, "../../etc/passwd", "a" * 10_000):
        with pytest.raises(ContinuationInvalid):
            await contract.service.redeem_continuation(token, Identity(TELEGRAM, "1"))


async def test_continuing_as_a_known_telegram_user_merges_the_two_leads(contract: Contract) -> None:
    telegram = Identity(TELEGRAM, "777")
    earlier = await contract.service.start_conversation(
        FLOW_ID, "ru", Source(channel=Channel.TELEGRAM), identity=telegram
    )
    earlier = await _answer(contract, earlier, MID)
    web = await _answer(contract, await _start(contract, "web-3"), ("large",))
    link = await contract.service.issue_continuation(web.conversation_id)
    carried = await contract.service.redeem_continuation(link.token, telegram)
    assert carried.conversation_id == web.conversation_id
    assert carried.lead_id == earlier.lead_id  # the lead further along the funnel survives
    merged = await contract.service.get_lead(web.lead_id)
    assert merged.lead.id == earlier.lead_id
    assert merged.lead.stage is Stage.MQL
    assert {c.conversation.id for c in merged.conversations} == {earlier.conversation_id, web.conversation_id}
    assert Identity(WEB_VISITOR, "web-3") in merged.identities
    page = await contract.service.list_leads(LeadFilter())
    assert [lead.id for lead in page.items] == [earlier.lead_id]


# --------------------------------------------------------------------------- the read side


async def test_leads_are_listed_newest_first_filtered_and_paged(contract: Contract) -> None:
    sql = await _answer(contract, await _start(contract, "a", ADS), STRONG)
    nurture = await _answer(contract, await _start(contract, "b"), WEAK)
    mql = await _answer(contract, await _start(contract, "c"), MID)
    everyone = await contract.service.list_leads(LeadFilter())
    assert [lead.id for lead in everyone.items] == [mql.lead_id, nurture.lead_id, sql.lead_id]
    assert everyone.next_cursor is None
    first = await contract.service.list_leads(LeadFilter(), limit=2)
    assert [lead.id for lead in first.items] == [mql.lead_id, nurture.lead_id]
    assert first.next_cursor is not None
    rest = await contract.service.list_leads(LeadFilter(), limit=2, cursor=first.next_cursor)
    assert [lead.id for lead in rest.items] == [sql.lead_id]
    assert rest.next_cursor is None
    only_sql = await contract.service.list_leads(LeadFilter(stage=Stage.SQL))
    assert [(lead.id, lead.tier, lead.flow_id, lead.channel) for lead in only_sql.items] == [
        (sql.lead_id, "A", FLOW_ID, "web")
    ]
    assert (await contract.service.list_leads(LeadFilter(flow_id="bant"))).items == ()
    assert (await contract.service.list_leads(LeadFilter(channel="telegram"))).items == ()
    with pytest.raises(ValueError, match="cursor"):
        await contract.service.list_leads(LeadFilter(), cursor="not-a-cursor")


async def test_one_lead_shows_its_conversations_transcript_and_score(contract: Contract) -> None:
    done = await _answer(contract, await _start(contract, "d", ADS), STRONG)
    detail = await contract.service.get_lead(done.lead_id)
    assert detail.lead.contact.email == "ivan@acme.ru"
    assert detail.lead.contact.name == "Иван"
    assert set(detail.identities) == {Identity(WEB_VISITOR, "d"), Identity(EMAIL, "ivan@acme.ru")}
    (conversation,) = detail.conversations
    assert conversation.score is not None
    assert conversation.score.total == 100
    assert sum(line["points"] for line in conversation.score.breakdown) == 100
    said = [m.text for m in conversation.transcript if m.direction == "in"]
    assert said == ["", *STRONG]
    with pytest.raises(LeadNotFound):
        await contract.service.get_lead(uuid.uuid4())
    with pytest.raises(LeadNotFound):
        await contract.service.get_lead("not-a-lead" * 100)
