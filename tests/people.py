"""A person who qualifies through the public chat API the way people do (the shipped BANT flow,
Russian, taps and typing, a page view on the way), for the tests of what sales gets afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

# What a person types or taps, by question: plain words where the flow understands them.
TYPED = {
    "budget_amount": "около 2 млн руб",
    "timing": "через пару месяцев",
    "name": "Иван Петров",
    "phone": "8 (916) 123-45-67",
    "email": "Ivan.Petrov@Romashka.ru",
}
TAPPED = {"budget_status": ["approved"], "role": ["owner"], "decision": ["me"], "next_step": ["demo"]}


@dataclass
class Played:
    conversation_id: str
    token: str
    asked: list[str] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)


async def qualify(
    http: httpx.AsyncClient,
    *,
    typed: dict[str, str] | None = None,
    tapped: dict[str, list[str]] | None = None,
    stop_before: str | None = None,
    visitor_id: str | None = None,
) -> Played:
    """A conversation to its end (an SQL with the answers above, unless ``typed`` or ``tapped``
    change some), or up to ``stop_before``."""
    answers = TYPED | (typed or {})
    taps = TAPPED | (tapped or {})
    context: dict[str, Any] = {
        "page_url": "https://romashka.ru/pricing",
        "utm": {"source": "yandex", "medium": "cpc"},
    }
    if visitor_id:
        context["visitor_id"] = visitor_id
    started = await http.post("/v1/conversations", json={"flow": "bant", "locale": "ru", "context": context})
    assert started.status_code == 201, started.text
    turn = started.json()
    played = Played(turn["conversation_id"], turn["token"], last=turn)
    auth = {"Authorization": f"Bearer {played.token}"}
    cid = played.conversation_id
    seen = await http.post(
        f"/v1/conversations/{cid}/events",
        json={"name": "page_view", "url": "https://romashka.ru/cases", "title": "Кейсы"},
        headers=auth,
    )
    assert seen.status_code == 200, seen.text
    for _ in range(30):
        if turn["done"]:
            return played
        question = turn["state"]["question_id"]
        if question == stop_before:
            return played
        played.asked.append(question)
        if question in answers:
            body: dict[str, Any] = {"text": answers[question]}
        else:
            buttons = [b["id"] for b in turn["replies"][-1]["buttons"] if not b["id"].startswith("cmd:")]
            body = {"choice": taps.get(question) or buttons[0]}
        body |= {"question_id": question, "version": turn["state"]["version"]}
        reply = await http.post(f"/v1/conversations/{cid}/messages", json=body, headers=auth)
        assert reply.status_code == 200, reply.text
        turn = reply.json()
        played.last = turn
    raise AssertionError("the conversation did not end")
