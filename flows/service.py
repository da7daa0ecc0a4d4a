"""The conversation use cases every channel calls: start, answer, resume, continue elsewhere, read.

Async, over the ports in ``flows.ports`` only. One turn is: load the conversation, take the pure
``engine.step`` with the flow version the conversation started on, and save everything the turn
produced as one unit (new state + transcript of both directions + score snapshot + engagement
events + what the turn claims for its lead, which ``flows.leads`` turns into the lead's new stage
and a handoff event inside the same transaction). A step that changes nothing (a stale tap, the
current question shown again) saves nothing.

Turns of one conversation in this process queue on a per-conversation lock; a turn that loses a
race to another process (optimistic check on the conversation version) is recomputed from a fresh
read, never written over the other. An ``idempotency_key`` (a retried web request, a redelivered
Telegram update) is claimed in the turn's own transaction, so a key costs no read of its own: a
repeat is refused by the store (``DuplicateInbound``) or is stale by then, and either way gets the
first result back and changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flows import engine
from flows.catalog import FlowCatalog, FlowEntry
from flows.compiled import CompiledFlow
from flows.errors import (
    ConcurrentUpdate,
    ContinuationInvalid,
    ConversationNotFound,
    DuplicateInbound,
    FlowNotFound,
    InvalidLocale,
    LeadNotFound,
)
from flows.events import LeadStageChanged
from flows.facts import FACT_NAME, event_data, source_facts
from flows.model import (
    JSON,
    ConversationState,
    Inbound,
    Progress,
    Reply,
    Source,
    Stage,
    Turn,
    TurnResult,
)
from flows.ports import (
    EMAIL,
    PHONE,
    Clock,
    ConversationStore,
    ConversationView,
    EngagementRecord,
    FlowVersionStore,
    Identity,
    LeadClaim,
    LeadContact,
    LeadDetail,
    LeadFilter,
    LeadPage,
    LeadReader,
    MessageRecord,
    NewConversation,
    RandomIds,
    ScoreSnapshot,
    StoredConversation,
    TurnWrite,
)
from flows.scoring import score
from flows.spec import FlowSpec, QuestionKind, tr

__all__ = ["Continuation", "ConversationService", "Progress", "SystemClock", "TurnResult"]

Step = Callable[[ConversationState, Inbound, CompiledFlow, datetime], Turn]

# The transcript keeps what a person sent as text, up to this many characters (the rest is cut);
# characters no database can store (NUL, lone surrogates) are dropped. Renderers escape it.
MAX_MESSAGE = 4000
MAX_TAPS = 50
MAX_TAP = 100
MAX_KEY = 200
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
MAX_PAGE = 500


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Continuation:
    """A single-use token that lets the same lead carry on with a conversation on another channel
    (e.g. a Telegram deep link from the web chat): 32 characters of ``[A-Za-z0-9_-]``."""

    token: str
    expires_at: datetime


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
        leads: LeadReader,
        step: Step = engine.step,
        max_attempts: int = 100,
    ) -> None:
        self._store = conversations
        self._flow_versions = flow_versions
        self._catalog = catalog
        self._clock = clock
        self._leads = leads
        self._step = step
        self._max_attempts = max_attempts
        self._locks = _KeyedLocks()
        self._new_id = RandomIds()
        self.retries = 0

    # ------------------------------------------------------------------ conversations

    async def start_conversation(
        self,
        flow_id: str,
        locale: str,
        source: Source,
        *,
        identity: Identity | None = None,
        idempotency_key: str | None = None,
    ) -> TurnResult:
        """Open a conversation on the current version of ``flow_id``: greeting and first question.

        ``identity`` is the person's channel identity (Telegram user, widget visitor): a known one
        attaches the conversation to its lead (``returning``). ``source`` gives the facts
        engagement scoring reads (page, referrer, UTM tags, deep link)."""
        key = _key(idempotency_key)
        entry = self._catalog.current(flow_id)
        spec = entry.spec
        if locale not in spec.locales:
            raise InvalidLocale(flow_id, locale, tuple(spec.locales))
        if identity is not None and not identity.strong:
            raise ValueError(f"a conversation starts with a channel identity, not {identity.kind!r}")
        await self._ensure_recorded(entry)
        identities = (_bounded(identity),) if identity is not None else ()
        lead_id = await self._store.find_lead(identities) if identities else None
        facts = source_facts(source) | {"returning": lead_id is not None}
        state = ConversationState(flow_id=spec.id, flow_version=spec.version, locale=locale, facts=facts)
        now = self._clock.now()
        start = Inbound(kind="start")
        turn = self._step(state, start, entry.flow, now)
        new_lead = self._new_id()
        result = _result(self._new_id(), lead_id or new_lead, turn.state, turn, entry.flow)
        result = replace(result, returning=lead_id is not None)
        new = NewConversation(
            id=result.conversation_id,
            lead_id=new_lead,
            channel=source.channel.value,
            state=turn.state,
            identities=identities,
            messages=(inbound_record(start), *(reply_record(r) for r in turn.replies)),
            at=now,
            idempotency_key=key,
            result=result.to_json() if key is not None else None,
        )
        try:
            stored = await self._store.create(new)
        except DuplicateInbound:
            return await self._replay(new.idempotency_key or "")
        return replace(result, lead_id=stored.lead_id)

    async def handle_message(
        self, conversation_id: uuid.UUID | str, inbound: Inbound, *, idempotency_key: str | None = None
    ) -> TurnResult:
        """Take one turn and save it with everything it produced (see the module docstring)."""
        cid = parse_conversation_id(conversation_id)
        key = _key(idempotency_key)
        async with self._locks.hold(cid):
            for attempt in range(self._max_attempts):
                stored = await self._load(cid)
                flow = await self._flow(stored.flow_id, stored.flow_version)
                now = self._clock.now()
                turn = self._step(stored.state, inbound, flow, now)
                result = _result(cid, stored.lead_id, turn.state, turn, flow)
                if turn.state is stored.state:
                    # Nothing changed, nothing to save. A repeat of a request that was applied
                    # (its answer is stale by now) gets the first result back.
                    replayed = await self._replayed(key) if key is not None else None
                    return replayed or result
                write = turn_write(stored, inbound, turn, flow.spec, now, key, result)
                try:
                    saved = await self._store.save_turn(write)
                except ConcurrentUpdate:
                    # Another process saved this conversation first: recompute from its state.
                    self.retries += 1
                    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                    continue
                except DuplicateInbound:
                    return await self._replay(key or "")
                finished = result.done and not stored.state.completed
                return replace(result, lead_id=saved.lead_id, finished=finished)
            raise ConcurrentUpdate(cid, -1)

    async def current(self, conversation_id: uuid.UUID | str) -> TurnResult:
        """What is waiting in a conversation (its current question, or its closing), shown again;
        nothing is written. For a channel that resumes (a reload, Telegram's /start)."""
        stored = await self._load(parse_conversation_id(conversation_id))
        flow = await self._flow(stored.flow_id, stored.flow_version)
        return self._current(stored, flow)

    async def get_conversation(self, conversation_id: uuid.UUID | str) -> ConversationView:
        """State, transcript (both directions), the latest score and what is waiting."""
        cid = parse_conversation_id(conversation_id)
        view = await self._store.view(cid)
        if view is None:
            raise ConversationNotFound(cid)
        stored = view.conversation
        flow = await self._flow(stored.flow_id, stored.flow_version)
        return replace(view, current=self._current(stored, flow))

    async def find_conversation(self, identity: Identity, *, open_only: bool = True) -> uuid.UUID | None:
        """The latest conversation (still in progress, with ``open_only``) of the lead that owns
        this channel identity, on whichever channel it started."""
        return await self._store.find_conversation(_bounded(identity), open_only=open_only)

    async def issue_continuation(
        self, conversation_id: uuid.UUID | str, *, ttl: timedelta = timedelta(minutes=15)
    ) -> Continuation:
        """A single-use token for carrying on with this conversation on another channel."""
        cid = parse_conversation_id(conversation_id)
        now = self._clock.now()
        token = secrets.token_urlsafe(24)
        expires_at = now + ttl
        await self._store.save_continuation(_token_hash(token), cid, expires_at, now)
        return Continuation(token, expires_at)

    async def redeem_continuation(self, token: str, identity: Identity) -> TurnResult:
        """Carry on with the conversation a continuation token was issued for, as ``identity``
        (a channel identity, which becomes its lead's). Raises ``ContinuationInvalid`` for an
        unknown, used or expired token."""
        if not isinstance(token, str) or not _TOKEN.match(token):
            raise ContinuationInvalid()
        if not identity.strong:
            raise ValueError(f"a conversation continues with a channel identity, not {identity.kind!r}")
        at = self._clock.now()
        stored = await self._store.redeem_continuation(_token_hash(token), _bounded(identity), at)
        if stored is None:
            raise ContinuationInvalid()
        flow = await self._flow(stored.flow_id, stored.flow_version)
        return replace(self._current(stored, flow), returning=True)

    # ------------------------------------------------------------------ leads (operators)

    async def list_leads(self, filter: LeadFilter, *, limit: int = 50, cursor: str | None = None) -> LeadPage:
        """Leads, newest first, ``limit`` (1..500) a page; ``cursor`` from the previous page.
        Raises ``ValueError`` for a cursor this service did not give out."""
        return await self._leads.leads(filter, limit=max(1, min(limit, MAX_PAGE)), cursor=cursor)

    async def get_lead(self, lead_id: uuid.UUID | str) -> LeadDetail:
        """One lead with its identities, conversations (transcript and score each) and candidate
        matches."""
        try:
            lid = lead_id if isinstance(lead_id, uuid.UUID) else uuid.UUID(str(lead_id))
        except ValueError:
            raise LeadNotFound(str(lead_id)[:64]) from None
        found = await self._leads.lead(lid)
        if found is None:
            raise LeadNotFound(lid)
        return found

    # ------------------------------------------------------------------ handoff

    async def conversation_handoff(self, stored: StoredConversation) -> JSON:
        """What the CRM gets about a conversation, finished or not (``lead.abandoned``, a lead's
        card): its answers so far with their questions, the score they add up to with its
        breakdown, the source facts (``handoff_payload``'s shape; the caller adds the lead)."""
        flow = await self._flow(stored.flow_id, stored.flow_version)
        so_far = ScoreSnapshot.of(score(flow, stored.state))
        return handoff_payload(stored, stored.state, so_far, flow.spec)

    # ------------------------------------------------------------------ internals

    async def _load(self, cid: uuid.UUID) -> StoredConversation:
        stored = await self._store.load(cid)
        if stored is None:
            raise ConversationNotFound(cid)
        return stored

    def _current(self, stored: StoredConversation, flow: CompiledFlow) -> TurnResult:
        turn = self._step(stored.state, Inbound(kind="start"), flow, self._clock.now())
        return _result(stored.id, stored.lead_id, stored.state, replace(turn, state=stored.state), flow)

    async def _replayed(self, key: str) -> TurnResult | None:
        data = await self._store.replay(key)
        if data is None:
            return None
        stored = await self._load(uuid.UUID(str(data["conversation_id"])))
        return replace(TurnResult.from_json(data, stored.lead_id), replayed=True)

    async def _replay(self, key: str) -> TurnResult:
        found = await self._replayed(key)
        if found is None:
            raise DuplicateInbound(key)
        return found

    async def _ensure_recorded(self, entry: FlowEntry) -> None:
        if not self._catalog.is_recorded(entry):
            await self._flow_versions.record(entry.spec.id, entry.spec.version, entry.sha256, entry.source)
            self._catalog.mark_recorded(entry)

    async def _flow(self, flow_id: str, version: int) -> CompiledFlow:
        entry = self._catalog.version(flow_id, version)
        if entry is None:
            source = await self._flow_versions.source(flow_id, version)
            if source is None:
                raise FlowNotFound(flow_id, version)
            entry = self._catalog.pin(source, f"{flow_id}@{version}")
            self._catalog.mark_recorded(entry)
        return entry.flow


def _result(
    conversation_id: uuid.UUID, lead_id: uuid.UUID, state: ConversationState, turn: Turn, flow: CompiledFlow
) -> TurnResult:
    done = state.completed
    number, total = engine.progress(flow, state)
    answered = total if done else max(0, number - 1)
    return TurnResult(
        conversation_id=conversation_id,
        lead_id=lead_id,
        flow_id=state.flow_id,
        locale=state.locale,
        version=state.version,
        replies=turn.replies,
        question_id=None if done else state.state,
        progress=Progress(answered, max(total, answered)),
        done=done,
        stale=turn.stale,
        outcome=state.stage if done else None,
    )


def _key(key: str | None) -> str | None:
    """An idempotency key as it is kept (cut: a key is an id, never content)."""
    if key is None:
        return None
    return stored_text(key)[:MAX_KEY] or None


def _bounded(identity: Identity) -> Identity:
    return Identity(identity.kind[:32], stored_text(identity.value).strip()[:320])


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def parse_conversation_id(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise ConversationNotFound(str(value)[:64]) from None


def stored_text(text: Any, limit: int = MAX_MESSAGE) -> str:
    """Text as the transcript keeps it: what the person sent, without the characters no database
    can store (NUL, lone surrogates), cut to ``limit`` characters."""
    if not isinstance(text, str):
        return ""
    return _UNSTORABLE.sub("", text[: limit * 2])[:limit]


def inbound_record(inbound: Inbound) -> MessageRecord:
    """The transcript line of what came in. Its payload holds only bounded, storable values."""
    text = stored_text(inbound.text)
    choices = inbound.choices if isinstance(inbound.choices, tuple | list) else ()
    taps = [stored_text(c, MAX_TAP) for c in choices[:MAX_TAPS] if isinstance(c, str)]
    name = inbound.name if isinstance(inbound.name, str) and FACT_NAME.match(inbound.name) else ""
    payload: JSON = {"kind": inbound.kind}
    if text:
        payload["text"] = text
    if taps:
        payload["choices"] = taps
    if name:
        payload["name"] = name
        data = event_data(inbound.data)
        if data:
            payload["data"] = data
    if isinstance(inbound.question_id, str):
        payload["question_id"] = stored_text(inbound.question_id, 64)
    if isinstance(inbound.version, int) and not isinstance(inbound.version, bool):
        payload["version"] = inbound.version
    shown = text or ", ".join(taps) or name
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
    stored: StoredConversation, state: ConversationState, snapshot: ScoreSnapshot | None, spec: FlowSpec
) -> JSON:
    """What the CRM gets about the conversation behind a handoff event: its answers with their
    questions, its score and where every point came from, the source facts. The store adds
    ``type``, the ``lead`` (id, stage before and after, score, tier) and its ``contact``."""
    answers: JSON = {}
    for qid, answer in state.answers.items():
        question = spec.question_by_id.get(qid)
        answers[qid] = answer.to_json() | {
            "question": tr(question.text, state.locale) if question else qid,
            "dimension": question.dimension if question else None,
        }
    return {
        "conversation": {
            "id": str(stored.id),
            "channel": stored.channel,
            "locale": state.locale,
            "stage": state.stage.value,
            "knockout": state.knockout,
            "flow": {"id": spec.id, "version": spec.version, "framework": spec.framework},
        },
        "score": {
            "total": snapshot.total if snapshot else state.score,
            "fit": snapshot.fit if snapshot else None,
            "engagement": snapshot.engagement if snapshot else None,
            "tier": state.tier,
            "breakdown": list(snapshot.breakdown) if snapshot else [],
        },
        "answers": answers,
        "source": dict(state.facts),
    }


def turn_write(
    stored: StoredConversation,
    inbound: Inbound,
    turn: Turn,
    spec: FlowSpec,
    now: datetime,
    key: str | None = None,
    result: TurnResult | None = None,
) -> TurnWrite:
    state = turn.state
    identities, contact = learnt_contact(stored.state, state, spec)
    snapshot = ScoreSnapshot.of(turn.score) if turn.score is not None else None
    completed = any(isinstance(event, LeadStageChanged) for event in turn.events)
    claim = LeadClaim(
        stage=state.stage if completed else Stage.IN_PROGRESS,
        score=state.score if completed else None,
        tier=state.tier if completed else None,
        completed=completed,
        contact=contact,
        handoff=handoff_payload(stored, state, snapshot, spec) if completed else None,
    )
    engagement: tuple[EngagementRecord, ...] = ()
    if inbound.kind == "event" and isinstance(inbound.name, str) and FACT_NAME.match(inbound.name):
        engagement = (EngagementRecord(inbound.name, event_data(inbound.data)),)
    return TurnWrite(
        conversation_id=stored.id,
        expected_version=stored.version,
        state=state,
        messages=(inbound_record(inbound), *(reply_record(r) for r in turn.replies)),
        at=now,
        claim=claim,
        score=snapshot,
        engagement=engagement,
        identities=identities,
        idempotency_key=key,
        result=result.to_json() if key is not None and result is not None else None,
    )
