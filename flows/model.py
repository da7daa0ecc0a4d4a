"""The values one chat turn works with: what came in, what the conversation holds, what goes out.

All of it is plain, immutable data that serialises to JSON (`to_json` / `from_json`), so storage
persists it as it is and every channel renders the same replies in its own idiom.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from sys import intern
from typing import Any, Literal
from uuid import UUID

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
    """Where a person talks to the bot."""

    WEB = "web"
    TELEGRAM = "telegram"
    CLI = "cli"


UTM_KEYS = ("source", "medium", "campaign", "term", "content")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a conversation came from, as the channel knows it: the page the widget was opened on
    and its referrer, the UTM tags of the visit, or the payload of a Telegram deep link. The
    service turns it into the facts engagement scoring reads (``flows.facts.source_facts``)."""

    channel: Channel
    page_url: str | None = None
    referrer: str | None = None
    utm: Mapping[str, str] = field(default_factory=dict)
    deep_link: str | None = None


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

    ``question_id`` and ``version`` say what an answer was given to: the question its button or
    input field was shown for, and the conversation version the channel saw with it. An answer
    to a question that is no longer waiting (a second tap, a retried request, an old button) is
    recognised as stale and changes nothing. Both are optional: a channel that cannot know them
    (the terminal, typed Telegram messages) answers whatever question is waiting.
    """

    kind: InboundKind
    text: str = ""
    choices: tuple[str, ...] = ()
    name: str = ""
    data: JSON = field(default_factory=dict)
    question_id: str | None = None
    version: int | None = None

    @classmethod
    def typed(cls, text: str, *, question_id: str | None = None, version: int | None = None) -> Inbound:
        return cls(kind="text", text=text, question_id=question_id, version=version)

    @classmethod
    def tap(cls, *choices: str, question_id: str | None = None, version: int | None = None) -> Inbound:
        return cls(kind="choice", choices=tuple(choices), question_id=question_id, version=version)

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
        if self.question_id is not None:
            out["question_id"] = self.question_id
        if self.version is not None:
            out["version"] = self.version
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
    before sending; ``input`` tells the channel what keyboard/field suits a typed answer and
    ``placeholder`` what to show in an empty field; ``progress`` is (question number, questions in
    this path), e.g. (3, 8) for "3 of 8"; ``question_id`` is set on the reply that asks a question."""

    text: str
    buttons: tuple[Button, ...] = ()
    multi: bool = False
    input: InputHint = "text"
    progress: tuple[int, int] | None = None
    question_id: str | None = None
    placeholder: str = ""

    def to_json(self) -> JSON:
        return {
            "text": self.text,
            "buttons": [b.to_json() for b in self.buttons],
            "multi": self.multi,
            "input": self.input,
            "progress": list(self.progress) if self.progress else None,
            "question_id": self.question_id,
            "placeholder": self.placeholder,
        }

    @classmethod
    def from_json(cls, data: JSON) -> Reply:
        progress = data.get("progress")
        return cls(
            text=str(data.get("text", "")),
            buttons=tuple(Button(str(b["id"]), str(b["label"])) for b in data.get("buttons") or ()),
            multi=bool(data.get("multi", False)),
            input=data.get("input", "text"),
            progress=(int(progress[0]), int(progress[1])) if progress else None,
            question_id=data.get("question_id"),
            placeholder=str(data.get("placeholder", "")),
        )


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

    ``version`` counts the changes of the conversation: every step that changes the state makes
    it one higher, and the store keeps it as the conversation's version (optimistic locking), so
    it is not part of the JSON. ``asked_at`` is the version at which the waiting question was
    put: an answer made against an earlier version of the conversation is stale.

    ``clarify`` holds the two options a clarifying question offered for the waiting question
    ("«Собственник» или «Руководитель»?"): "первый" then means the first of those two.
    ``confirm`` is the question whose typed answer the last reply repeated back ("Записал: около
    300 000 ₽"): a "нет" right after it goes back to that question.
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
    version: int = 0
    asked_at: int = 0
    clarify: tuple[str, ...] = ()
    confirm: str | None = None

    @property
    def completed(self) -> bool:
        return self.state == "done"

    def to_json(self) -> JSON:
        out: JSON = {
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
            "asked_at": self.asked_at,
        }
        if self.clarify:
            out["clarify"] = list(self.clarify)
        if self.confirm is not None:
            out["confirm"] = self.confirm
        return out

    @classmethod
    def from_json(cls, data: JSON, version: int = 0) -> ConversationState:
        """The state as ``to_json`` wrote it, at the conversation ``version`` the store kept."""
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
            version=version,
            asked_at=int(data.get("asked_at", 0)),
            clarify=tuple(_shared(str(i)) for i in data.get("clarify") or ()),
            confirm=_shared(data.get("confirm")),
        )


ScoreCategory = Literal["summary", "fit", "engagement", "junk", "cap"]


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
    """An explainable score: ``total == sum(line.points for line in breakdown)``, 0..100;
    ``hand_raise``: an answer asked for sales contact (a demo, a call, a meeting)."""

    total: int
    fit: int
    engagement: int
    stage: Stage
    tier: str | None
    breakdown: tuple[ScoreLine, ...]
    confirmed: tuple[str, ...] = ()
    knockout: str | None = None
    hand_raise: bool = False

    def to_json(self) -> JSON:
        return {
            "total": self.total,
            "fit": self.fit,
            "engagement": self.engagement,
            "stage": self.stage.value,
            "tier": self.tier,
            "confirmed": list(self.confirmed),
            "knockout": self.knockout,
            "hand_raise": self.hand_raise,
            "breakdown": [line.to_json() for line in self.breakdown],
        }


@dataclass(frozen=True, slots=True)
class Turn:
    """What one step produced: the new state, what to say, and what happened (domain events).
    ``stale``: the inbound answered a question that is no longer waiting; nothing changed."""

    state: ConversationState
    replies: tuple[Reply, ...]
    events: tuple[Any, ...] = ()
    score: Score | None = None
    stale: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a conversation is: questions answered, of the questions on its path as the answers
    stand now (the total changes when an answer opens or closes a branch)."""

    answered: int
    total: int


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What a channel needs after a turn: the replies to show, what is waiting, how far it is.

    ``version`` goes back with the next answer (``Inbound.version``); ``question_id`` is the
    question waiting for an answer (None once ``done``). ``stale``: the inbound answered a question
    that is no longer waiting (a double tap, an old button) and nothing changed; the replies say
    so and show the current question. ``replayed``: the idempotency key was seen before and this
    is the first result again. ``returning``: at the start, the channel identity belonged to a
    known lead. ``outcome`` is the conversation's stage once done: for metrics and logs, never to
    be shown to the person. ``finished``: this turn is the one that completed the conversation
    (never a repeat after the end, nor a replay), so a channel counts each conversation once."""

    conversation_id: UUID
    lead_id: UUID
    flow_id: str
    locale: str
    version: int
    replies: tuple[Reply, ...]
    question_id: str | None
    progress: Progress
    done: bool
    stale: bool = False
    replayed: bool = False
    returning: bool = False
    outcome: Stage | None = None
    finished: bool = False

    def to_json(self) -> JSON:
        """The result as kept with an idempotency key (the lead id is read back from the
        conversation: a merge may have moved it since)."""
        return {
            "conversation_id": str(self.conversation_id),
            "flow_id": self.flow_id,
            "locale": self.locale,
            "version": self.version,
            "replies": [r.to_json() for r in self.replies],
            "question_id": self.question_id,
            "progress": [self.progress.answered, self.progress.total],
            "done": self.done,
            "stale": self.stale,
            "returning": self.returning,
            "outcome": self.outcome.value if self.outcome is not None else None,
        }

    @classmethod
    def from_json(cls, data: JSON, lead_id: UUID) -> TurnResult:
        answered, total = data["progress"]
        outcome = data.get("outcome")
        return cls(
            conversation_id=UUID(data["conversation_id"]),
            lead_id=lead_id,
            flow_id=str(data["flow_id"]),
            locale=str(data["locale"]),
            version=int(data["version"]),
            replies=tuple(Reply.from_json(r) for r in data["replies"]),
            question_id=data.get("question_id"),
            progress=Progress(int(answered), int(total)),
            done=bool(data["done"]),
            stale=bool(data.get("stale", False)),
            returning=bool(data.get("returning", False)),
            outcome=Stage(outcome) if outcome is not None else None,
        )
