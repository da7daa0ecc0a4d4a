"""A lead qualified through the real conversation service (the shipped BANT flow, typed in Russian
the way people type) reaches a real receiver with everything a sales rep needs, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import Webhook

from flows.model import Channel, Inbound, Source
from flows.service import ConversationService, SystemClock, TurnResult
from handoff.abandoned import AbandonedSweeper
from qualibot.settings import Settings
from qualibot.wiring import load_catalog
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader
from tests.handoff.conftest import Handoff, eventually, fast_settings
from tests.handoff.receiver import Receiver

# What a person types or taps, by question: plain words where the flow understands them.
TYPED = {
    "budget_amount": "около 2 млн руб",
    "timing": "через пару месяцев",
    "name": "Иван Петров",
    "phone": "8 (916) 123-45-67",
    "email": "Ivan.Petrov@Romashka.ru",
}
TAPPED = {"budget_status": ["approved"], "role": ["owner"], "decision": ["me"], "next_step": ["demo"]}


@pytest.fixture
async def service(engine: AsyncEngine) -> AsyncIterator[ConversationService]:
    store = SqlConversationStore(engine)
    try:
        yield ConversationService(
            store,
            SqlFlowVersionStore(engine),
            load_catalog(Settings()),
            SystemClock(),
            leads=SqlLeadReader(engine),
        )
    finally:
        await store.aclose()


async def qualify(
    service: ConversationService, *, stop_before: str | None = None, asked: list[str] | None = None
) -> TurnResult:
    """A conversation answered the way a person would, to its end or up to ``stop_before``
    (``asked`` gets the questions in the order they came)."""
    result = await service.start_conversation(
        "bant",
        "ru",
        Source(
            Channel.WEB, page_url="https://romashka.ru/pricing", utm={"source": "yandex", "medium": "cpc"}
        ),
    )
    await service.handle_message(
        result.conversation_id,
        Inbound(kind="event", name="page_view", data={"url": "https://romashka.ru/cases"}),
    )
    for _ in range(20):
        if result.done:
            return result
        question = result.question_id
        assert question is not None
        if question == stop_before:
            return result
        if asked is not None:
            asked.append(question)
        if question in TYPED:
            inbound = Inbound.typed(TYPED[question], question_id=question, version=result.version)
        else:
            shown = next(r for r in result.replies if r.question_id == question)
            ids = TAPPED.get(question) or [shown.buttons[0].id]
            inbound = Inbound.tap(*ids, question_id=question, version=result.version)
        result = await service.handle_message(result.conversation_id, inbound)
    raise AssertionError("the conversation did not end")


async def test_a_qualified_lead_reaches_the_crm_with_its_answers_score_and_contact(
    service: ConversationService, handoff: Handoff, receiver: Receiver
) -> None:
    endpoint = await handoff.admin.create(receiver.url, ["lead.mql", "lead.sql"], {"sql": "Аудит"})
    asked: list[str] = []
    done = await qualify(service, asked=asked)
    assert done.outcome is not None

    async with handoff.worker():
        [request] = await receiver.wait_for(1)
        await eventually(lambda: _delivered(handoff))

    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == f"lead.{done.outcome.value}" == "lead.sql"
    lead = body["data"]["lead"]
    assert lead["id"] == str(done.lead_id)
    assert lead["stage"] == "sql"
    assert lead["crm_stage"] == "Аудит"
    assert lead["conversation_id"] == str(done.conversation_id)
    assert lead["contact"]["name"] == "Иван Петров"
    assert lead["contact"]["phone"] == "+79161234567"
    assert lead["contact"]["email"] == "ivan.petrov@romashka.ru"
    assert [a["question_id"] for a in lead["answers"]] == asked  # in the order asked, on both databases
    by_question = {a["question_id"]: a for a in lead["answers"]}
    money = by_question["budget_amount"]
    assert money["text"] == "около 2 млн руб"
    assert money["value"]["min"] == 2_000_000
    assert money["question"]  # the question as the person saw it
    assert by_question["next_step"]["value"] == ["demo"]
    score = lead["score"]
    assert score["total"] == sum(line["points"] for line in score["breakdown"])
    # The leading line says why, in the conversation's language, and comes again as the summary.
    lead_line = score["breakdown"][0]
    assert (lead_line["category"], lead_line["points"]) == ("summary", 0)
    assert lead_line["value"] == {"stage": "sql", "tier": lead["tier"], "knockout": None}
    assert score["summary"] == lead_line["reason"]
    assert score["summary"].startswith(f"SQL, {lead['tier']} ({score['total']} балл")
    assert "Бюджет: " in score["summary"]
    assert "2 000 000 ₽" in score["summary"]
    assert all(line["max_points"] or line["points"] for line in score["breakdown"][1:])
    assert score["fit"] is not None
    assert score["engagement"] is not None
    assert lead["tier"] in ("A", "B", "C")
    assert lead["source"]["channel"] == "web"
    assert lead["source"]["utm"] == {"source": "yandex", "medium": "cpc"}
    assert lead["source"]["landing_page"] == "https://romashka.ru/pricing"
    assert [p["url"] for p in lead["pages"]] == ["https://romashka.ru/cases"]
    assert lead["flow"]["id"] == "bant"
    assert lead["locale"] == "ru"
    assert len(request.body) < 20_000


async def _delivered(handoff: Handoff) -> bool:
    return (await handoff.outbox.counts()).get("delivered", 0) == 1


async def test_a_lead_that_left_half_way_with_a_contact_is_sent_once_as_abandoned(
    service: ConversationService, handoff: Handoff, receiver: Receiver
) -> None:
    endpoint = await handoff.admin.create(receiver.url, ["lead.abandoned"])
    left = await qualify(service, stop_before="email")  # gave a name and a phone, then went quiet
    await qualify(service, stop_before="role")  # no contact: nobody to call
    await qualify(service)  # finished: handed off as lead.sql, not as abandoned
    settings = fast_settings(abandoned_after=0.3, abandoned_sweep_interval=0.1)
    await asyncio.sleep(0.4)

    sweeper = AbandonedSweeper(handoff.outbox, service, settings)
    async with handoff.worker(settings, sweeper=sweeper):
        [request] = await receiver.wait_for(1)
        await asyncio.sleep(0.5)  # several more sweeps: nothing is raised twice
    assert len(receiver.requests) == 1
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "lead.abandoned"
    lead = body["data"]["lead"]
    assert lead["conversation_id"] == str(left.conversation_id)
    assert lead["contact"]["phone"] == "+79161234567"
    assert lead["contact"]["name"] == "Иван Петров"
    assert lead["stage"] == "in_progress"
    assert "email" not in {a["question_id"] for a in lead["answers"]}
    assert {a["question_id"] for a in lead["answers"]} >= {
        "budget_status",
        "budget_amount",
        "next_step",
        "phone",
    }
    assert lead["score"]["total"] == sum(line["points"] for line in lead["score"]["breakdown"]) > 0
    # What the answers so far add up to, the demo asked for among them.
    assert lead["score"]["summary"] == lead["score"]["breakdown"][0]["reason"]
    demo = next(a["text"] for a in lead["answers"] if a["question_id"] == "next_step")
    assert lead["score"]["summary"].endswith(demo)
    assert lead["idle_since"]
    assert await sweeper.sweep(datetime.now(UTC)) == 0
