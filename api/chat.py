"""The public conversation API the widget talks to: start, answer, resume, report page views, hand
over to Telegram.

Handlers translate, they never decide: a request becomes a call of ``ConversationService`` and its
``TurnResult`` becomes JSON in the widget's words (replies with buttons and an input kind, the
waiting question with its version, progress, done). What the service knows about the lead (score,
tier, stage) never leaves this module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Header, Path, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import Response

from api.errors import ApiError, RateLimited
from api.limits import RateLimiter, retry_after
from api.metrics import Metrics
from api.proxies import ClientAddress
from api.tokens import ConversationTokens
from flows.model import Channel, Inbound, Reply, Source
from flows.ports import WEB_VISITOR, Identity, StoredMessage
from flows.service import ConversationService, TurnResult

PREFIX = "/v1/conversations"
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
CHOICE_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"  # option ids, band:N, cmd:back
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
MAX_URL = 2048
MAX_CHOICES = 20


@dataclass(slots=True)
class Chat:
    """Everything the chat routes use, built once by the app's lifespan."""

    service: ConversationService
    tokens: ConversationTokens
    metrics: Metrics
    client_address: ClientAddress
    start_limit: RateLimiter
    ip_limit: RateLimiter
    conversation_limit: RateLimiter
    max_message_chars: int
    telegram_bot_username: str | None

    def client(self, request: Request) -> str:
        peer = request.client.host if request.client else None
        return self.client_address(peer, request.headers.get("x-forwarded-for"))

    def limit(self, limiter: RateLimiter, key: object, what: str) -> None:
        wait = limiter.hit(key)
        if wait > 0:
            self.metrics.rate_limited.labels(what).inc()
            raise RateLimited(what, retry_after(wait))

    async def admit(self, authorization: str | None, conversation_id: UUID) -> None:
        """A request that changes a conversation: its token, then its rate limit."""
        await self.tokens.check(authorization, conversation_id)
        self.limit(self.conversation_limit, conversation_id, "messages in this conversation")


async def chat(request: Request) -> Chat:
    state: Chat = request.app.state.chat
    state.limit(state.ip_limit, state.client(request), "requests from this address")
    return state


ChatDep = Annotated[Chat, Depends(chat)]
ConversationId = Annotated[UUID, Path(description="The conversation id returned when it started")]
Authorization = Annotated[
    str | None, Header(description="`Bearer <token>`: the token returned when the conversation started")
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "A random value (8-128 characters of `A-Z a-z 0-9 _ . : -`) the client makes up per "
            "answer and sends again when it retries: the retry returns the first result."
        ),
        # documented here, checked by idempotency() with its own error code
        json_schema_extra={"pattern": IDEMPOTENCY_KEY.pattern},
    ),
]


# --------------------------------------------------------------------------- request bodies


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class Utm(Model):
    source: str | None = Field(default=None, max_length=200)
    medium: str | None = Field(default=None, max_length=200)
    campaign: str | None = Field(default=None, max_length=200)
    term: str | None = Field(default=None, max_length=200)
    content: str | None = Field(default=None, max_length=200)


class Context(Model):
    page_url: str | None = Field(
        default=None, max_length=MAX_URL, description="The page the chat was opened on"
    )
    referrer: str | None = Field(default=None, max_length=MAX_URL)
    utm: Utm = Field(default_factory=Utm)
    visitor_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="A random id the widget keeps for this browser: a returning visitor is recognised by it",
    )


class StartRequest(Model):
    flow: str = Field(pattern=r"^[a-z0-9_]{1,64}$", examples=["bant"])
    locale: str = Field(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$", examples=["ru"])
    context: Context = Field(default_factory=Context)


class MessageRequest(Model):
    """Exactly one of ``text`` (typed) and ``choice`` (a button id, or a list for a multi-choice)."""

    text: str | None = Field(default=None, min_length=1)
    choice: (
        Annotated[str, Field(pattern=CHOICE_PATTERN)]
        | list[Annotated[str, Field(pattern=CHOICE_PATTERN)]]
        | None
    ) = Field(default=None, description="A button id, or a list of them for a multi-choice question")
    question_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="The question this answers (`state.question_id`)"
    )
    version: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="The conversation version shown with that question"
    )

    @model_validator(mode="after")
    def _one_answer(self) -> MessageRequest:
        if (self.text is None) == (self.choice is None):
            raise ValueError("send either text or choice")
        if isinstance(self.choice, list) and not 1 <= len(self.choice) <= MAX_CHOICES:
            raise ValueError(f"choice takes 1 to {MAX_CHOICES} ids")
        return self


class EventRequest(Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$", examples=["page_view"])
    url: str | None = Field(default=None, max_length=MAX_URL)
    title: str | None = Field(default=None, max_length=300)


# --------------------------------------------------------------------------- response bodies (documented)


class ButtonOut(Model):
    id: str
    label: str


class InputOut(Model):
    kind: Literal["text", "number", "money", "date", "email", "tel", "name", "none"]
    placeholder: str


class ReplyOut(Model):
    text: str
    buttons: list[ButtonOut]
    multi: bool = Field(description="Several buttons may be picked before sending")
    input: InputOut


class ProgressOut(Model):
    answered: int
    total: int


class StateOut(Model):
    question_id: str | None = Field(description="The question waiting for an answer; null when done")
    version: int = Field(description="Send it back as `version` with the answer")
    progress: ProgressOut


class TurnOut(Model):
    replies: list[ReplyOut]
    state: StateOut
    done: bool


class LimitsOut(Model):
    message_chars: int = Field(description="The longest message accepted, in characters (code points)")


class StartOut(TurnOut):
    conversation_id: UUID
    token: str = Field(description="Bearer token of this conversation (at least 128 random bits)")
    expires_at: datetime
    handover: list[Literal["telegram"]] = Field(description="Channels the conversation can continue on")
    limits: LimitsOut


class MessageOut(Model):
    sender: Literal["bot", "visitor"]
    text: str
    at: datetime


class ConversationOut(TurnOut):
    conversation_id: UUID
    flow: str
    locale: str
    messages: list[MessageOut] = Field(description="The transcript so far, oldest first")
    handover: list[Literal["telegram"]]
    limits: LimitsOut


class HandoverOut(Model):
    url: str = Field(description="Opens the bot in Telegram and continues this conversation there")
    expires_at: datetime


class ErrorOut(Model):
    error: str
    message: str


def documented(
    status: int, model: type[BaseModel], description: str, *errors: int
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of a route: its success and every error it can answer."""
    return {status: {"model": model, "description": description}} | _errors(*errors)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        401: "No token, an unknown or expired token, or a token of another conversation",
        403: "The request comes from a site that may not use the chat (`QUALIBOT_ALLOWED_ORIGINS`)",
        404: "No such conversation, or the feature is not configured",
        409: "The conversation changed under the request; send it again",
        413: "The request body is too large",
        422: "The request is malformed: see `message` (field and problem)",
        429: "Too many requests: wait the seconds in `Retry-After`",
    }
    return {status: {"model": ErrorOut, "description": described[status]} for status in statuses}


# --------------------------------------------------------------------------- translation


def reply_json(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "buttons": [{"id": b.id, "label": b.label} for b in reply.buttons],
        "multi": reply.multi,
        "input": {"kind": reply.input, "placeholder": reply.placeholder},
    }


def turn_json(result: TurnResult) -> dict[str, Any]:
    return {
        "replies": [reply_json(r) for r in result.replies],
        "state": {
            "question_id": result.question_id,
            "version": result.version,
            "progress": {"answered": result.progress.answered, "total": result.progress.total},
        },
        "done": result.done,
    }


def transcript_json(transcript: Sequence[StoredMessage]) -> list[dict[str, Any]]:
    """The lines a visitor sees again after a reload: what the bot said and what they answered
    (taps shown by their button labels), without starts and page-view events."""
    labels: dict[str, str] = {}
    lines: list[dict[str, Any]] = []
    for message in transcript:
        payload = message.payload if isinstance(message.payload, dict) else {}
        if message.direction == "out":
            labels = {str(b.get("id")): str(b.get("label")) for b in payload.get("buttons") or ()}
            lines.append({"sender": "bot", "text": message.text, "at": message.created_at})
        elif message.kind in ("text", "choice", "contact"):
            taps = payload.get("choices")
            text = ", ".join(labels.get(str(c), str(c)) for c in taps) if taps else message.text
            if text:
                lines.append({"sender": "visitor", "text": text, "at": message.created_at})
    return lines


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def idempotency(key: str | None, namespace: str) -> str | None:
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            422, "invalid_idempotency_key", "Idempotency-Key is 8-128 characters of A-Z a-z 0-9 _ . : -"
        )
    return f"web:{namespace}:{key}"


def replayed_headers(result: TurnResult) -> dict[str, str] | None:
    return {"Idempotent-Replayed": "true"} if result.replayed else None


def page_path(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def channel_facts(state: Chat) -> dict[str, Any]:
    """What the widget needs to know about this server besides the turn."""
    return {
        "handover": ["telegram"] if state.telegram_bot_username else [],
        "limits": {"message_chars": state.max_message_chars},
    }


# --------------------------------------------------------------------------- routes

router = APIRouter(prefix=PREFIX, tags=["conversations"])


@router.post(
    "",
    status_code=201,
    summary="Start a conversation",
    response_model=None,
    responses=documented(
        201, StartOut, "The conversation, its token and the first replies", 403, 413, 422, 429
    ),
)
async def start(
    body: StartRequest, request: Request, state: ChatDep, idempotency_key: IdempotencyKey = None
) -> Response:
    key = idempotency(idempotency_key, "start")
    state.limit(state.start_limit, state.client(request), "new conversations from this address")
    context = body.context
    source = Source(
        channel=Channel.WEB,
        page_url=context.page_url,
        referrer=context.referrer,
        utm={k: v for k, v in context.utm.model_dump().items() if v},
    )
    identity = Identity(WEB_VISITOR, context.visitor_id) if context.visitor_id else None
    locale = re.split(r"[-_]", body.locale, maxsplit=1)[0].lower()
    result = await state.service.start_conversation(
        body.flow, locale, source, identity=identity, idempotency_key=key
    )
    token = await state.tokens.issue(result.conversation_id)
    if not result.replayed:
        state.metrics.started.labels(result.flow_id).inc()
    out = turn_json(result) | {
        "conversation_id": str(result.conversation_id),
        "token": token.token,
        "expires_at": token.expires_at.isoformat(),
        **channel_facts(state),
    }
    return json_response(out, 201, replayed_headers(result))


@router.post(
    "/{conversation_id}/messages",
    summary="Answer the waiting question",
    response_model=None,
    responses=documented(200, TurnOut, "What the bot says next", 401, 403, 404, 409, 413, 422, 429),
)
async def message(
    conversation_id: ConversationId,
    body: MessageRequest,
    state: ChatDep,
    authorization: Authorization = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    key = idempotency(idempotency_key, str(conversation_id))
    await state.admit(authorization, conversation_id)
    if body.text is not None:
        if len(body.text) > state.max_message_chars:
            raise ApiError(
                422, "message_too_long", f"a message is at most {state.max_message_chars} characters"
            )
        if not body.text.strip():
            raise ApiError(422, "empty_message", "the message is empty")
        inbound = Inbound.typed(body.text, question_id=body.question_id, version=body.version)
    else:
        choices = body.choice if isinstance(body.choice, list) else [body.choice or ""]
        inbound = Inbound.tap(*choices, question_id=body.question_id, version=body.version)
    result = await state.service.handle_message(conversation_id, inbound, idempotency_key=key)
    if not result.replayed:
        state.metrics.turns.labels(result.flow_id).inc()
        if result.finished and result.outcome is not None:
            state.metrics.finished.labels(result.flow_id, result.outcome.value).inc()
    return json_response(turn_json(result), headers=replayed_headers(result))


@router.get(
    "/{conversation_id}",
    summary="The conversation so far, to resume it after a reload",
    response_model=None,
    responses=documented(
        200, ConversationOut, "Transcript, the waiting question and state", 401, 403, 404, 422, 429
    ),
)
async def get(
    conversation_id: ConversationId, state: ChatDep, authorization: Authorization = None
) -> Response:
    await state.tokens.check(authorization, conversation_id)
    view = await state.service.get_conversation(conversation_id)
    current = view.current or await state.service.current(conversation_id)
    out = turn_json(current) | {
        "conversation_id": str(conversation_id),
        "flow": current.flow_id,
        "locale": current.locale,
        "messages": [
            {"sender": line["sender"], "text": line["text"], "at": line["at"].isoformat()}
            for line in transcript_json(view.transcript)
        ],
        **channel_facts(state),
    }
    return json_response(out)


@router.post(
    "/{conversation_id}/events",
    summary="Report what the visitor did (a page view, the pricing page, a return)",
    response_model=None,
    responses=documented(
        200, TurnOut, "The conversation's state after the event", 401, 403, 404, 409, 413, 422, 429
    ),
)
async def event(
    conversation_id: ConversationId,
    body: EventRequest,
    state: ChatDep,
    authorization: Authorization = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    key = idempotency(idempotency_key, str(conversation_id))
    await state.admit(authorization, conversation_id)
    data = {k: v for k, v in {"path": page_path(body.url), "url": body.url, "title": body.title}.items() if v}
    result = await state.service.handle_message(
        conversation_id, Inbound(kind="event", name=body.name, data=data), idempotency_key=key
    )
    return json_response(turn_json(result), headers=replayed_headers(result))


@router.post(
    "/{conversation_id}/handover/telegram",
    summary="A link that continues this conversation in Telegram",
    response_model=None,
    responses=documented(
        200, HandoverOut, "The t.me link (single use, short-lived)", 401, 403, 404, 413, 422, 429
    ),
)
async def handover_telegram(
    conversation_id: ConversationId, state: ChatDep, authorization: Authorization = None
) -> Response:
    await state.admit(authorization, conversation_id)
    if not state.telegram_bot_username:
        raise ApiError(404, "telegram_not_configured", "this server has no Telegram bot")
    continuation = await state.service.issue_continuation(conversation_id)
    url = f"https://t.me/{state.telegram_bot_username}?start={continuation.token}"
    return json_response({"url": url, "expires_at": continuation.expires_at.isoformat()})
