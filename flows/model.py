"""The values one chat turn works with: what came in, what the conversation holds, what goes out.

All of it is plain, immutable data that serialises to JSON (`to_json` / `from_json`), so storage
persists it as it is and every channel renders the same replies in its own idiom.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from sys import intern
from typing import Any, Literal

JSON = dict[str, Any]


def _shared(text: Any) -> Any:
    """``text`` through ``sys.intern`` when it is a string: the ids, keys and codes that
    thousands of loaded states repeat are then held once."""
    return intern(text) if type(text) is str else text


def _shared_value(value: Any) -> Any:
    """An answer value with the strings inside it shared: option ids in a list, the keys and
    currency of a range. Other values (typed text) are kept as they are."""
    if type(value) is list:
        return [_shared(item) for item in value]
    if type(value) is dict:
        return {_shared(key): _shared(item) for key, item in value.items()}
    return value


class Stage(StrEnum):
    """Where a lead stands in the funnel. The last four are reported back by the CRM."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    DISQUALIFIED = "disqualified"
    NURTURE = "nurture"
    MQL = "mql"
    SQL = "sql"
    SAL = "sal"
    REJECTED = "rejected"
    WON = "won"
    LOST = "lost"


COMPLETED_STAGES = frozenset({Stage.DISQUALIFIED, Stage.NURTURE, Stage.MQL, Stage.SQL})


class Channel(StrEnum):
    WEB = "web"
    TELEGRAM = "telegram"
    CLI = "cli"


InboundKind = Literal["start", "text", "choice", "contact", "event"]


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a person did, already translated by the channel.

    - ``text``: typed text (commands such as "назад"/"back" are recognised by the engine);
    - ``choice``: button taps: option ids, band ids (``band:N``) or commands (``cmd:back``,
      ``cmd:restart``, ``cmd:skip``); several ids for a multi-choice question;
    - ``contact``: a phone number shared through the channel (Telegram's contact button);
    - ``event``: an engagement fact (``name`` + ``data``), e.g. ``page_view`` with a path;
    - ``start``: (re)open the conversation and get the current question.
    """

    kind: InboundKind
    text: str = ""
    choices: tuple[str, ...] = ()
    name: str = ""
    data: JSON = field(default_factory=dict)

    @classmethod
    def typed(cls, text: str) -> Inbound:
        return cls(kind="text", text=text)

    @classmethod
    def tap(cls, *choices: str) -> Inbound:
        return cls(kind="choice", choices=tuple(choices))

    def to_json(self) -> JSON:
        out: JSON = {"kind": self.kind}
        if self.text:
            out["text"] = self.text
        if self.choices:
            out["choices"] = list(self.choices)
        if self.name:
            out["name"] = self.name
        if self.data:
            out["data"] = self.data
        return out


@dataclass(frozen=True, slots=True)
class Button:
    id: str
    label: str

    def to_json(self) -> JSON:
        return {"id": self.id, "label": self.label}


InputHint = Literal["text", "number", "money", "date", "email", "tel", "name", "none"]


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to show. ``buttons`` are quick replies; ``multi`` lets the person pick several
    before sending; ``input`` tells the channel what keyboard/field suits a typed answer;
    ``progress`` is (question number, questions in this path), e.g. (3, 8) for "3 of 8"."""

    text: str
    buttons: tuple[Button, ...] = ()
    multi: bool = False
    input: InputHint = "text"
    progress: tuple[int, int] | None = None
    question_id: str | None = None

    def to_json(self) -> JSON:
        return {
            "text": self.text,
            "buttons": [b.to_json() for b in self.buttons],
            "multi": self.multi,
            "input": self.input,
            "progress": list(self.progress) if self.progress else None,
            "question_id": self.question_id,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """What the person answered to one question: the words as given and what they meant.

    ``value`` is the parsed value in JSON form (see ``flows.extract.parse``): for choices the option
    ids, for money ``{"min", "max", "currency"}``, for numbers a float, for timelines the days,
    for yes/no a bool, for contacts the normalised string. ``understood`` is False when the
    answer was recorded as unknown after the re-asks; ``skipped`` when an optional question was
    skipped.
    """

    question_id: str
    raw: str
    value: Any = None
    understood: bool = True
    skipped: bool = False

    def to_json(self) -> JSON:
        return {
            "raw": self.raw,
            "value": self.value,
            "understood": self.understood,
            "skipped": self.skipped,
        }

    @classmethod
    def from_json(cls, question_id: str, data: JSON) -> Answer:
        return cls(
            question_id=_shared(question_id),
            raw=str(data.get("raw", "")),
            value=_shared_value(data.get("value")),
            understood=bool(data.get("understood", True)),
            skipped=bool(data.get("skipped", False)),
        )


@dataclass(frozen=True, slots=True)
class ConversationState:
    """Everything the engine needs to take the next step; persisted as JSON, never pickled.

    ``state`` is the flow machine's state name: ``new``, a question id, or ``done``.
    ``path`` is the stack of question ids asked so far (for "back"). ``attempts`` counts the
    re-asks of the current question. ``facts`` holds engagement facts (source, utm_*, pages_seen,
    returning, ...) from the channel and from events.
    """

    flow_id: str
    flow_version: int
    locale: str
    state: str = "new"
    stage: Stage = Stage.NEW
    tier: str | None = None
    score: int | None = None
    answers: dict[str, Answer] = field(default_factory=dict)
    path: tuple[str, ...] = ()
    attempts: int = 0
    facts: JSON = field(default_factory=dict)
    knockout: str | None = None

    @property
    def completed(self) -> bool:
        return self.state == "done"

    def evolve(self, **changes: Any) -> ConversationState:
        return replace(self, **changes)

    def to_json(self) -> JSON:
        return {
            "flow_id": self.flow_id,
            "flow_version": self.flow_version,
            "locale": self.locale,
            "state": self.state,
            "stage": self.stage.value,
            "tier": self.tier,
            "score": self.score,
            "answers": {qid: a.to_json() for qid, a in self.answers.items()},
            "path": list(self.path),
            "attempts": self.attempts,
            "facts": self.facts,
            "knockout": self.knockout,
        }

    @classmethod
    def from_json(cls, data: JSON) -> ConversationState:
        return cls(
            flow_id=intern(str(data["flow_id"])),
            flow_version=int(data["flow_version"]),
            locale=intern(str(data["locale"])),
            state=intern(str(data.get("state", "new"))),
            stage=Stage(data.get("stage", Stage.NEW)),
            tier=_shared(data.get("tier")),
            score=data.get("score"),
            answers={
                _shared(qid): Answer.from_json(qid, a) for qid, a in (data.get("answers") or {}).items()
            },
            path=tuple(_shared(qid) for qid in data.get("path") or ()),
            attempts=int(data.get("attempts", 0)),
            facts=_shared_value(dict(data.get("facts") or {})),
            knockout=_shared(data.get("knockout")),
        )


ScoreCategory = Literal["fit", "engagement", "junk", "cap"]


@dataclass(frozen=True, slots=True)
class ScoreLine:
    """One line of the breakdown: where the points came from, in words a salesperson reads.

    ``source`` is a question id, an engagement signal id or a junk signal name; ``answer`` is the
    answer as typed (or the fact's value); ``value`` the parsed value; ``points`` may be negative
    (junk signals, caps). ``max_points`` is what that source could give at most.
    """

    category: ScoreCategory
    source: str
    dimension: str | None
    answer: str
    value: Any
    points: int
    max_points: int
    reason: str

    def to_json(self) -> JSON:
        return {
            "category": self.category,
            "source": self.source,
            "dimension": self.dimension,
            "answer": self.answer,
            "value": self.value,
            "points": self.points,
            "max_points": self.max_points,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Score:
    """An explainable score: ``total == sum(line.points for line in breakdown)``, 0..100."""

    total: int
    fit: int
    engagement: int
    stage: Stage
    tier: str | None
    breakdown: tuple[ScoreLine, ...]
    confirmed: tuple[str, ...] = ()
    knockout: str | None = None

    def to_json(self) -> JSON:
        return {
            "total": self.total,
            "fit": self.fit,
            "engagement": self.engagement,
            "stage": self.stage.value,
            "tier": self.tier,
            "confirmed": list(self.confirmed),
            "knockout": self.knockout,
            "breakdown": [line.to_json() for line in self.breakdown],
        }


@dataclass(frozen=True, slots=True)
class Turn:
    """What one step produced: the new state, what to say, and what happened (domain events)."""

    state: ConversationState
    replies: tuple[Reply, ...]
    events: tuple[Any, ...] = ()
    score: Score | None = None
