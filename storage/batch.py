"""Turning a batch of decided writes into rows, table by table; no SQL, no dialect.

The writer reads, inside its write transaction, what the batch's writes depend on (the
conversation rows with their versions, their leads, who owns the identities the writes name,
which idempotency keys are claimed already) and hands it here. ``plan_batch`` checks each write
against it (a stale version, a claimed key), applies the lead rules of ``flows.leads`` to the
lead rows the batch locked, and lists the rows to insert and update. The dialect modules
(``storage.sqlite``, ``storage.postgres``) send them, one statement per table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table

from flows import leads as lead_rules
from flows.errors import ConcurrentUpdate, ConversationNotFound, DuplicateInbound
from flows.model import JSON, ConversationState, Stage
from flows.ports import Identity, LeadContact, MessageRecord, NewConversation, StoredConversation, TurnWrite
from storage.tables import (
    Conversation,
    ConversationToken,
    EngagementEvent,
    InboundKey,
    Lead,
    LeadIdentity,
    LeadMatch,
    Message,
    OutboxEvent,
    ScoreSnapshotRow,
)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A web conversation token (its SHA-256) to keep for its conversation: written by the same
    writer as the turns, so it never waits on them for the database's write lock, nor they on it."""

    token_sha256: str
    conversation_id: uuid.UUID
    created_at: datetime
    expires_at: datetime


Op = NewConversation | TurnWrite | TokenGrant
Outcome = StoredConversation | TokenGrant | Exception

conversations = cast(Table, Conversation.__table__)
leads = cast(Table, Lead.__table__)
identities = cast(Table, LeadIdentity.__table__)
messages = cast(Table, Message.__table__)
snapshots = cast(Table, ScoreSnapshotRow.__table__)
engagement_events = cast(Table, EngagementEvent.__table__)
outbox = cast(Table, OutboxEvent.__table__)
lead_matches = cast(Table, LeadMatch.__table__)
inbound_keys = cast(Table, InboundKey.__table__)
conversation_tokens = cast(Table, ConversationToken.__table__)

# The order rows are inserted in: every foreign key points to a table earlier in the list.
INSERT_ORDER = (
    leads,
    identities,
    conversations,
    conversation_tokens,
    messages,
    snapshots,
    engagement_events,
    outbox,
    lead_matches,
    inbound_keys,
)
# Tables whose inserts may meet a row that is there already (kept, not an error).
INSERT_IGNORING_DUPLICATES = frozenset({lead_matches})

# The columns a conversation row is read back with (``stored_conversation``).
CONVERSATION_COLUMNS = (
    "id",
    "lead_id",
    "channel",
    "flow_id",
    "flow_version",
    "version",
    "state",
    "created_at",
    "updated_at",
)
# A locked conversation: what the batch needs of it.
LOCKED_COLUMNS = ("id", "lead_id", "channel", "flow_id", "flow_version", "version", "created_at")
LEAD_COLUMNS = (
    "id",
    "stage",
    "score",
    "tier",
    "name",
    "email",
    "phone",
    "company",
    "created_at",
    "outcome_at",
)
# Conversation updates are guarded by the version they were computed from.
CONVERSATION_UPDATE_KEY = ("id",)
CONVERSATION_UPDATE_GUARD = {"expected_version": "version"}


@dataclass(slots=True)
class Locked:
    """A conversation row the batch holds the lock of."""

    lead_id: uuid.UUID
    channel: str
    flow_id: str
    flow_version: int
    version: int
    created_at: datetime


def locked_row(row: Mapping[str, Any]) -> Locked:
    return Locked(
        row["lead_id"], row["channel"], row["flow_id"], row["flow_version"], row["version"], row["created_at"]
    )


def lead_record(row: Mapping[str, Any]) -> lead_rules.LeadRecord:
    return lead_rules.LeadRecord(
        id=row["id"],
        stage=Stage(row["stage"]),
        score=row["score"],
        tier=row["tier"],
        contact=LeadContact(row["name"], row["email"], row["phone"], row["company"]),
        created_at=row["created_at"],
        outcome_at=row["outcome_at"],
    )


def stored_conversation(row: Mapping[str, Any], state: JSON) -> StoredConversation:
    """A conversation row (``CONVERSATION_COLUMNS``, decoded) and its state JSON as the service sees it."""
    return StoredConversation(
        id=row["id"],
        lead_id=row["lead_id"],
        channel=row["channel"],
        flow_id=row["flow_id"],
        flow_version=row["flow_version"],
        state=ConversationState.from_json(state, version=row["version"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@dataclass(slots=True)
class Reads:
    """What the batch read under its lock."""

    conversations: dict[uuid.UUID, Locked] = field(default_factory=dict)
    leads: dict[uuid.UUID, lead_rules.LeadRecord] = field(default_factory=dict)
    owners: dict[Identity, uuid.UUID] = field(default_factory=dict)
    claimed: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Plan:
    """The rows one batch writes: inserts per table, conversation updates (guarded by version),
    lead updates (one per lead, the lead as the batch left it)."""

    inserts: dict[Table, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in INSERT_ORDER})
    conversation_updates: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    lead_updates: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)


def wanted(ops: Sequence[Op]) -> tuple[list[uuid.UUID], set[Identity], set[str]]:
    """What a batch must read first: the conversations its turns update (sorted: rows are locked
    in one order), the identities its writes name, the idempotency keys they claim."""
    ids = sorted({op.conversation_id for op in ops if isinstance(op, TurnWrite)})
    writes = [op for op in ops if not isinstance(op, TokenGrant)]
    names = {i for op in writes for i in op.identities}
    keys = {op.idempotency_key for op in writes if op.idempotency_key is not None}
    return ids, names, keys


def plan_batch(
    ops: Sequence[Op], reads: Reads, new_id: Callable[[], uuid.UUID]
) -> tuple[Plan, list[Outcome]]:
    """Every write's rows (or why it cannot be saved), in order: later writes see earlier ones."""
    plan = _Planner(reads, new_id)
    return plan.plan, [plan.add(op) for op in ops]


class _Planner:
    def __init__(self, reads: Reads, new_id: Callable[[], uuid.UUID]) -> None:
        self.plan = Plan()
        self._reads = reads
        self._new_id = new_id

    def add(self, op: Op) -> Outcome:
        if isinstance(op, TokenGrant):
            self.plan.inserts[conversation_tokens].append(
                {
                    "token_sha256": op.token_sha256,
                    "conversation_id": op.conversation_id,
                    "created_at": op.created_at,
                    "expires_at": op.expires_at,
                }
            )
            return op
        key = op.idempotency_key
        if key is not None and key in self._reads.claimed:
            return DuplicateInbound(key)
        outcome = self._create(op) if isinstance(op, NewConversation) else self._turn(op)
        if key is not None and isinstance(outcome, StoredConversation):
            self._reads.claimed.add(key)
            self.plan.inserts[inbound_keys].append(
                {"key": key, "conversation_id": outcome.id, "result": op.result or {}, "created_at": op.at}
            )
        return outcome

    def _create(self, op: NewConversation) -> Outcome:
        owners = self._reads.owners
        lead_id = next((owners[i] for i in op.identities if i in owners), None)
        if lead_id is None:
            lead_id = op.lead_id
            self.plan.inserts[leads].append(
                {"id": lead_id, "stage": op.state.stage.value, "created_at": op.at, "updated_at": op.at}
            )
        for ident in op.identities:
            if ident not in owners:
                self._attach(ident, lead_id, op.at)
        state = op.state
        self.plan.inserts[conversations].append(
            {
                "id": op.id,
                "lead_id": lead_id,
                "channel": op.channel,
                "flow_id": state.flow_id,
                "flow_version": state.flow_version,
                "stage": state.stage.value,
                "version": state.version,
                "state": state.to_json(),
                "created_at": op.at,
                "updated_at": op.at,
            }
        )
        self._reads.conversations[op.id] = Locked(
            lead_id, op.channel, state.flow_id, state.flow_version, state.version, op.at
        )
        self._messages(op.id, op.messages, op.at)
        return StoredConversation(
            op.id, lead_id, op.channel, state.flow_id, state.flow_version, state, op.at, op.at
        )

    def _turn(self, op: TurnWrite) -> Outcome:
        row = self._reads.conversations.get(op.conversation_id)
        if row is None:
            return ConversationNotFound(op.conversation_id)
        if row.version != op.expected_version:
            return ConcurrentUpdate(op.conversation_id, op.expected_version)
        lead_id = row.lead_id
        for ident in op.identities:
            self._link(ident, lead_id, op.conversation_id, op.at)
        state = op.state
        row.version = state.version
        earlier = self.plan.conversation_updates.get(op.conversation_id)
        # One row per conversation: a later turn in the same batch wins, checked against the
        # version the batch found.
        self.plan.conversation_updates[op.conversation_id] = {
            "id": op.conversation_id,
            "expected_version": earlier["expected_version"] if earlier else op.expected_version,
            "state": state.to_json(),
            "version": state.version,
            "stage": state.stage.value,
            "updated_at": op.at,
        }
        self._messages(op.conversation_id, op.messages, op.at)
        base = {"conversation_id": op.conversation_id, "lead_id": lead_id, "created_at": op.at}
        if op.score is not None:
            s = op.score
            self.plan.inserts[snapshots].append(
                base
                | {
                    "total": s.total,
                    "fit": s.fit,
                    "engagement": s.engagement,
                    "stage": s.stage.value,
                    "tier": s.tier,
                    "breakdown": list(s.breakdown),
                }
            )
        self.plan.inserts[engagement_events].extend(
            base | {"name": e.name, "data": e.data} for e in op.engagement
        )
        self._decide(op, lead_id)
        return StoredConversation(
            op.conversation_id,
            lead_id,
            row.channel,
            row.flow_id,
            row.flow_version,
            state,
            row.created_at,
            op.at,
        )

    def _decide(self, op: TurnWrite, lead_id: uuid.UUID) -> None:
        """The lead rules on the lead as this batch has it so far; its row and any handoff event."""
        lead = self._reads.leads.get(lead_id)
        if lead is None:
            return
        decision = lead_rules.decide(lead, op.claim)
        after = decision.lead
        if after != lead:
            self._reads.leads[lead_id] = after
            self.plan.lead_updates[lead_id] = {
                "id": lead_id,
                "stage": after.stage.value,
                "score": after.score,
                "tier": after.tier,
                "name": after.contact.name,
                "email": after.contact.email,
                "phone": after.contact.phone,
                "company": after.contact.company,
                "updated_at": op.at,
            }
        if decision.event is None:
            return
        self.plan.inserts[outbox].append(
            {
                "id": self._new_id(),
                "type": decision.event,
                "lead_id": lead_id,
                "conversation_id": op.conversation_id,
                "payload": decision.payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": op.at,
                "created_at": op.at,
            }
        )

    def _link(self, ident: Identity, lead_id: uuid.UUID, conversation_id: uuid.UUID, at: datetime) -> None:
        owner = self._reads.owners.get(ident)
        how = lead_rules.link(ident, owner, lead_id)
        if how is lead_rules.Link.ATTACH:
            self._attach(ident, lead_id, at)
        elif how is not lead_rules.Link.KNOWN and owner is not None:
            # A typed contact another lead owns: a candidate match for sales, never a merge (a
            # channel identity never reaches a turn's identities).
            self.plan.inserts[lead_matches].append(
                {
                    "lead_id": lead_id,
                    "other_lead_id": owner,
                    "kind": ident.kind,
                    "value": ident.value,
                    "conversation_id": conversation_id,
                    "created_at": at,
                }
            )

    def _attach(self, ident: Identity, lead_id: uuid.UUID, at: datetime) -> None:
        self._reads.owners[ident] = lead_id
        self.plan.inserts[identities].append(
            {"kind": ident.kind, "value": ident.value, "lead_id": lead_id, "created_at": at}
        )

    def _messages(self, conversation_id: uuid.UUID, records: Sequence[MessageRecord], at: datetime) -> None:
        self.plan.inserts[messages].extend(
            {
                "conversation_id": conversation_id,
                "direction": m.direction,
                "kind": m.kind,
                "text": m.text,
                "payload": m.payload,
                "created_at": at,
            }
            for m in records
        )
