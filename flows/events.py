"""Domain events: facts in the past tense, produced by the pure engine and persisted by the service.

The service writes ``LeadStageChanged`` to the outbox in the same transaction as the state it
describes; the handoff worker turns it into a signed webhook (``lead.mql``, ``lead.sql``, ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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

    @property
    def handoff_type(self) -> str:
        """The webhook event type, e.g. ``lead.mql``."""
        return f"lead.{self.stage.value}"


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


def event_name(event: DomainEvent) -> str:
    return type(event).__name__


def event_payload(event: DomainEvent) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, Stage) else v) for k, v in asdict(event).items()}
