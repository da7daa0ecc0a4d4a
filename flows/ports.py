"""The I/O boundaries of the conversation service, as Protocols, and the records that cross them.

The service speaks only these words; ``storage`` implements them over SQL and the tests over
dictionaries. A turn is saved as one unit (``TurnWrite``): the new state with the version it was
computed from, the transcript lines of both directions, the score snapshot, engagement events,
outbox rows and what the turn taught about the lead (identities, contact fields). Either all of it
is stored or none of it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from flows.model import JSON, ConversationState, Score, Stage, TurnResult

Direction = Literal["in", "out"]

# Identity kinds: how a returning person is recognised. Channel identities are strong (the
# channel vouches for them); a typed e-mail or phone is weak (see ``flows.leads``).
TELEGRAM = "telegram"
WEB_VISITOR = "web_visitor"
EMAIL = "email"
PHONE = "phone"
STRONG_IDENTITIES = frozenset({TELEGRAM, WEB_VISITOR})


class RandomIds:
    """Random (version 4) UUIDs for new records, cut from a buffer of ``os.urandom``: one system
    call per 256 ids instead of one per id (``uuid.uuid4``). Each such call lets go of the GIL, and
    getting it back beside a busy thread (the store's writer) costs up to the switch interval.
    For one thread at a time."""

    def __init__(self) -> None:
        self._buffer = b""
        self._at = 0

    def __call__(self) -> UUID:
        if self._at >= len(self._buffer):
            self._buffer = os.urandom(16 * 256)
            self._at = 0
        raw = self._buffer[self._at : self._at + 16]
        self._at += 16
        return UUID(bytes=raw, version=4)


@dataclass(frozen=True, slots=True)
class Identity:
    """One way to recognise a lead: a channel identity (Telegram user id, widget visitor id) or a
    contact given in the conversation (e-mail, phone). Unique across leads."""

    kind: str
    value: str

    @property
    def strong(self) -> bool:
        return self.kind in STRONG_IDENTITIES


@dataclass(frozen=True, slots=True)
class LeadContact:
    """Contact fields learnt in a turn; ``None`` leaves the stored field as it is."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None


@dataclass(frozen=True, slots=True)
class StoredConversation:
    id: UUID
    lead_id: UUID
    channel: str
    flow_id: str
    flow_version: int
    state: ConversationState
    created_at: datetime
    updated_at: datetime

    @property
    def version(self) -> int:
        """The stored version (optimistic locking): the state's own ``version``."""
        return self.state.version


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One transcript line to write: what came in (``in``) or what was said (``out``)."""

    direction: Direction
    kind: str
    text: str
    payload: JSON


@dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    direction: Direction
    kind: str
    text: str
    payload: JSON
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ScoreSnapshot:
    total: int
    fit: int
    engagement: int
    stage: Stage
    tier: str | None
    breakdown: tuple[JSON, ...]

    @classmethod
    def of(cls, score: Score) -> ScoreSnapshot:
        return cls(
            total=score.total,
            fit=score.fit,
            engagement=score.engagement,
            stage=score.stage,
            tier=score.tier,
            breakdown=tuple(line.to_json() for line in score.breakdown),
        )


@dataclass(frozen=True, slots=True)
class EngagementRecord:
    name: str
    data: JSON


@dataclass(frozen=True, slots=True)
class LeadClaim:
    """What one turn says about its lead (``flows.leads.decide`` turns it into a decision inside
    the write transaction): the conversation's stage after the turn; when the conversation
    completed or was re-scored (``completed``), its score and tier and the ``handoff`` payload of
    the event that may follow; the contact fields its answers gave."""

    stage: Stage
    score: int | None = None
    tier: str | None = None
    completed: bool = False
    contact: LeadContact | None = None
    handoff: JSON | None = None


@dataclass(frozen=True, slots=True)
class NewConversation:
    """A conversation to create. The store attaches it to the lead that owns any of
    ``identities`` (channel identities), or creates a lead with the id ``lead_id`` that owns
    them. With an
    ``idempotency_key`` the start is saved once: a second create with that key raises
    ``DuplicateInbound`` and saves nothing (``result`` is what ``replay`` returns for it)."""

    id: UUID
    lead_id: UUID
    channel: str
    state: ConversationState
    identities: tuple[Identity, ...]
    messages: tuple[MessageRecord, ...]
    at: datetime
    idempotency_key: str | None = None
    result: JSON | None = None


@dataclass(frozen=True, slots=True)
class TurnWrite:
    """Everything one turn changed, saved atomically if the stored version is still
    ``expected_version`` (it becomes ``state.version``, one higher). ``identities`` are the
    contacts the turn's answers gave (weak: attached to the lead, or recorded as a candidate match
    when another lead owns them). With an ``idempotency_key`` the turn is saved once (see
    ``NewConversation``)."""

    conversation_id: UUID
    expected_version: int
    state: ConversationState
    messages: tuple[MessageRecord, ...]
    at: datetime
    claim: LeadClaim
    score: ScoreSnapshot | None = None
    engagement: tuple[EngagementRecord, ...] = ()
    identities: tuple[Identity, ...] = ()
    idempotency_key: str | None = None
    result: JSON | None = None


@dataclass(frozen=True, slots=True)
class ConversationView:
    """A conversation as operators and resuming channels see it. ``current`` is what is waiting
    (filled in by the service); ``score`` is for sales only, never for the visitor."""

    conversation: StoredConversation
    transcript: tuple[StoredMessage, ...]
    score: ScoreSnapshot | None
    current: TurnResult | None = None


@dataclass(frozen=True, slots=True)
class LeadFilter:
    """Which leads an operator asks for; ``None`` means any. ``since``/``until`` bound the time
    the lead was created (``until`` exclusive)."""

    stage: Stage | None = None
    tier: str | None = None
    flow_id: str | None = None
    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class LeadSummary:
    id: UUID
    stage: Stage
    score: int | None
    tier: str | None
    contact: LeadContact
    flow_id: str | None
    channel: str | None
    conversations: int
    candidates: int
    created_at: datetime
    updated_at: datetime
    outcome_at: datetime | None = None  # the CRM's last outcome report (the stage holds its status)
    outcome_reason: str | None = None


@dataclass(frozen=True, slots=True)
class LeadPage:
    """One page of leads, newest first; ``next_cursor`` fetches the next page (None: the last)."""

    items: tuple[LeadSummary, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class CandidateMatch:
    """Another lead that owns a contact this lead's conversation typed: maybe the same person,
    for sales to judge; never merged automatically."""

    lead_id: UUID
    identity: Identity
    conversation_id: UUID
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LeadDetail:
    lead: LeadSummary
    identities: tuple[Identity, ...]
    conversations: tuple[ConversationView, ...]
    candidates: tuple[CandidateMatch, ...]


class ConversationStore(Protocol):
    """Conversations, their leads and everything a turn writes."""

    async def find_lead(self, identities: Sequence[Identity]) -> UUID | None:
        """The lead that owns any of ``identities``, if one does."""
        ...

    async def create(self, new: NewConversation) -> StoredConversation: ...

    async def load(self, conversation_id: UUID) -> StoredConversation | None:
        """The conversation as last saved (a store may answer from a cache that ``save_turn``
        keeps honest: a stale version makes that save fail with ``ConcurrentUpdate``)."""
        ...

    async def save_turn(self, turn: TurnWrite) -> StoredConversation:
        """Save the whole turn or nothing. Raises ``ConcurrentUpdate`` when the stored version is
        not ``turn.expected_version`` and ``ConversationNotFound`` when there is no such row."""
        ...

    async def view(self, conversation_id: UUID) -> ConversationView | None:
        """State, transcript and latest score, read from the store itself (no cache)."""
        ...

    async def replay(self, idempotency_key: str) -> JSON | None:
        """The ``result`` saved with the write that claimed this key, if one did."""
        ...

    async def find_conversation(self, identity: Identity, *, open_only: bool) -> UUID | None:
        """The most recently updated conversation (on any channel) of the lead owning
        ``identity``; with ``open_only``, only one still in progress."""
        ...

    async def save_continuation(
        self, token_hash: str, conversation_id: UUID, expires_at: datetime, at: datetime
    ) -> None:
        """Keep a continuation token (its hash) for one conversation. Raises
        ``ConversationNotFound``."""
        ...

    async def redeem_continuation(
        self, token_hash: str, identity: Identity, at: datetime
    ) -> StoredConversation | None:
        """Use a continuation token once, in one transaction: mark it used, and make ``identity``
        (a channel identity) the conversation's lead's, merging the lead that owned it
        (``flows.leads.merge``). None when the token is unknown, used or expired at ``at``."""
        ...


class LeadReader(Protocol):
    """The read side for operators: leads with their conversations, for the admin API."""

    async def leads(self, filter: LeadFilter, *, limit: int, cursor: str | None) -> LeadPage:
        """Raises ``ValueError`` for a cursor it did not give out."""
        ...

    async def lead(self, lead_id: UUID) -> LeadDetail | None: ...


class FlowVersionStore(Protocol):
    """The exact flow sources conversations started on, so a version outlives edits."""

    async def record(self, flow_id: str, version: int, sha256: str, source: str) -> None:
        """Keep this version; idempotent. Raises ``FlowVersionConflict`` when the same id and
        version is already kept with other content."""
        ...

    async def source(self, flow_id: str, version: int) -> str | None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...
