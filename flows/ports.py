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

from flows.model import JSON, ConversationState, Score, Stage

Direction = Literal["in", "out"]

# Identity kinds: how a returning person is recognised.
TELEGRAM = "telegram"
WEB_VISITOR = "web_visitor"
EMAIL = "email"
PHONE = "phone"


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
    version: int
    state: ConversationState
    created_at: datetime
    updated_at: datetime


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
class OutboxRecord:
    """A handoff event (``lead.mql``, ...) for the delivery worker, written with the turn."""

    type: str
    payload: JSON


@dataclass(frozen=True, slots=True)
class NewConversation:
    """A conversation to create. The store attaches it to the lead that owns any of
    ``identities`` (or ``lead_id``), or creates a lead that owns them."""

    id: UUID
    channel: str
    state: ConversationState
    identities: tuple[Identity, ...]
    messages: tuple[MessageRecord, ...]
    at: datetime
    lead_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class TurnWrite:
    """Everything one turn changed, saved atomically if the stored version is still
    ``expected_version`` (it becomes ``expected_version + 1``)."""

    conversation_id: UUID
    expected_version: int
    state: ConversationState
    messages: tuple[MessageRecord, ...]
    at: datetime
    score: ScoreSnapshot | None = None
    engagement: tuple[EngagementRecord, ...] = ()
    outbox: tuple[OutboxRecord, ...] = ()
    identities: tuple[Identity, ...] = ()
    contact: LeadContact | None = None


@dataclass(frozen=True, slots=True)
class ConversationView:
    conversation: StoredConversation
    transcript: tuple[StoredMessage, ...]
    score: ScoreSnapshot | None


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
