"""The admin API: webhook endpoints and their deliveries, CRM outcomes, leads for people.

Every route needs an admin API key (``Authorization: Bearer qbk_...``, made by ``qualibot keys
create``); it is checked before anything else about the request is read. Handlers translate, they
never decide: what a valid endpoint is, how a secret rotates, what a replay queues and which
outcome report counts are ``handoff``'s (``WebhookAdmin``, ``Outcomes``, ``LeadsForPeople``), and
the key check is ``handoff.keys``'s (hashed keys, compared in constant time).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Body, Path, Query, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.responses import Response, StreamingResponse

from api import spreadsheet
from api.chat import ErrorOut, transcript_json
from api.errors import ApiError, Unauthorized
from flows.model import Channel, Stage
from flows.ports import LeadFilter, LeadSummary
from handoff.admin import EVENT_TYPES, MAX_STAGE_NAME, MAX_URL, WebhookAdmin
from handoff.errors import InvalidApiKey
from handoff.keys import ApiKeys
from handoff.leads import LeadCard, LeadsForPeople
from handoff.outcomes import MAX_REASON, Outcomes
from storage.endpoints import EndpointRecord
from storage.outbox import AttemptView, DeliveryView

PAGE_LIMIT = 500
EXPORT_LIMIT = 100_000
FIRST_YEAR, LAST_YEAR = 1970, 2200


@dataclass(frozen=True, slots=True)
class AdminServices:
    """What the admin routes call, opened by the composition root for the app's lifetime."""

    keys: ApiKeys
    webhooks: WebhookAdmin
    outcomes: Outcomes
    leads: LeadsForPeople


def services(request: Request) -> AdminServices:
    found: AdminServices | None = getattr(request.app.state.services, "admin", None)
    if found is None:
        raise ApiError(503, "not_ready", "the admin API is not running on this server")
    return found


KEY_REQUIRED = "a valid admin API key is needed: Authorization: Bearer <key> (qualibot keys create)"


class KeyedRoute(APIRoute):
    """A route that answers 401 unless the request carries a live admin key, before its body,
    query or path is looked at."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def keyed(request: Request) -> Response:
            scheme, _, key = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer":
                raise Unauthorized(KEY_REQUIRED)
            try:
                await services(request).keys.verify(key.strip())
            except InvalidApiKey:
                raise Unauthorized(KEY_REQUIRED) from None
            return await handler(request)

        return keyed


# Declares the scheme in the OpenAPI schema (KeyedRoute is what checks the key).
bearer = HTTPBearer(auto_error=False, description="An admin API key: `qualibot keys create`")

router = APIRouter(route_class=KeyedRoute, dependencies=[Security(bearer)])


# --------------------------------------------------------------------------- input


def _in_range(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"a time between {FIRST_YEAR} and {LAST_YEAR}")
    return value


Instant = Annotated[datetime, AfterValidator(_in_range)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


EventName = Literal[
    "lead.mql", "lead.sql", "lead.disqualified", "lead.nurture", "lead.updated", "lead.abandoned"
]
CrmName = Annotated[str, Field(min_length=1, max_length=MAX_STAGE_NAME)]
StageMap = dict[Stage, CrmName]


class WebhookIn(Model):
    url: str = Field(max_length=MAX_URL, examples=["https://crm.example/hooks/qualibot"])
    events: list[EventName] | None = Field(
        default=None,
        min_length=1,
        max_length=len(EVENT_TYPES),
        description="The events to receive (default: lead.mql and lead.sql)",
    )
    stage_map: StageMap | None = Field(
        default=None,
        max_length=len(Stage),
        description='Our stage -> the CRM\'s name for it, sent as `crm_stage` (e.g. {"sql": "Аудит"})',
        examples=[{"mql": "Был контакт", "sal": "Hold", "sql": "Аудит"}],
    )


class WebhookChange(Model):
    url: str | None = Field(default=None, max_length=MAX_URL)
    events: list[EventName] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    stage_map: StageMap | None = Field(default=None, max_length=len(Stage))
    enabled: bool | None = Field(
        default=None, description="true enables a disabled endpoint (what waited for it is sent at once)"
    )


class RotateIn(Model):
    grace_seconds: int | None = Field(
        default=None,
        ge=0,
        le=30 * 86400,
        description="How long the old secret keeps signing too (default: QUALIBOT_WEBHOOK_ROTATION_GRACE)",
    )


class RangeIn(Model):
    since: Instant = Field(description="Events raised from this time (ISO 8601 with its zone)")
    until: Instant | None = Field(default=None, description="Up to this time, exclusive (default: now)")


class OutcomeIn(Model):
    status: Literal["sal", "rejected", "won", "lost"]
    at: Instant | None = Field(
        default=None, description="When it happened in the CRM (ISO 8601 with its zone; default: now)"
    )
    reason: str | None = Field(default=None, max_length=4 * MAX_REASON)


# --------------------------------------------------------------------------- output (documented)


class WebhookOut(BaseModel):
    id: UUID
    url: str
    events: list[str]
    stage_map: dict[str, str]
    status: Literal["active", "disabled"]
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_until: datetime | None = Field(description="The old secret signs too until then")
    created_at: datetime
    updated_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="`whsec_...`: shown only now; verify signatures with it")


class WebhookListOut(BaseModel):
    items: list[WebhookOut]


class RotatedOut(BaseModel):
    id: UUID
    secret: str = Field(description="The new secret: shown only now")
    previous_secret_until: datetime | None


class DeliveryOut(BaseModel):
    id: UUID
    webhook_id: UUID
    event_id: UUID
    webhook_message_id: str = Field(description="The `webhook-id` header it is sent with, on every try")
    type: str
    event_at: datetime
    lead_id: UUID
    status: Literal["pending", "delivered", "failed", "cancelled"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryPageOut(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    number: int
    worker: str
    started_at: datetime
    latency_ms: int
    status_code: int | None
    error: str | None
    response_excerpt: str


class DeliveryDetailOut(DeliveryOut):
    attempt_log: list[AttemptOut]


class QueuedOut(BaseModel):
    queued: int = Field(description="Deliveries queued to be sent again")


class OutcomeOut(BaseModel):
    lead_id: UUID = Field(description="The lead as it is now (a merged lead's report reaches its survivor)")
    stage: str
    outcome_at: datetime | None
    reason: str | None
    applied: bool = Field(description="false: a stale or repeated report, which changed nothing")


class ContactOut(BaseModel):
    name: str | None
    email: str | None
    phone: str | None
    company: str | None


class LeadOut(BaseModel):
    id: UUID
    stage: str
    score: int | None
    tier: str | None
    contact: ContactOut
    flow: str | None
    channel: str | None
    conversations: int
    candidates: int
    created_at: datetime
    updated_at: datetime
    outcome_at: datetime | None
    outcome_reason: str | None


class LeadPageOut(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None


class AnswerOut(BaseModel):
    question_id: str
    question: str | None
    dimension: str | None
    text: str | None = Field(description="What the person typed or tapped")
    value: Any = Field(description="What it was understood as")
    understood: bool
    skipped: bool


class ScoreOut(BaseModel):
    total: int
    fit: int
    engagement: int
    stage: str
    tier: str | None
    breakdown: list[dict[str, Any]] = Field(description="Where every point came from")


class LineOut(BaseModel):
    sender: Literal["bot", "visitor"]
    text: str
    at: datetime


class ConversationOut(BaseModel):
    id: UUID
    channel: str
    flow: str
    flow_version: int
    locale: str
    stage: str
    done: bool
    knockout: str | None = Field(description="Why the conversation ended early, if it did")
    source: dict[str, Any] = Field(description="Where the lead came from: page, referrer, UTM, pages seen")
    created_at: datetime
    updated_at: datetime
    answers: list[AnswerOut]
    score: ScoreOut | None
    transcript: list[LineOut]


class IdentityOut(BaseModel):
    kind: str
    value: str


class CandidateOut(BaseModel):
    lead_id: UUID
    identity: IdentityOut
    conversation_id: UUID
    created_at: datetime


class LeadCardOut(BaseModel):
    lead: LeadOut
    identities: list[IdentityOut] = Field(description="How the lead is recognised (Telegram, widget, e-mail)")
    conversations: list[ConversationOut] = Field(description="Oldest first")
    candidates: list[CandidateOut] = Field(description="Other leads that may be the same person")
    deliveries: list[DeliveryOut] = Field(description="Every delivery to every endpoint, oldest first")


ERRORS = {
    400: "The request cannot be taken as it is: see `message`",
    401: "No admin key, or an unknown or revoked one (`WWW-Authenticate: Bearer`)",
    404: "No such webhook, delivery or lead",
    413: "The request body is too large",
    422: "The request is malformed: see `message` (field and problem)",
    503: "The admin API is not running on this server",
}


def documented(
    status: int, model: type[BaseModel] | None, description: str, *errors: int
) -> dict[int | str, dict[str, Any]]:
    """A route's OpenAPI responses: its success and every error it can answer."""
    success: dict[str, Any] = {"description": description}
    if model is not None:
        success["model"] = model
    responses: dict[int | str, dict[str, Any]] = {status: success}
    for error in sorted({401, 413, 503, *errors}):
        responses[error] = {"model": ErrorOut, "description": ERRORS[error]}
    return responses


CursorQuery = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the page before")]
WebhookId = Annotated[UUID, Path(description="The webhook endpoint's id")]
DeliveryId = Annotated[UUID, Path(description="The delivery's id")]
LeadId = Annotated[UUID, Path(description="The lead's id")]


# --------------------------------------------------------------------------- translation


def _plain(value: object) -> str:
    """What orjson cannot write itself: the UUIDs of asyncpg (a subclass of ``uuid.UUID``)."""
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body, default=_plain), status_code=status, media_type="application/json")


def webhook_json(endpoint: EndpointRecord) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "stage_map": endpoint.stage_map,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": endpoint.failing_since,
        "previous_secret_until": endpoint.previous_secret_until if endpoint.previous_secret else None,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


def delivery_json(delivery: DeliveryView) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhook_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "webhook_message_id": f"msg_{delivery.event_id.hex}",
        "type": delivery.event_type,
        "event_at": delivery.event_at,
        "lead_id": delivery.lead_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
        "created_at": delivery.created_at,
    }


def attempt_json(attempt: AttemptView) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "worker": attempt.worker,
        "started_at": attempt.started_at,
        "latency_ms": attempt.latency_ms,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "response_excerpt": attempt.response_excerpt,
    }


def lead_json(lead: LeadSummary) -> dict[str, Any]:
    return {
        "id": lead.id,
        "stage": lead.stage.value,
        "score": lead.score,
        "tier": lead.tier,
        "contact": {
            "name": lead.contact.name,
            "email": lead.contact.email,
            "phone": lead.contact.phone,
            "company": lead.contact.company,
        },
        "flow": lead.flow_id,
        "channel": lead.channel,
        "conversations": lead.conversations,
        "candidates": lead.candidates,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
        "outcome_at": lead.outcome_at,
        "outcome_reason": lead.outcome_reason,
    }


def card_json(card: LeadCard) -> dict[str, Any]:
    detail = card.detail
    conversations = []
    for view in detail.conversations:
        stored = view.conversation
        score = view.score
        conversations.append(
            {
                "id": stored.id,
                "channel": stored.channel,
                "flow": stored.flow_id,
                "flow_version": stored.flow_version,
                "locale": stored.state.locale,
                "stage": stored.state.stage.value,
                "done": stored.state.completed,
                "knockout": stored.state.knockout,
                "source": card.sources.get(stored.id, {}),
                "created_at": stored.created_at,
                "updated_at": stored.updated_at,
                "answers": card.answers.get(stored.id, []),
                "score": None
                if score is None
                else {
                    "total": score.total,
                    "fit": score.fit,
                    "engagement": score.engagement,
                    "stage": score.stage.value,
                    "tier": score.tier,
                    "breakdown": list(score.breakdown),
                },
                "transcript": transcript_json(view.transcript),
            }
        )
    return {
        "lead": lead_json(detail.lead),
        "identities": [{"kind": i.kind, "value": i.value} for i in detail.identities],
        "conversations": conversations,
        "candidates": [
            {
                "lead_id": c.lead_id,
                "identity": {"kind": c.identity.kind, "value": c.identity.value},
                "conversation_id": c.conversation_id,
                "created_at": c.created_at,
            }
            for c in detail.candidates
        ],
        "deliveries": [delivery_json(d) for d in card.deliveries],
    }


def stage_names(stage_map: dict[Stage, str] | None) -> dict[str, str] | None:
    return None if stage_map is None else {stage.value: name for stage, name in stage_map.items()}


def utc(value: datetime | None) -> datetime | None:
    """A filter's time: one without a zone is read as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def lead_filter(
    stage: Stage | None,
    tier: str | None,
    flow: str | None,
    channel: Channel | None,
    since: datetime | None,
    until: datetime | None,
) -> LeadFilter:
    return LeadFilter(
        stage=stage,
        tier=tier,
        flow_id=flow,
        channel=channel.value if channel is not None else None,
        since=utc(since),
        until=utc(until),
    )


# --------------------------------------------------------------------------- webhooks


@router.post(
    "/v1/webhooks",
    status_code=201,
    tags=["admin: webhooks"],
    summary="Register a CRM webhook endpoint",
    response_model=None,
    responses=documented(201, WebhookCreatedOut, "The endpoint and its signing secret (shown only now)", 422),
)
async def create_webhook(body: WebhookIn, request: Request) -> Response:
    created = await services(request).webhooks.create(body.url, body.events, stage_names(body.stage_map))
    return json_response(webhook_json(created) | {"secret": created.secret}, 201)


@router.get(
    "/v1/webhooks",
    tags=["admin: webhooks"],
    summary="Every webhook endpoint (without secrets)",
    response_model=None,
    responses=documented(200, WebhookListOut, "The endpoints, oldest first"),
)
async def list_webhooks(request: Request) -> Response:
    found = await services(request).webhooks.list()
    return json_response({"items": [webhook_json(e) for e in found]})


@router.get(
    "/v1/webhooks/{webhook_id}",
    tags=["admin: webhooks"],
    summary="One webhook endpoint",
    response_model=None,
    responses=documented(200, WebhookOut, "The endpoint", 404, 422),
)
async def get_webhook(webhook_id: WebhookId, request: Request) -> Response:
    return json_response(webhook_json(await services(request).webhooks.get(webhook_id)))


@router.patch(
    "/v1/webhooks/{webhook_id}",
    tags=["admin: webhooks"],
    summary="Change an endpoint's URL, events or stage names; enable or disable it",
    response_model=None,
    responses=documented(200, WebhookOut, "The endpoint as it is now", 404, 422),
)
async def change_webhook(webhook_id: WebhookId, body: WebhookChange, request: Request) -> Response:
    changed = await services(request).webhooks.update(
        webhook_id,
        url=body.url,
        events=body.events,
        stage_map=stage_names(body.stage_map),
        enabled=body.enabled,
    )
    return json_response(webhook_json(changed))


@router.delete(
    "/v1/webhooks/{webhook_id}",
    status_code=204,
    tags=["admin: webhooks"],
    summary="Delete an endpoint; what it had still to receive is cancelled",
    response_model=None,
    responses=documented(204, None, "Deleted", 404, 422),
)
async def delete_webhook(webhook_id: WebhookId, request: Request) -> Response:
    await services(request).webhooks.delete(webhook_id)
    return Response(status_code=204)


@router.post(
    "/v1/webhooks/{webhook_id}/rotate-secret",
    tags=["admin: webhooks"],
    summary="A new signing secret; the old one keeps signing too for the grace period",
    response_model=None,
    responses=documented(200, RotatedOut, "The new secret (shown only now)", 404, 422),
)
async def rotate_secret(
    webhook_id: WebhookId, request: Request, body: Annotated[RotateIn | None, Body()] = None
) -> Response:
    grace = timedelta(seconds=body.grace_seconds) if body and body.grace_seconds is not None else None
    rotated = await services(request).webhooks.rotate_secret(webhook_id, grace)
    until = rotated.previous_secret_until if rotated.previous_secret else None
    return json_response({"id": rotated.id, "secret": rotated.secret, "previous_secret_until": until})


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries",
    tags=["admin: deliveries"],
    summary="An endpoint's deliveries, newest first",
    response_model=None,
    responses=documented(200, DeliveryPageOut, "A page of deliveries", 404, 422),
)
async def list_deliveries(
    webhook_id: WebhookId,
    request: Request,
    status: Annotated[Literal["pending", "delivered", "failed", "cancelled"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 50,
    cursor: CursorQuery = None,
) -> Response:
    page = await services(request).webhooks.deliveries(webhook_id, status=status, limit=limit, cursor=cursor)
    return json_response({"items": [delivery_json(d) for d in page.items], "next_cursor": page.next_cursor})


@router.post(
    "/v1/webhooks/{webhook_id}/redeliver",
    status_code=202,
    tags=["admin: deliveries"],
    summary="Send again everything the endpoint missed among the events of a time range",
    response_model=None,
    responses=documented(202, QueuedOut, "How many deliveries were queued", 404, 422),
)
async def redeliver_range(webhook_id: WebhookId, body: RangeIn, request: Request) -> Response:
    queued = await services(request).webhooks.redeliver_range(webhook_id, body.since, body.until)
    return json_response({"queued": queued}, 202)


@router.get(
    "/v1/deliveries/{delivery_id}",
    tags=["admin: deliveries"],
    summary="One delivery with every attempt (status, latency, an excerpt of the answer)",
    response_model=None,
    responses=documented(200, DeliveryDetailOut, "The delivery and its attempts", 404, 422),
)
async def get_delivery(delivery_id: DeliveryId, request: Request) -> Response:
    found = await services(request).webhooks.delivery(delivery_id)
    attempts = [attempt_json(a) for a in found.attempts]
    return json_response(delivery_json(found.delivery) | {"attempt_log": attempts})


@router.post(
    "/v1/deliveries/{delivery_id}/redeliver",
    status_code=202,
    tags=["admin: deliveries"],
    summary="Send a delivery again, with the same webhook-id",
    response_model=None,
    responses=documented(202, DeliveryOut, "The delivery, queued", 404, 422),
)
async def redeliver(delivery_id: DeliveryId, request: Request) -> Response:
    return json_response(delivery_json(await services(request).webhooks.redeliver(delivery_id)), 202)


# --------------------------------------------------------------------------- leads


@router.post(
    "/v1/leads/{lead_id}/outcome",
    tags=["admin: leads"],
    summary="What became of a lead in the CRM: sal, rejected, won or lost",
    response_model=None,
    responses=documented(200, OutcomeOut, "The lead after the report (`applied`: it changed)", 404, 422),
)
async def report_outcome(lead_id: LeadId, body: OutcomeIn, request: Request) -> Response:
    result = await services(request).outcomes.report(lead_id, body.status, body.at, body.reason)
    return json_response(
        {
            "lead_id": result.lead_id,
            "stage": result.stage.value,
            "outcome_at": result.outcome_at,
            "reason": result.reason,
            "applied": result.applied,
        }
    )


TierQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="e.g. A")]
FlowQuery = Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,64}$", description="a flow id, e.g. bant")]
SinceQuery = Annotated[
    Instant | date | None, Query(description="Leads created from then (a date or ISO 8601; no zone: UTC)")
]
UntilQuery = Annotated[Instant | date | None, Query(description="Leads created before this time")]


def _instant(value: datetime | date | None) -> datetime | None:
    if isinstance(value, datetime) or value is None:
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


@router.get(
    "/v1/leads",
    tags=["admin: leads"],
    summary="Leads, newest first, by stage, tier, flow, channel and creation time",
    response_model=None,
    responses=documented(200, LeadPageOut, "A page of leads", 422),
)
async def list_leads(
    request: Request,
    stage: Annotated[Stage | None, Query()] = None,
    tier: TierQuery = None,
    flow: FlowQuery = None,
    channel: Annotated[Channel | None, Query()] = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 50,
    cursor: CursorQuery = None,
) -> Response:
    chosen = lead_filter(stage, tier, flow, channel, _instant(since), _instant(until))
    try:
        page = await services(request).leads.page(chosen, limit=limit, cursor=cursor)
    except ValueError:
        raise ApiError(422, "invalid_cursor", "cursor: not a cursor this API gave out") from None
    return json_response({"items": [lead_json(lead) for lead in page.items], "next_cursor": page.next_cursor})


@router.get(
    "/v1/leads.csv",
    tags=["admin: leads"],
    summary="The same leads as a spreadsheet (UTF-8 with a BOM, for Excel and LibreOffice)",
    response_class=Response,
    responses=documented(200, None, "CSV, one lead a row", 422)
    | {200: {"description": "CSV, one lead a row", "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_leads(
    request: Request,
    stage: Annotated[Stage | None, Query()] = None,
    tier: TierQuery = None,
    flow: FlowQuery = None,
    channel: Annotated[Channel | None, Query()] = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    limit: Annotated[int, Query(ge=1, le=EXPORT_LIMIT, description="Rows at most")] = 10_000,
    delimiter: Annotated[
        Literal["comma", "semicolon"],
        Query(description="`semicolon` for Excel in a locale whose list separator is `;` (ru, de, fr...)"),
    ] = "comma",
) -> Response:
    chosen = lead_filter(stage, tier, flow, channel, _instant(since), _instant(until))
    leads = services(request).leads.every(chosen, limit=limit)
    separator = ";" if delimiter == "semicolon" else ","

    name = f"leads-{datetime.now(UTC):%Y%m%d-%H%M}.csv"
    return StreamingResponse(
        spreadsheet.lead_rows(leads, separator),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/v1/leads/{lead_id}",
    tags=["admin: leads"],
    summary="One lead as sales reads it: contact, answers, score breakdown, transcript, deliveries",
    response_model=None,
    responses=documented(200, LeadCardOut, "The lead's card", 404, 422),
)
async def get_lead(lead_id: LeadId, request: Request) -> Response:
    return json_response(card_json(await services(request).leads.card(lead_id)))
