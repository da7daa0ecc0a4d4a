"""The conversation API end to end on each database: start, answer with taps and typing, resume,
page views, the Telegram handover, retries and double taps that change nothing."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.spec import FlowSpec
from storage.tables import ConversationToken, EngagementEvent, Message
from tests.api.conftest import BOT, bearer, start
from tests.visitor import answer

SECRET_WORDS = {"score", "tier", "stage", "outcome", "lead_id", "breakdown", "fit", "engagement"}


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


async def walk(
    http: httpx.AsyncClient, spec: FlowSpec, conversation: dict[str, Any], *, versions: bool = True
) -> list[dict[str, Any]]:
    """Answer every question as a visitor would (taps and typing), sending the question and
    version each answer is for (unless ``versions`` is off, as a plain client may); the turns'
    bodies, last one done."""
    turns = [conversation]
    for turn in range(40):
        current = turns[-1]
        if current["done"]:
            return turns
        state = current["state"]
        picked = answer(spec, state["question_id"], current["replies"][-1], turn)
        body = picked.body
        if versions:
            body = body | {"question_id": state["question_id"], "version": state["version"]}
        reply = await http.post(
            f"/v1/conversations/{conversation['conversation_id']}/messages",
            json=body,
            headers=bearer(conversation),
        )
        assert reply.status_code == 200, reply.text
        turns.append(reply.json())
    raise AssertionError("the conversation did not end")


async def test_a_whole_conversation_in_russian(api: httpx.AsyncClient, bant: FlowSpec) -> None:
    started = await start(
        api, page_url="https://shop.example/pricing?utm_source=ads", visitor_id="visitor-0001"
    )
    assert base64.urlsafe_b64decode(started["token"] + "==")
    assert len(started["token"]) >= 22
    assert started["done"] is False
    assert started["handover"] == ["telegram"]
    first = started["replies"][-1]
    assert started["state"]["question_id"] == bant.questions[0].id
    assert first["buttons"]
    assert {"id", "label"} == set(first["buttons"][0])
    assert first["input"]["kind"] in {"text", "number", "money", "date", "email", "tel", "name", "none"}
    assert started["replies"][0]["text"].startswith("Здравствуйте")

    turns = await walk(api, bant, started)
    last = turns[-1]
    assert last["done"] is True
    assert last["state"]["question_id"] is None
    assert last["state"]["progress"]["answered"] == last["state"]["progress"]["total"] > 3
    progress = [t["state"]["progress"]["answered"] for t in turns]
    assert progress == sorted(progress)
    for body in turns:
        assert not keys_of(body) & SECRET_WORDS, "the visitor must never see score, tier or stage"


async def test_a_finished_conversation_is_counted_once_by_flow_and_outcome(
    api: httpx.AsyncClient, bant: FlowSpec
) -> None:
    plain = await start(api)
    await walk(api, bant, plain, versions=False)  # a client that sends no version
    await walk(api, bant, await start(api))
    after = await api.post(
        f"/v1/conversations/{plain['conversation_id']}/messages", json={"text": "ещё"}, headers=bearer(plain)
    )
    assert after.status_code == 200
    assert after.json()["done"] is True
    metrics = (await api.get("/metrics")).text
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith('qualibot_conversations_finished_total{flow="bant"')
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in counted) == 2.0, counted
    assert all('outcome="' in line for line in counted)
    assert 'qualibot_turns_total{flow="bant"} ' in metrics


async def test_resume_shows_the_transcript_and_the_waiting_question(api: httpx.AsyncClient) -> None:
    started = await start(api)
    cid = started["conversation_id"]
    tap = next(b for b in started["replies"][-1]["buttons"] if not b["id"].startswith("cmd:"))
    body = {
        "choice": tap["id"],
        "question_id": started["state"]["question_id"],
        "version": started["state"]["version"],
    }
    after = (await api.post(f"/v1/conversations/{cid}/messages", json=body, headers=bearer(started))).json()

    view = await api.get(f"/v1/conversations/{cid}", headers=bearer(started))
    assert view.status_code == 200
    data = view.json()
    assert data["state"] == after["state"]
    assert data["flow"] == "bant"
    assert data["locale"] == "ru"
    lines = [(m["sender"], m["text"]) for m in data["messages"]]
    assert lines[0] == ("bot", started["replies"][0]["text"])
    assert ("visitor", tap["label"]) in lines, "a tap is shown by its label"
    assert lines[-1] == ("bot", after["replies"][-1]["text"])
    assert data["replies"][-1]["buttons"] == after["replies"][-1]["buttons"]
    assert not keys_of(data) & SECRET_WORDS


async def test_a_retried_answer_is_applied_once(api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    started = await start(api)
    cid = started["conversation_id"]
    tap = started["replies"][-1]["buttons"][0]["id"]
    body = {
        "choice": tap,
        "question_id": started["state"]["question_id"],
        "version": started["state"]["version"],
    }
    headers = bearer(started) | {"Idempotency-Key": "answer-0001-abcdef"}
    first, again, third = await asyncio.gather(
        *(api.post(f"/v1/conversations/{cid}/messages", json=body, headers=headers) for _ in range(3))
    )
    assert first.status_code == again.status_code == third.status_code == 200
    assert first.json() == again.json() == third.json()
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in (first, again, third)) == [
        "",
        "true",
        "true",
    ]
    async with engine.connect() as conn:
        query = select(Message.payload).where(Message.conversation_id == uuid.UUID(cid))
        payloads = (await conn.execute(query)).scalars().all()
    assert sum(1 for p in payloads if p.get("kind") == "choice") == 1


async def test_a_double_tap_changes_nothing(api: httpx.AsyncClient) -> None:
    started = await start(api)
    cid = started["conversation_id"]
    state = started["state"]
    tap = started["replies"][-1]["buttons"][0]["id"]
    body = {"choice": tap, "question_id": state["question_id"], "version": state["version"]}
    one, two = await asyncio.gather(
        *(api.post(f"/v1/conversations/{cid}/messages", json=body, headers=bearer(started)) for _ in range(2))
    )
    assert one.status_code == two.status_code == 200
    # one tap moved on; the other was for a question no longer waiting: the current question again
    assert one.json()["state"] == two.json()["state"]
    moved = one.json()
    assert moved["state"]["question_id"] != state["question_id"]
    view = (await api.get(f"/v1/conversations/{cid}", headers=bearer(started))).json()
    assert view["state"] == moved["state"]
    assert view["state"]["progress"]["answered"] == 1


async def test_an_old_button_after_the_next_question_changes_nothing(api: httpx.AsyncClient) -> None:
    started = await start(api)
    cid = started["conversation_id"]
    old = started["state"]
    buttons = started["replies"][-1]["buttons"]
    body = {"choice": buttons[0]["id"], "question_id": old["question_id"], "version": old["version"]}
    moved = (await api.post(f"/v1/conversations/{cid}/messages", json=body, headers=bearer(started))).json()
    late = {"choice": buttons[1]["id"], "question_id": old["question_id"], "version": old["version"]}
    reply = await api.post(f"/v1/conversations/{cid}/messages", json=late, headers=bearer(started))
    assert reply.status_code == 200
    assert reply.json()["state"] == moved["state"]
    assert reply.json()["replies"][-1]["text"] == moved["replies"][-1]["text"]


async def test_page_views_reach_the_lead_card(api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    started = await start(api, page_url="https://shop.example/")
    cid = started["conversation_id"]
    for url, title in [("https://shop.example/pricing", "Цены"), ("https://shop.example/cases?x=1", "Кейсы")]:
        reply = await api.post(
            f"/v1/conversations/{cid}/events",
            json={"name": "page_view", "url": url, "title": title},
            headers=bearer(started),
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["replies"] == []
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(EngagementEvent.name, EngagementEvent.data).order_by(EngagementEvent.id)
            )
        ).all()
    assert [name for name, _ in rows] == ["page_view", "page_view"]
    assert rows[0][1]["url"] == "https://shop.example/pricing"
    assert rows[0][1]["title"] == "Цены"
    assert rows[1][1]["path"] == "/cases?x=1"


async def test_the_telegram_handover_link(api: httpx.AsyncClient) -> None:
    started = await start(api)
    reply = await api.post(
        f"/v1/conversations/{started['conversation_id']}/handover/telegram", headers=bearer(started)
    )
    assert reply.status_code == 200, reply.text
    url = reply.json()["url"]
    prefix = f"https://t.me/{BOT}?start="
    assert url.startswith(prefix)
    payload = url.removeprefix(prefix)
    assert len(payload) == 32
    assert payload.replace("-", "").replace("_", "").isalnum()
    again = await api.post(
        f"/v1/conversations/{started['conversation_id']}/handover/telegram", headers=bearer(started)
    )
    assert again.json()["url"] != url, "every link is single use"
    expires = datetime.fromisoformat(reply.json()["expires_at"])
    assert timedelta(minutes=1) < expires - datetime.now(UTC) <= timedelta(hours=1)


async def test_tokens_are_stored_only_as_hashes(api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    started = await start(api)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(ConversationToken.token_sha256))).scalars().all()
    assert len(stored) == 1
    assert started["token"] not in stored[0]
    assert len(stored[0]) == 64


@pytest.mark.parametrize("locale", ["ru", "en"])
async def test_the_greeting_in_each_language(api: httpx.AsyncClient, locale: str) -> None:
    started = await start(api, locale=locale)
    assert started["replies"][0]["text"].startswith("Здравствуйте" if locale == "ru" else "Hi")
