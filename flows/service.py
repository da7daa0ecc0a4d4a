"""The conversation use cases: start a conversation, handle what a person did, show a conversation.

Async, over the ports in ``flows.ports`` only. One turn is: load the conversation, take the pure
``engine.step`` with the flow version the conversation started on, and save everything the turn
produced as one unit (new state + transcript of both directions + score snapshot + engagement
events + an outbox row for each handoff stage change). Turns of one conversation in this process
queue on a per-conversation lock; a turn that loses a race to another process (optimistic check on
the conversation version) is recomputed from a fresh read, never written over the other.
"""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flows import engine
from flows.catalog import FlowCatalog, FlowEntry
from flows.errors import ConcurrentUpdate, ConversationNotFound, FlowNotFound, InvalidLocale
from flows.events import LeadStageChanged
from flows.extract import clean_text
from flows.model import JSON, ConversationState, Inbound, Reply, Stage, Turn
from flows.ports import (
    EMAIL,
    PHONE,
    TELEGRAM,
    WEB_VISITOR,
    Clock,
    ConversationStore,
    ConversationView,
    EngagementRecord,
    FlowVersionStore,
    Identity,
    LeadContact,
    MessageRecord,
    NewConversation,
    OutboxRecord,
    RandomIds,
    ScoreSnapshot,
    StoredConversation,
    TurnWrite,
)
from flows.spec import FlowSpec, QuestionKind, tr

Step = Callable[[ConversationState, Inbound, FlowSpec, datetime], Turn]

# Stage changes that are handed off to the CRM (as ``lead.<stage>`` events).
HANDOFF_STAGES = frozenset({Stage.MQL, Stage.SQL, Stage.DISQUALIFIED, Stage.NURTURE})

# Context keys that identify a person on a channel, and the identity kind each becomes.
IDENTITY_KEYS = {"telegram_user_id": TELEGRAM, "visitor_id": WEB_VISITOR}

_FACT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
MAX_FACT_TEXT = 500
MAX_CONTEXT_FACTS = 32


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Started:
    conversation_id: uuid.UUID
    lead_id: uuid.UUID
    returning: bool
    replies: tuple[Reply, ...]


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[uuid.UUID, _Entry] = {}

    def hold(self, key: uuid.UUID) -> _Held:
        return _Held(self._locks, key)


@dataclass(slots=True)
class _Entry:
    lock: asyncio.Lock
    users: int = 0


class _Held:
    """``async with locks.hold(key)``: written out rather than a generator-based context manager,
    which costs several times more on every turn."""

    __slots__ = ("_entry", "_key", "_locks")

    def __init__(self, locks: dict[uuid.UUID, _Entry], key: uuid.UUID) -> None:
        self._locks = locks
        self._key = key
        entry = locks.get(key)
        if entry is None:
            entry = locks[key] = _Entry(asyncio.Lock())
        entry.users += 1
        self._entry = entry

    async def __aenter__(self) -> None:
        try:
            await self._entry.lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._entry.lock.release()
        self._leave()

    def _leave(self) -> None:
        self._entry.users -= 1
        if self._entry.users == 0:
            del self._locks[self._key]


class ConversationService:
    def __init__(
        self,
        conversations: ConversationStore,
        flow_versions: FlowVersionStore,
        catalog: FlowCatalog,
        clock: Clock,
        *,
        step: Step = engine.step,
        max_attempts: int = 100,
    ) -> None:
        self._store = conversations
        self._flow_versions = flow_versions
        self._catalog = catalog
        self._clock = clock
        self._step = step
        self._max_attempts = max_attempts
        self._locks = _KeyedLocks()
        self._new_id = RandomIds()
        self.retries = 0

    async def start_conversation(
        self, flow_id: str, channel: str, locale: str, context: Mapping[str, Any] | None = None
    ) -> Started:
        """Open a conversation on the current version of ``flow_id``: greeting and first question.

        ``context`` carries the channel identity (``telegram_user_id``, ``visitor_id``), which
        recognises a returning person, and source facts (``utm_*``, ``referrer``, ``pages_seen``,
        ...) that engagement scoring reads."""
        entry = self._catalog.current(flow_id)
        spec = entry.spec
        if locale not in spec.locales:
            raise InvalidLocale(flow_id, locale, tuple(spec.locales))
        await self._ensure_recorded(entry)
        identities, facts = split_context(context or {})
        lead_id = await self._store.find_lead(identities)
        facts |= {"channel": channel, "returning": lead_id is not None}
        state = ConversationState(flow_id=spec.id, flow_version=spec.version, locale=locale, facts=facts)
        now = self._clock.now()
        start = Inbound(kind="start")
        turn = self._step(state, start, spec, now)
        stored = await self._store.create(
            NewConversation(
                id=self._new_id(),
                channel=channel,
                state=turn.state,
                identities=identities,
                messages=(inbound_record(start), *(reply_record(r) for r in turn.replies)),
                at=now,
            )
        )
        return Started(stored.id, stored.lead_id, lead_id is not None, turn.replies)

    async def handle_message(self, conversation_id: uuid.UUID | str, inbound: Inbound) -> tuple[Reply, ...]:
        """Take one turn and save it with everything it produced; returns the replies to show."""
        cid = parse_conversation_id(conversation_id)
        async with self._locks.hold(cid):
            for attempt in range(self._max_attempts):
                stored = await self._store.load(cid)
                if stored is None:
                    raise ConversationNotFound(cid)
                spec = await self._spec(stored.flow_id, stored.flow_version)
                now = self._clock.now()
                turn = self._step(stored.state, inbound, spec, now)
                try:
                    await self._store.save_turn(turn_write(stored, inbound, turn, spec, now))
                except ConcurrentUpdate:
                    # Another process saved this conversation first: recompute from its state.
                    self.retries += 1
                    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                    continue
                return turn.replies
            raise ConcurrentUpdate(cid, -1)

    async def get_conversation(self, conversation_id: uuid.UUID | str) -> ConversationView:
        """State, transcript (both directions) and the latest score."""
        cid = parse_conversation_id(conversation_id)
        view = await self._store.view(cid)
        if view is None:
            raise ConversationNotFound(cid)
        return view

    async def _ensure_recorded(self, entry: FlowEntry) -> None:
        if not self._catalog.is_recorded(entry):
            await self._flow_versions.record(entry.spec.id, entry.spec.version, entry.sha256, entry.source)
            self._catalog.mark_recorded(entry)

    async def _spec(self, flow_id: str, version: int) -> FlowSpec:
        entry = self._catalog.version(flow_id, version)
        if entry is None:
            source = await self._flow_versions.source(flow_id, version)
            if source is None:
                raise FlowNotFound(flow_id, version)
            entry = self._catalog.pin(source, f"{flow_id}@{version}")
            self._catalog.mark_recorded(entry)
        return entry.spec


def parse_conversation_id(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise ConversationNotFound(value) from None


def split_context(context: Mapping[str, Any]) -> tuple[tuple[Identity, ...], JSON]:
    """Channel identities and source facts from what the channel knows about the visit. Facts are
    plain scalars under lowercase names; text is cleaned and cut, anything else is dropped."""
    identities: list[Identity] = []
    facts: JSON = {}
    for key, value in context.items():
        kind = IDENTITY_KEYS.get(key)
        if kind is not None:
            if value is not None and str(value).strip():
                identities.append(Identity(kind, str(value).strip()[:320]))
            continue
        if not isinstance(key, str) or not _FACT_KEY.match(key) or len(facts) >= MAX_CONTEXT_FACTS:
            continue
        if isinstance(value, bool | int) or (isinstance(value, float) and value == value):
            facts[key] = value
        elif isinstance(value, str):
            cleaned = clean_text(value[: MAX_FACT_TEXT * 4], max_len=MAX_FACT_TEXT).strip()
            if cleaned:
                facts[key] = cleaned
    return tuple(identities), facts


def inbound_record(inbound: Inbound) -> MessageRecord:
    payload = inbound.to_json()
    text = clean_text(inbound.text) if inbound.text else ""
    if text:
        payload["text"] = text
    shown = text or ", ".join(inbound.choices) or inbound.name
    return MessageRecord(direction="in", kind=inbound.kind, text=shown, payload=payload)


def reply_record(reply: Reply) -> MessageRecord:
    return MessageRecord(direction="out", kind="reply", text=reply.text, payload=reply.to_json())


def learnt_contact(
    before: ConversationState, after: ConversationState, spec: FlowSpec
) -> tuple[tuple[Identity, ...], LeadContact | None]:
    """Identities and contact fields this turn's answers gave (only what changed)."""
    fields: dict[str, str] = {}
    earlier = before.answers
    for qid, answer in after.answers.items():
        previous = earlier.get(qid)
        if previous is answer:
            continue  # carried over unchanged from the state before
        question = spec.question_by_id.get(qid)
        if question is None or not question.is_contact:
            continue
        if not answer.understood or answer.skipped or not isinstance(answer.value, str):
            continue
        if previous is not None and previous.value == answer.value:
            continue
        fields[question.kind.value] = answer.value
    if not fields:
        return (), None
    identities = []
    if QuestionKind.EMAIL.value in fields:
        identities.append(Identity(EMAIL, fields[QuestionKind.EMAIL.value].strip().lower()))
    if QuestionKind.PHONE.value in fields:
        identities.append(Identity(PHONE, fields[QuestionKind.PHONE.value].strip()))
    contact = LeadContact(
        name=fields.get(QuestionKind.NAME.value),
        email=fields.get(QuestionKind.EMAIL.value),
        phone=fields.get(QuestionKind.PHONE.value),
        company=fields.get(QuestionKind.COMPANY.value),
    )
    return tuple(identities), contact


def handoff_payload(
    stored: StoredConversation,
    state: ConversationState,
    event: LeadStageChanged,
    snapshot: ScoreSnapshot | None,
    spec: FlowSpec,
) -> JSON:
    """What the CRM gets: answers with their questions, the score and where it came from, the
    source facts. (The store stamps the final ``lead_id``.)"""
    answers: JSON = {}
    for qid, answer in state.answers.items():
        question = spec.question_by_id.get(qid)
        answers[qid] = answer.to_json() | {
            "question": tr(question.text, state.locale) if question else qid,
            "dimension": question.dimension if question else None,
        }
    return {
        "type": event.handoff_type,
        "conversation_id": str(stored.id),
        "lead_id": str(stored.lead_id),
        "channel": stored.channel,
        "flow": {"id": spec.id, "version": spec.version, "framework": spec.framework},
        "locale": state.locale,
        "stage": event.stage.value,
        "previous_stage": event.previous.value,
        "score": event.score,
        "tier": event.tier,
        "fit": snapshot.fit if snapshot else None,
        "engagement": snapshot.engagement if snapshot else None,
        "knockout": state.knockout,
        "score_breakdown": list(snapshot.breakdown) if snapshot else [],
        "answers": answers,
        "source": dict(state.facts),
    }


def turn_write(
    stored: StoredConversation, inbound: Inbound, turn: Turn, spec: FlowSpec, now: datetime
) -> TurnWrite:
    state = turn.state
    identities, contact = learnt_contact(stored.state, state, spec)
    snapshot = ScoreSnapshot.of(turn.score) if turn.score is not None else None
    outbox = tuple(
        OutboxRecord(type=event.handoff_type, payload=handoff_payload(stored, state, event, snapshot, spec))
        for event in turn.events
        if isinstance(event, LeadStageChanged) and event.stage in HANDOFF_STAGES
    )
    engagement = (EngagementRecord(inbound.name[:64], dict(inbound.data)),) if inbound.kind == "event" else ()
    return TurnWrite(
        conversation_id=stored.id,
        expected_version=stored.version,
        state=state,
        messages=(inbound_record(inbound), *(reply_record(r) for r in turn.replies)),
        at=now,
        score=snapshot,
        engagement=engagement,
        outbox=outbox,
        identities=identities,
        contact=contact,
    )
