"""In-memory implementations of the ports, for tests of the service and for the store contract.

``MemoryStore`` is a whole ``ConversationStore`` and ``LeadReader``: versions checked, a turn
applied whole or not at all, the lead rules of ``flows.leads`` applied as the SQL store applies
them, idempotency keys, continuation tokens and candidate matches. The contract suite
(``tests/contract/``) runs the same scenarios on it, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from flows import leads as lead_rules
from flows.errors import ConcurrentUpdate, ConversationNotFound, DuplicateInbound, FlowVersionConflict
from flows.model import JSON, Stage
from flows.ports import (
    CandidateMatch,
    ConversationView,
    Identity,
    LeadContact,
    LeadDetail,
    LeadFilter,
    LeadPage,
    LeadSummary,
    MessageRecord,
    NewConversation,
    ScoreSnapshot,
    StoredConversation,
    StoredMessage,
    TurnWrite,
)


class FakeClock:
    """A clock that moves one millisecond each time it is read, from a fixed start."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at


@dataclass
class FakeFlowVersionStore:
    sources: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)

    async def record(self, flow_id: str, version: int, sha256: str, source: str) -> None:
        kept = self.sources.setdefault((flow_id, version), (sha256, source))
        if kept[0] != sha256:
            raise FlowVersionConflict(flow_id, version)

    async def source(self, flow_id: str, version: int) -> str | None:
        kept = self.sources.get((flow_id, version))
        return kept[1] if kept else None


@dataclass
class OutboxRow:
    type: str
    lead_id: uuid.UUID
    conversation_id: uuid.UUID
    payload: JSON


@dataclass
class _Lead:
    record: lead_rules.LeadRecord
    updated_at: datetime
    merged_into: uuid.UUID | None = None


@dataclass
class _Match:
    lead_id: uuid.UUID
    other_lead_id: uuid.UUID
    identity: Identity
    conversation_id: uuid.UUID
    created_at: datetime


@dataclass
class MemoryStore:
    """``ConversationStore`` and ``LeadReader`` in memory (see the module docstring)."""

    conversations: dict[uuid.UUID, StoredConversation] = field(default_factory=dict)
    transcripts: dict[uuid.UUID, list[StoredMessage]] = field(default_factory=dict)
    scores: dict[uuid.UUID, list[ScoreSnapshot]] = field(default_factory=dict)
    lead_rows: dict[uuid.UUID, _Lead] = field(default_factory=dict)
    owners: dict[Identity, uuid.UUID] = field(default_factory=dict)
    outbox: list[OutboxRow] = field(default_factory=list)
    matches: list[_Match] = field(default_factory=list)
    keys: dict[str, JSON] = field(default_factory=dict)
    continuations: dict[str, tuple[uuid.UUID, datetime, datetime | None]] = field(default_factory=dict)
    turns: list[TurnWrite] = field(default_factory=list)
    save_delay: float = 0.0
    saves: int = 0

    # -- ConversationStore

    async def find_lead(self, identities: Sequence[Identity]) -> uuid.UUID | None:
        return next((self.owners[i] for i in identities if i in self.owners), None)

    async def create(self, new: NewConversation) -> StoredConversation:
        if new.idempotency_key is not None and new.idempotency_key in self.keys:
            raise DuplicateInbound(new.idempotency_key)
        lead_id = await self.find_lead(new.identities)
        if lead_id is None:
            lead_id = new.lead_id
            record = lead_rules.LeadRecord(lead_id, new.state.stage, None, None, LeadContact(), new.at)
            self.lead_rows[lead_id] = _Lead(record, new.at)
        for ident in new.identities:
            self.owners.setdefault(ident, lead_id)
        stored = StoredConversation(
            new.id, lead_id, new.channel, new.state.flow_id, new.state.flow_version, new.state, new.at, new.at
        )
        self.conversations[new.id] = stored
        self.transcripts[new.id] = []
        self.scores[new.id] = []
        self._append(new.id, new.messages, new.at)
        if new.idempotency_key is not None:
            self.keys[new.idempotency_key] = new.result or {}
        return stored

    async def load(self, conversation_id: uuid.UUID) -> StoredConversation | None:
        return self.conversations.get(conversation_id)

    async def save_turn(self, turn: TurnWrite) -> StoredConversation:
        await asyncio.sleep(self.save_delay)
        stored = self.conversations.get(turn.conversation_id)
        if stored is None:
            raise ConversationNotFound(turn.conversation_id)
        if turn.idempotency_key is not None and turn.idempotency_key in self.keys:
            raise DuplicateInbound(turn.idempotency_key)
        if stored.version != turn.expected_version:
            raise ConcurrentUpdate(turn.conversation_id, turn.expected_version)
        self.saves += 1
        lead_id = stored.lead_id
        for ident in turn.identities:
            owner = self.owners.get(ident)
            how = lead_rules.link(ident, owner, lead_id)
            if how is lead_rules.Link.ATTACH:
                self.owners[ident] = lead_id
            elif (
                how is lead_rules.Link.CANDIDATE
                and owner is not None
                and not self._matched(lead_id, owner, ident)
            ):
                self.matches.append(_Match(lead_id, owner, ident, stored.id, turn.at))
        saved = replace(stored, state=turn.state, updated_at=turn.at)
        self.conversations[stored.id] = saved
        self.turns.append(copy.deepcopy(turn))
        self._append(stored.id, turn.messages, turn.at)
        if turn.score is not None:
            self.scores[stored.id].append(turn.score)
        lead = self.lead_rows[lead_id]
        before = lead.record
        decision = lead_rules.decide(before, turn.claim)
        if decision.lead != before:
            lead.record = decision.lead
            lead.updated_at = turn.at
        if decision.event is not None:
            self.outbox.append(OutboxRow(decision.event, lead_id, stored.id, decision.payload or {}))
        if turn.idempotency_key is not None:
            self.keys[turn.idempotency_key] = turn.result or {}
        return saved

    async def view(self, conversation_id: uuid.UUID) -> ConversationView | None:
        stored = self.conversations.get(conversation_id)
        if stored is None:
            return None
        scores = self.scores[conversation_id]
        return ConversationView(
            stored, tuple(self.transcripts[conversation_id]), scores[-1] if scores else None
        )

    async def replay(self, idempotency_key: str) -> JSON | None:
        return self.keys.get(idempotency_key)

    async def find_conversation(self, identity: Identity, *, open_only: bool) -> uuid.UUID | None:
        owner = self.owners.get(identity)
        found = [
            c
            for c in self.conversations.values()
            if c.lead_id == owner and (not open_only or c.state.stage is Stage.IN_PROGRESS)
        ]
        return max(found, key=lambda c: c.updated_at).id if found else None

    async def save_continuation(
        self,
        token_hash: str,
        conversation_id: uuid.UUID,
        expires_at: datetime,
        at: datetime,  # noqa: ARG002 (the port's signature: the fake keeps no issue time)
    ) -> None:
        if conversation_id not in self.conversations:
            raise ConversationNotFound(conversation_id)
        self.continuations[token_hash] = (conversation_id, expires_at, None)

    async def redeem_continuation(
        self, token_hash: str, identity: Identity, at: datetime
    ) -> StoredConversation | None:
        kept = self.continuations.get(token_hash)
        if kept is None or kept[2] is not None or kept[1] <= at:
            return None
        conversation_id = kept[0]
        self.continuations[token_hash] = (conversation_id, kept[1], at)
        lead_id = self.conversations[conversation_id].lead_id
        owner = self.owners.get(identity)
        how = lead_rules.link(identity, owner, lead_id)
        if how is lead_rules.Link.ATTACH:
            self.owners[identity] = lead_id
        elif how is lead_rules.Link.MERGE and owner is not None:
            survivor, merged = lead_rules.merge(self.lead_rows[lead_id].record, self.lead_rows[owner].record)
            self.lead_rows[survivor.id].record = survivor
            self.lead_rows[merged.id].merged_into = survivor.id
            for ident, who in list(self.owners.items()):
                if who == merged.id:
                    self.owners[ident] = survivor.id
            for cid, c in list(self.conversations.items()):
                if c.lead_id == merged.id:
                    self.conversations[cid] = replace(c, lead_id=survivor.id)
            for m in self.matches:
                m.lead_id = survivor.id if m.lead_id == merged.id else m.lead_id
                m.other_lead_id = survivor.id if m.other_lead_id == merged.id else m.other_lead_id
        return self.conversations[conversation_id]

    # -- LeadReader

    async def leads(self, filter: LeadFilter, *, limit: int, cursor: str | None) -> LeadPage:
        chosen = []
        for lead_id, lead in self.lead_rows.items():
            record = lead.record
            own = [c for c in self.conversations.values() if c.lead_id == lead_id]
            if lead.merged_into is not None:
                continue
            if filter.stage is not None and record.stage is not filter.stage:
                continue
            if filter.tier is not None and record.tier != filter.tier:
                continue
            if filter.flow_id is not None and not any(c.flow_id == filter.flow_id for c in own):
                continue
            if filter.channel is not None and not any(c.channel == filter.channel for c in own):
                continue
            if filter.since is not None and record.created_at < filter.since:
                continue
            if filter.until is not None and record.created_at >= filter.until:
                continue
            chosen.append(self._summary(lead_id))
        chosen.sort(key=lambda s: (s.created_at, s.id.hex), reverse=True)
        if cursor is not None:
            try:
                at_text, _, id_hex = cursor.partition("|")
                after = (datetime.fromisoformat(at_text), id_hex)
            except ValueError as exc:
                raise ValueError("not a cursor from a previous page") from exc
            chosen = [s for s in chosen if (s.created_at, s.id.hex) < after]
        page = tuple(chosen[:limit])
        more = len(chosen) > limit
        last = page[-1] if page else None
        return LeadPage(page, f"{last.created_at.isoformat()}|{last.id.hex}" if more and last else None)

    async def lead(self, lead_id: uuid.UUID) -> LeadDetail | None:
        for _ in range(8):
            found = self.lead_rows.get(lead_id)
            if found is None:
                return None
            if found.merged_into is None:
                break
            lead_id = found.merged_into
        conversations = sorted(
            (c for c in self.conversations.values() if c.lead_id == lead_id), key=lambda c: c.created_at
        )
        views = []
        for c in conversations:
            view = await self.view(c.id)
            assert view is not None
            views.append(view)
        candidates = tuple(
            CandidateMatch(
                m.other_lead_id if m.lead_id == lead_id else m.lead_id,
                m.identity,
                m.conversation_id,
                m.created_at,
            )
            for m in self.matches
            if lead_id in (m.lead_id, m.other_lead_id)
        )
        identities = tuple(i for i, owner in self.owners.items() if owner == lead_id)
        return LeadDetail(self._summary(lead_id), identities, tuple(views), candidates)

    def _summary(self, lead_id: uuid.UUID) -> LeadSummary:
        lead = self.lead_rows[lead_id]
        record = lead.record
        own = [c for c in self.conversations.values() if c.lead_id == lead_id]
        latest = max(own, key=lambda c: c.updated_at) if own else None
        return LeadSummary(
            id=lead_id,
            stage=record.stage,
            score=record.score,
            tier=record.tier,
            contact=record.contact,
            flow_id=latest.flow_id if latest else None,
            channel=latest.channel if latest else None,
            conversations=len(own),
            candidates=sum(1 for m in self.matches if lead_id in (m.lead_id, m.other_lead_id)),
            created_at=record.created_at,
            updated_at=lead.updated_at,
        )

    def _matched(self, lead_id: uuid.UUID, owner: uuid.UUID, ident: Identity) -> bool:
        return any(
            m.lead_id == lead_id and m.other_lead_id == owner and m.identity == ident for m in self.matches
        )

    def _append(self, cid: uuid.UUID, records: Sequence[MessageRecord], at: datetime) -> None:
        lines = self.transcripts[cid]
        for m in records:
            lines.append(StoredMessage(len(lines) + 1, m.direction, m.kind, m.text, m.payload, at))
