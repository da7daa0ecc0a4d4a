"""The schema: one mapped class per table, portable across SQLite and PostgreSQL.

Ids are UUIDs (native on PostgreSQL, 32 hex characters on SQLite), JSON is JSONB on PostgreSQL,
times are always timezone-aware UTC. Relationships raise on lazy loads: async code says what it
loads. The hot path uses these tables through Core (``Conversation.__table__``); the ORM classes
are for reading and tooling. Migrations in ``alembic/`` are the source of truth for the database;
this module must describe the same schema (a test compares them).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator
from typing_extensions import override

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
SerialId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset: we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @override
    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    @override
    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[dict[str, Any]]: JSONType,
    }


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))
    score: Mapped[int | None] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(String(4))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(200))
    merged_into: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("leads.id"))
    # The time of the last CRM outcome taken (sal, rejected, won, lost): an older report is stale.
    outcome_at: Mapped[datetime | None]
    outcome_reason: Mapped[str | None] = mapped_column(String(500))  # what the CRM said with it
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]

    identities: Mapped[list[LeadIdentity]] = relationship(back_populates="lead", lazy="raise")
    conversations: Mapped[list[Conversation]] = relationship(back_populates="lead", lazy="raise")


class LeadIdentity(Base):
    """How a returning person is recognised: channel ids, e-mail, phone. (kind, value) is unique:
    one identity belongs to one lead."""

    __tablename__ = "lead_identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(SerialId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(320))
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"), index=True)
    created_at: Mapped[datetime]

    lead: Mapped[Lead] = relationship(back_populates="identities", lazy="raise")


class LeadMatch(Base):
    """A candidate match: a conversation of ``lead_id`` typed a contact (e-mail, phone) that
    ``other_lead_id`` owns. Maybe the same person, maybe someone typing a customer's address:
    shown to sales, never merged automatically."""

    __tablename__ = "lead_matches"
    __table_args__ = (UniqueConstraint("lead_id", "other_lead_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(SerialId, primary_key=True, autoincrement=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"), index=True)
    other_lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(320))
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"))
    created_at: Mapped[datetime]


class InboundKey(Base):
    """An idempotency key claimed by the write it came with (a retried web request, a redelivered
    Telegram update), and that write's result, which a repeat gets back instead of a second turn."""

    __tablename__ = "inbound_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"), index=True)
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Continuation(Base):
    """A single-use token (kept as its SHA-256) for carrying on with a conversation on another
    channel."""

    __tablename__ = "continuations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class FlowVersion(Base):
    """The exact flow source a conversation started on."""

    __tablename__ = "flow_versions"

    flow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        ForeignKeyConstraint(["flow_id", "flow_version"], ["flow_versions.flow_id", "flow_versions.version"]),
        Index(None, "flow_id", "flow_version"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    flow_id: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # Plain JSON on PostgreSQL too: kept as written (JSONB would reorder the answers) and cheaper
    # to write; nothing queries inside it.
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    lead: Mapped[Lead] = relationship(back_populates="conversations", lazy="raise")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", lazy="raise", order_by="Message.id"
    )


class Message(Base):
    """The transcript, both directions, in order of ``id``."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(SerialId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    conversation: Mapped[Conversation] = relationship(back_populates="messages", lazy="raise")


class ScoreSnapshotRow(Base):
    __tablename__ = "score_snapshots"

    id: Mapped[int] = mapped_column(SerialId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"), index=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"), index=True)
    total: Mapped[int] = mapped_column(Integer)
    fit: Mapped[int] = mapped_column(Integer)
    engagement: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str | None] = mapped_column(String(4))
    breakdown: Mapped[list[dict[str, Any]]]
    created_at: Mapped[datetime]


class EngagementEvent(Base):
    __tablename__ = "engagement_events"

    id: Mapped[int] = mapped_column(SerialId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"), index=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class OutboxEvent(Base):
    """A handoff event written in the same transaction as the stage change it reports. The
    delivery worker claims ``pending`` rows whose ``next_attempt_at`` has come, under a lease
    (``lease_owner`` until ``lease_until``), and counts ``attempts``."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"), index=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"), index=True)
    # Plain JSON on PostgreSQL too: kept as written, so the answers stay in the order asked.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ApiKey(Base):
    """An admin API key. Only a SHA-256 of the secret part is kept; ``id`` is the key's public
    part (shown in listings, used to find the row), so the secret is compared in constant time
    against one row's hash."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebhookEndpoint(Base):
    """A CRM endpoint subscribed to handoff events. ``secret`` signs every delivery; after a
    rotation ``previous_secret`` signs too until ``previous_secret_until``. ``status`` is
    ``active``, ``disabled`` (by a 410, by days of failures, or by hand: its deliveries wait) or
    ``deleted`` (its waiting deliveries are cancelled; the rows stay for the leads' history)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSONType)
    stage_map: Mapped[dict[str, Any]]
    secret: Mapped[str] = mapped_column(String(128))
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_secret_until: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One outbox event for one endpoint: what the worker claims (under a lease), retries and
    records. ``event_at`` and ``event_id`` order the events of one lead for one endpoint."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "lead_id", "endpoint_id", "event_at"),
        Index(None, "endpoint_id", "event_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_events.id"))
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"))
    event_type: Mapped[str] = mapped_column(String(32))
    event_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookAttempt(Base):
    """Every POST the worker made: when, how long, what came back (a bounded excerpt)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(SerialId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    latency_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    response_excerpt: Mapped[str] = mapped_column(Text)


class ConversationToken(Base):
    """A web conversation's access token, kept as its SHA-256: the token itself is never stored.
    Each token opens exactly one conversation until ``expires_at``."""

    __tablename__ = "conversation_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class TelegramInboxUpdate(Base):
    """An update the Telegram webhook has answered 200 for and whose turn is not done yet: written
    before the answer, deleted once the update is handled, so one still here after a crash is
    handled again (the turn's idempotency key makes that safe). ``lease_until``: no other process
    takes it over before then."""

    __tablename__ = "telegram_inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    lease_until: Mapped[datetime] = mapped_column(index=True)
