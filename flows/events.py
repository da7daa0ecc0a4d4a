"""Domain events: facts in the past tense, produced by the pure engine.

``LeadStageChanged`` says the conversation reached a stage for its lead (it completed, or an
event after completion re-scored it higher). The service passes it on as the turn's claim, and
``flows.leads`` decides, inside the write transaction, what the lead's stage becomes and which
handoff event (``lead.mql``, ``lead.updated``, ...) goes to the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.model import Stage


@dataclass(frozen=True, slots=True)
class ConversationStarted:
    flow_id: str
    flow_version: int
    locale: str


@dataclass(frozen=True, slots=True)
class AnswerRecorded:
    question_id: str
    understood: bool
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class AnswerNotUnderstood:
    question_id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ConversationRestarted:
    pass


@dataclass(frozen=True, slots=True)
class LeadKnockedOut:
    question_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class LeadStageChanged:
    previous: Stage
    stage: Stage
    score: int
    tier: str | None


@dataclass(frozen=True, slots=True)
class ConversationCompleted:
    stage: Stage
    tier: str | None
    score: int
    knockout: str | None = None


DomainEvent = (
    ConversationStarted
    | AnswerRecorded
    | AnswerNotUnderstood
    | ConversationRestarted
    | LeadKnockedOut
    | LeadStageChanged
    | ConversationCompleted
)
