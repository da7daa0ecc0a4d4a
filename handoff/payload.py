"""What a CRM endpoint receives: the Standard Webhooks envelope around one lead, under 20 KB.

``{"type": "lead.sql", "timestamp": "<the event's time, ISO 8601>", "data": {"event_id": ...,
"lead": {...}}}``. The lead carries its contact, every answer (question, text as typed, parsed
value), the score with its full breakdown (its leading line, why this stage and tier, also as
``score.summary``), stage, the stage's name in this endpoint's CRM, tier,
source and UTM, the pages it saw, channel, flow and a link to the transcript. The body is rendered
from the stored event and the lead's current contact each time it is sent; the ``webhook-id``
(the event's) never changes, so a receiver drops a repeat by its id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from storage.outbox import ClaimedDelivery

MAX_BODY_BYTES = 20_000
MAX_TEXT = 500  # an answer's text and a breakdown line's words, when the body must shrink

_SOURCE_KEYS = ("landing_page", "referrer", "deep_link")


def message_id(delivery: ClaimedDelivery) -> str:
    """The ``webhook-id``: the event's, the same for every try and every endpoint."""
    return f"msg_{delivery.event_id.hex}"


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def render(delivery: ClaimedDelivery, public_url: str) -> bytes:
    """The body for ``delivery``: at most ``MAX_BODY_BYTES``, trimmed in steps when the lead's
    texts are huge (``data.lead.truncated`` says so)."""
    envelope = envelope_of(delivery, public_url)
    body = orjson.dumps(envelope)
    lead = envelope["data"]["lead"]
    for shrink in _SHRINK_STEPS:
        if len(body) <= MAX_BODY_BYTES:
            break
        shrink(lead)
        lead["truncated"] = True
        body = orjson.dumps(envelope)
    return body


def envelope_of(delivery: ClaimedDelivery, public_url: str) -> dict[str, Any]:
    """The envelope around the stored event (``flows.service.handoff_payload`` plus what the store
    adds: the lead as the event left it, its contact then) and what the lead has now that the event
    could not know: the pages it saw, its Telegram id."""
    event = delivery.payload
    facts = delivery.lead
    told = _mapping(event.get("lead"))
    conversation = _mapping(event.get("conversation"))
    score = _mapping(event.get("score"))
    contact = _mapping(event.get("contact")) or {
        "name": facts.name,
        "email": facts.email,
        "phone": facts.phone,
        "company": facts.company,
    }
    stage = str(told.get("stage") or facts.stage)
    breakdown = list(score.get("breakdown") or ())
    lead: dict[str, Any] = {
        "id": str(delivery.lead_id),
        "stage": stage,
        "crm_stage": delivery.stage_map.get(stage),
        "previous_stage": told.get("previous_stage"),
        "tier": told.get("tier", facts.tier),
        "score": {
            "total": score.get("total", told.get("score", facts.score)),
            "fit": score.get("fit"),
            "engagement": score.get("engagement"),
            "summary": _summary_of(breakdown),
            "breakdown": breakdown,
        },
        "knockout": conversation.get("knockout"),
        "contact": contact | {"telegram_user_id": facts.telegram_user_id},
        "answers": answer_list(event.get("answers")),
        "source": source_of(event.get("source"), conversation.get("channel")),
        "pages": list(facts.pages),
        "channel": conversation.get("channel"),
        "conversation_id": str(delivery.conversation_id),
        "transcript_url": f"{public_url.rstrip('/')}/v1/leads/{delivery.lead_id}",
        "flow": conversation.get("flow"),
        "locale": conversation.get("locale"),
    }
    if "idle_since" in event:  # lead.abandoned: when the person stopped answering
        lead["idle_since"] = event["idle_since"]
    return {
        "type": delivery.event_type,
        "timestamp": iso(delivery.event_at),
        "data": {"event_id": str(delivery.event_id), "lead": lead},
    }


def _summary_of(breakdown: list[Any]) -> str | None:
    """The breakdown's leading line (``flows.scoring``: why this stage and tier), if it has one."""
    for line in breakdown:
        if (
            isinstance(line, dict)
            and line.get("category") == "summary"
            and isinstance(line.get("reason"), str)
        ):
            return str(line["reason"])
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def answer_list(answers: Any) -> list[dict[str, Any]]:
    """A handoff's answers (by question id, as the core renders them) in the order given, each as
    question, text as typed and parsed value."""
    if not isinstance(answers, dict):
        return []
    return [
        {
            "question_id": question_id,
            "question": answer.get("question"),
            "dimension": answer.get("dimension"),
            "text": answer.get("raw"),
            "value": answer.get("value"),
            "understood": answer.get("understood", True),
            "skipped": answer.get("skipped", False),
        }
        for question_id, answer in answers.items()
        if isinstance(answer, dict)
    ]


def source_of(facts: Any, channel: Any) -> dict[str, Any]:
    """Where the lead came from: channel, page, referrer, deep link, UTM, other facts."""
    facts = facts if isinstance(facts, dict) else {}
    utm = {k[4:]: v for k, v in facts.items() if k.startswith("utm_")}
    source: dict[str, Any] = {"channel": facts.get("channel", channel)}
    source |= {k: facts.get(k) for k in _SOURCE_KEYS}
    source["utm"] = utm
    source |= {
        k: v
        for k, v in facts.items()
        if not k.startswith("utm_") and k not in _SOURCE_KEYS and k != "channel"
    }
    return source


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[: MAX_TEXT - 1] + "…"
    return value


def _fewer_pages(lead: dict[str, Any]) -> None:
    lead["pages"] = lead["pages"][:5]


def _shorter_answers(lead: dict[str, Any]) -> None:
    for answer in lead["answers"]:
        answer["text"] = _cut(answer.get("text"))
        answer["question"] = _cut(answer.get("question"))
        if isinstance(answer.get("value"), str):
            answer["value"] = _cut(answer["value"])


def _shorter_breakdown(lead: dict[str, Any]) -> None:
    lead["score"]["summary"] = _cut(lead["score"]["summary"])
    lead["score"]["breakdown"] = [
        {k: _cut(v) for k, v in line.items()} if isinstance(line, dict) else line
        for line in lead["score"]["breakdown"]
    ]


def _shorter_source(lead: dict[str, Any]) -> None:
    lead["source"] = {k: _cut(v) for k, v in lead["source"].items()}
    lead["pages"] = [{k: _cut(v) for k, v in page.items()} for page in lead["pages"]]


def _no_pages(lead: dict[str, Any]) -> None:
    lead["pages"] = []


def _tiny_texts(lead: dict[str, Any]) -> None:
    for answer in lead["answers"]:
        for key in ("text", "question", "value"):
            if isinstance(answer.get(key), str):
                answer[key] = answer[key][:80]
    lead["score"]["breakdown"] = [
        {k: (v[:80] if isinstance(v, str) else v) for k, v in line.items()}
        if isinstance(line, dict)
        else line
        for line in lead["score"]["breakdown"]
    ]


def _bare(lead: dict[str, Any]) -> None:
    """The last resort: the breakdown stays with its points only, answers without question texts."""
    lead["score"]["breakdown"] = [
        {k: v for k, v in line.items() if not isinstance(v, str) or k in ("category", "source", "dimension")}
        for line in lead["score"]["breakdown"]
        if isinstance(line, dict)
    ]
    for answer in lead["answers"]:
        answer.pop("question", None)
    lead["source"] = {k: v for k, v in lead["source"].items() if k in ("channel", "utm")}


_SHRINK_STEPS: tuple[Callable[[dict[str, Any]], None], ...] = (
    _fewer_pages,
    _shorter_answers,
    _shorter_breakdown,
    _shorter_source,
    _no_pages,
    _tiny_texts,
    _bare,
)
