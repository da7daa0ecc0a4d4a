"""The conversation engine: ``step(state, inbound, flow, now) -> Turn``.

Synchronous, pure and deterministic: no clock, randomness or I/O inside (``now`` is passed in
for parsing relative dates). One step takes what the person did and returns the new state, the
replies to show and the domain events that happened.

- ``start`` opens a new conversation (greeting, first question), re-sends the current question
  of a started one, and the closing of a finished one; it never changes a started conversation.
- Every question takes a button tap or typed text. A miss is re-asked with the question's hint
  (or a default one) twice; the third miss records the answer as not understood and moves on.
- "back", "restart" and "skip" work typed in Russian or English or as ``cmd:*`` buttons
  (see ``flows.commands``); only optional questions can be skipped.
- ``ask_if`` decides which questions are asked (the flow's shared machine walks them, see
  :func:`next_question`); progress counts only the questions on the path.
- A knock-out ends the conversation at once: an option or band with ``knockout``; a question's
  own ``knockout`` when it gets no usable answer (not understood after the re-asks); or a
  flow-level knock-out whose ``when`` matches after an answer (see :func:`knockout_of`).
- On completion the conversation is scored (``flows.scoring``) and closed with the closing for
  its stage and tier (see :func:`closing_index`), or the knock-out's goodbye. Events
  (``page_view`` and others) update the facts; after completion they re-score, and a stage only
  ever moves up (nurture -> mql -> sql), each move announced with ``LeadStageChanged``. Events
  get no reply.

Input is untrusted: it is cut to ``MAX_INPUT`` characters before parsing and cleaned of markup
and control characters before it is stored; anything unexpected counts as not understood.

The flow comes compiled (``flows.compiled``): every text, predicate and table a turn reads was
worked out when the flow was loaded. :func:`next_question`, :func:`knockout_of` and
:func:`closing_index` are the rules the simulator (``flows.simulate``) follows too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from flows.commands import Command, command_of
from flows.compiled import CompiledFlow, CompiledQuestion
from flows.conditions import chosen_ids, numeric_value
from flows.events import (
    AnswerNotUnderstood,
    AnswerRecorded,
    ConversationCompleted,
    ConversationRestarted,
    ConversationStarted,
    DomainEvent,
    LeadKnockedOut,
    LeadStageChanged,
)
from flows.extract import (
    clean_text,
    looks_gibberish,
    match_choices,
    parse_email,
    parse_money,
    parse_number,
    parse_phone,
    parse_timeline,
    parse_yes_no,
)
from flows.facts import apply_event
from flows.machine import DONE, NEW, Cursor
from flows.model import Answer, ConversationState, Inbound, Reply, Score, Stage, Turn
from flows.scoring import score
from flows.spec import BANDED_KINDS, QuestionKind
from flows.texts import BAND_PREFIX, LocaleTexts

MAX_INPUT = 4000
MAX_RAW = 500
MAX_NAME = 200
MISSES = 3

_RANK = {Stage.NURTURE: 0, Stage.MQL: 1, Stage.SQL: 2}


def _evolve(current: ConversationState, /, **changes: Any) -> ConversationState:
    """``dataclasses.replace`` without its introspection (a few times faster)."""
    get = changes.get
    return ConversationState(
        flow_id=current.flow_id,
        flow_version=current.flow_version,
        locale=current.locale,
        state=get("state", current.state),
        stage=get("stage", current.stage),
        tier=get("tier", current.tier),
        score=get("score", current.score),
        answers=get("answers", current.answers),
        path=get("path", current.path),
        attempts=get("attempts", current.attempts),
        facts=get("facts", current.facts),
        knockout=get("knockout", current.knockout),
        version=get("version", current.version),
        asked_at=get("asked_at", current.asked_at),
    )


# --------------------------------------------------------------------------- the flow's rules


def next_question(
    flow: CompiledFlow, after: str, answers: Mapping[str, Answer], facts: Mapping[str, Any]
) -> str:
    """The state after ``after`` (``new`` or a question id): the first later question whose
    ``ask_if`` holds for these answers and facts, or ``done``."""
    return flow.machine.next_state(Cursor(after, answers, facts))


def knockout_of(
    flow: CompiledFlow,
    question: CompiledQuestion,
    answer: Answer,
    answers: Mapping[str, Answer],
    facts: Mapping[str, Any],
) -> str | None:
    """The knock-out reason of answering ``question`` with ``answer`` (``answers`` including
    it), if any: the chosen option's or the band's, the question's own when the answer ended up
    not understood (a skip never knocks out), else the first flow-level knock-out whose ``when``
    holds."""
    if answer.understood and not answer.skipped:
        if question.option_knockouts:
            chosen = chosen_ids(question.spec, answer)
            for option_id, reason in question.option_knockouts.items():
                if option_id in chosen:
                    return reason
        if question.band_knockouts:
            number = numeric_value(flow.spec, question.spec, answer)
            if number is not None:
                band = next((b for b in question.spec.bands if b.contains(number)), None)
                if band is not None and band.knockout is not None:
                    return band.knockout
    elif not answer.skipped and question.spec.knockout is not None:
        return question.spec.knockout
    for reason, holds in flow.knockouts:
        if holds(answers, facts):
            return reason
    return None


def closing_index(flow: CompiledFlow, stage: str, tier: str | None) -> int | None:
    """Which of ``spec.closings`` an outcome shows: the first for this stage and tier, else the
    first for this stage without a tier."""
    fallback: int | None = None
    for index, closing in enumerate(flow.spec.closings):
        if closing.stage == stage and closing.tier == tier:
            return index
        if closing.stage == stage and closing.tier is None and fallback is None:
            fallback = index
    return fallback


# --------------------------------------------------------------------------- replies


def progress(flow: CompiledFlow, state: ConversationState) -> tuple[int, int]:
    """(number of the current question, questions on the path) as the answers stand now."""
    asked = len(state.path)
    question = flow.question_by_id.get(state.state)
    if question is None:
        return asked, asked
    answers, facts = state.answers, state.facts
    later = question.always_after + sum(1 for holds in question.maybe_after if holds(answers, facts))
    return asked, asked + later


def _question_reply(
    flow: CompiledFlow, state: ConversationState, question: CompiledQuestion, lead: str = ""
) -> Reply:
    texts = flow.texts(state.locale).questions[question.id]
    return Reply(
        text=f"{lead}\n{texts.text}" if lead else texts.text,
        buttons=texts.buttons,
        multi=question.multi,
        input=question.input,
        progress=progress(flow, state),
        question_id=question.id,
        placeholder=texts.placeholder,
    )


def _closing_text(flow: CompiledFlow, state: ConversationState) -> str:
    texts = flow.texts(state.locale)
    if state.knockout is not None:
        goodbye = texts.knockouts.get(state.knockout)
        if goodbye is not None:
            return goodbye
    index = closing_index(flow, state.stage.value, state.tier)
    text = texts.closings[index] if index is not None else ""
    if text:
        return text
    fallback = closing_index(flow, Stage.NURTURE.value, None)
    return texts.closings[fallback] if fallback is not None else ""


def _closing_reply(flow: CompiledFlow, state: ConversationState) -> Reply:
    return Reply(text=_closing_text(flow, state), input="none")


# --------------------------------------------------------------------------- understanding answers


def _locales(flow: CompiledFlow, locale: str) -> Iterator[str]:
    """The conversation's locale first, then the flow's other locales as a fallback."""
    yield locale
    yield from (loc for loc in flow.spec.locales if loc != locale)


def _first(flow: CompiledFlow, locale: str, parse: Callable[[str], Any | None]) -> Any | None:
    for loc in _locales(flow, locale):
        found = parse(loc)
        if found is not None:
            return found
    return None


def _match_options(
    flow: CompiledFlow, question: CompiledQuestion, text: str, locale: str, multi: bool
) -> tuple[str, ...]:
    option_ids = question.spec.option_ids
    for loc in _locales(flow, locale):
        phrases = flow.texts(loc).questions[question.id].options
        found = match_choices(text, phrases, loc, multi=multi)
        known = tuple(i for i in found if i in option_ids)
        if known:
            return known
    return ()


def _band_value(flow: CompiledFlow, question: CompiledQuestion, index: int) -> dict[str, Any]:
    """A tapped band stored as its range; an open lower end starts at 0 (or just below the max)."""
    band = question.spec.bands[index]
    high = band.max
    low = band.min if band.min is not None else (0.0 if high is None or high > 0 else high - 1.0)
    value: dict[str, Any] = {"min": low, "max": high}
    if question.kind is QuestionKind.MONEY:
        value["currency"] = flow.spec.currency
    return value


def _band_by_label(flow: CompiledFlow, question: CompiledQuestion, text: str, locale: str) -> int | None:
    for loc in _locales(flow, locale):
        phrases = flow.texts(loc).questions[question.id].bands
        if not phrases:
            return None
        found = match_choices(text, phrases, loc, multi=False)
        if len(found) == 1:
            return int(found[0])
    return None


def _finite(number: Any) -> float | None:
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    return float(number) if math.isfinite(number) else None


Parsed = tuple[str, Any]


def _from_taps(
    flow: CompiledFlow, question: CompiledQuestion, taps: tuple[str, ...], texts: LocaleTexts
) -> Parsed | None:
    shown = texts.questions[question.id]
    labels = shown.labels
    kind = question.kind
    option_ids = question.spec.option_ids
    if kind is QuestionKind.MULTI_CHOICE:
        if not taps or any(t not in option_ids for t in taps):
            return None
        picked = [o.id for o in question.spec.options if o.id in taps]
        return ", ".join(labels[i] for i in picked), picked
    if len(set(taps)) != 1:
        return None
    tap = taps[0]
    if kind is QuestionKind.CHOICE:
        return (labels[tap], [tap]) if tap in option_ids else None
    if kind is QuestionKind.YES_NO:
        return (labels[tap], tap == "yes") if tap in ("yes", "no") else None
    if kind in BANDED_KINDS and tap.startswith(BAND_PREFIX):
        index = tap.removeprefix(BAND_PREFIX)
        if index.isdigit() and int(index) < len(shown.band_labels):
            label = shown.band_labels[int(index)]
            if label is not None:
                return label, _band_value(flow, question, int(index))
    return None


def _from_text(
    flow: CompiledFlow, question: CompiledQuestion, text: str, locale: str, now: datetime
) -> tuple[str, Any] | None:
    raw = clean_text(text, max_len=MAX_RAW).strip()
    if not raw:
        return None
    kind = question.kind
    if kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE):
        multi = kind is QuestionKind.MULTI_CHOICE
        found = _match_options(flow, question, text, locale, multi)
        if not found or (not multi and len(found) != 1):
            return None
        return raw, [o.id for o in question.spec.options if o.id in found]
    if kind is QuestionKind.YES_NO:
        said = _first(flow, locale, lambda loc: parse_yes_no(text, loc))
        if isinstance(said, bool):
            return raw, said
        if question.spec.options:
            picked = _match_options(flow, question, text, locale, multi=False)
            if len(picked) == 1 and picked[0] in ("yes", "no"):
                return raw, picked[0] == "yes"
        return None
    if kind in BANDED_KINDS:
        value = _banded_value(flow, question, text, locale, now)
        if value is None:
            index = _band_by_label(flow, question, text, locale)
            return (raw, _band_value(flow, question, index)) if index is not None else None
        return raw, value
    if kind is QuestionKind.EMAIL:
        email = parse_email(text)
        return (raw, email) if email else None
    if kind is QuestionKind.PHONE:
        phone = _first(flow, locale, lambda loc: parse_phone(text, loc))
        return (raw, phone) if isinstance(phone, str) and phone else None
    if kind is QuestionKind.NAME:
        name = raw[:MAX_NAME].strip()
        return (raw, name) if not looks_gibberish(name) else None
    if kind is QuestionKind.COMPANY:
        return raw, raw[:MAX_NAME].strip()
    return raw, clean_text(text).strip()


def _banded_value(
    flow: CompiledFlow, question: CompiledQuestion, text: str, locale: str, now: datetime
) -> Any | None:
    kind = question.kind
    if kind is QuestionKind.MONEY:
        money = _first(flow, locale, lambda loc: parse_money(text, loc))
        if money is None or _finite(money.midpoint()) is None:
            return None
        return {"min": money.min, "max": money.max, "currency": money.currency}
    if kind is QuestionKind.NUMBER:
        return _finite(_first(flow, locale, lambda loc: parse_number(text, loc)))
    days = _first(flow, locale, lambda loc: parse_timeline(text, loc, now))
    return days if isinstance(days, int) and not isinstance(days, bool) else None


def _understand(
    flow: CompiledFlow, question: CompiledQuestion, inbound: Inbound, locale: str, now: datetime
) -> Parsed | None:
    if inbound.kind == "choice":
        return _from_taps(flow, question, _taps(inbound), flow.texts(locale))
    text = inbound.text[:MAX_INPUT] if isinstance(inbound.text, str) else ""
    if inbound.kind == "contact":
        if question.kind is not QuestionKind.PHONE:
            return None
        phone = inbound.data.get("phone") if isinstance(inbound.data, Mapping) else None
        text = text or (phone[:100] if isinstance(phone, str) else "")
    return _from_text(flow, question, text, locale, now)


def _taps(inbound: Inbound) -> tuple[str, ...]:
    """The tapped ids, at most 50, each cut to 100 characters; anything but text is dropped."""
    choices = inbound.choices if isinstance(inbound.choices, tuple | list) else ()
    return tuple(c[:100] for c in choices[:50] if isinstance(c, str))


def _raw_of(inbound: Inbound) -> str:
    if inbound.kind == "choice":
        return clean_text(", ".join(_taps(inbound)[:20]), max_len=MAX_RAW)
    return clean_text(inbound.text[:MAX_INPUT] if isinstance(inbound.text, str) else "", max_len=MAX_RAW)


# --------------------------------------------------------------------------- moving on


def _finish(
    flow: CompiledFlow, state: ConversationState, events: list[DomainEvent], replies: list[Reply]
) -> Turn:
    """Score a conversation that reached ``done`` and close it."""
    result = score(flow, state)
    done = _evolve(state, stage=result.stage, tier=result.tier, score=result.total, attempts=0)
    events.append(LeadStageChanged(state.stage, result.stage, result.total, result.tier))
    events.append(ConversationCompleted(result.stage, result.tier, result.total, done.knockout))
    replies.append(_closing_reply(flow, done))
    return Turn(done, tuple(replies), tuple(events), result)


def _move_on(
    flow: CompiledFlow,
    state: ConversationState,
    answers: dict[str, Answer],
    events: list[DomainEvent],
    replies: list[Reply],
) -> Turn:
    """Go from ``state`` with these ``answers`` to the next askable question, or finish."""
    target = next_question(flow, state.state, answers, state.facts)
    if target == DONE:
        return _finish(flow, _evolve(state, state=DONE, answers=answers, attempts=0), events, replies)
    moved = _evolve(state, state=target, answers=answers, path=(*state.path, target), attempts=0)
    replies.append(_question_reply(flow, moved, flow.question_by_id[target]))
    return Turn(moved, tuple(replies), tuple(events))


def _record(
    flow: CompiledFlow,
    state: ConversationState,
    question: CompiledQuestion,
    answer: Answer,
    events: list[DomainEvent],
) -> Turn:
    answers = {**state.answers, question.id: answer}
    events.append(AnswerRecorded(question.id, answer.understood, answer.skipped))
    reason = knockout_of(flow, question, answer, answers, state.facts)
    if reason is None:
        return _move_on(flow, state, answers, events, [])
    landed = flow.machine.knock_out(Cursor(state.state, answers, state.facts))
    out = _evolve(state, state=landed, answers=answers, attempts=0, knockout=reason)
    events.append(LeadKnockedOut(question.id, reason))
    return _finish(flow, out, events, [])


def _begin(flow: CompiledFlow, state: ConversationState, restarted: bool) -> Turn:
    fresh = _evolve(
        state,
        state=NEW,
        stage=Stage.IN_PROGRESS,
        tier=None,
        score=None,
        answers={},
        path=(),
        attempts=0,
        knockout=None,
    )
    if restarted:
        events: list[DomainEvent] = [ConversationRestarted()]
        replies: list[Reply] = []
    else:
        events = [ConversationStarted(state.flow_id, state.flow_version, state.locale)]
        replies = [Reply(text=flow.texts(state.locale).greeting, input="none")]
    return _move_on(flow, fresh, fresh.answers, events, replies)


# --------------------------------------------------------------------------- events (facts)


def _on_event(flow: CompiledFlow, state: ConversationState, inbound: Inbound) -> Turn:
    updated = _evolve(state, facts=apply_event(state.facts, inbound.name, inbound.data))
    if not updated.completed or updated.knockout is not None or updated.stage not in _RANK:
        return Turn(updated, ())
    result = score(flow, updated)
    stage = result.stage if _RANK.get(result.stage, -1) > _RANK[updated.stage] else updated.stage
    rescored = _evolve(updated, stage=stage, score=result.total, tier=result.tier)
    events: tuple[DomainEvent, ...] = ()
    if stage != updated.stage:
        events = (LeadStageChanged(updated.stage, stage, result.total, result.tier),)
    return Turn(rescored, (), events, _restaged(result, stage))


def _restaged(result: Score, stage: Stage) -> Score:
    if result.stage == stage:
        return result
    return Score(
        total=result.total,
        fit=result.fit,
        engagement=result.engagement,
        stage=stage,
        tier=result.tier,
        breakdown=result.breakdown,
        confirmed=result.confirmed,
        knockout=result.knockout,
    )


# --------------------------------------------------------------------------- the step


def _command(
    flow: CompiledFlow, state: ConversationState, question: CompiledQuestion, command: Command
) -> Turn:
    texts = flow.texts(state.locale)
    if command == "skip":
        if question.spec.required:
            return Turn(state, (_question_reply(flow, state, question, texts.needed),))
        skipped = Answer(question.id, raw="", value=None, understood=True, skipped=True)
        return _record(flow, state, question, skipped, [])
    if len(state.path) < 2:
        return Turn(state, (_question_reply(flow, state, question, texts.first),))
    previous = state.path[-2]
    answers = {qid: a for qid, a in state.answers.items() if qid not in (previous, question.id)}
    landed = flow.machine.jump(Cursor(state.state, answers, state.facts), previous)
    back = _evolve(state, state=landed, path=state.path[:-1], answers=answers, attempts=0)
    return Turn(back, (_question_reply(flow, back, flow.question_by_id[previous]),))


def _is_stale(state: ConversationState, inbound: Inbound) -> bool:
    """Whether an answer was given to a question that is no longer waiting: another question
    than the current one, or the current one as it was before it was asked again."""
    if inbound.question_id is not None and inbound.question_id != state.state:
        return True
    return inbound.version is not None and inbound.version < state.asked_at


def _stale(flow: CompiledFlow, state: ConversationState) -> Turn:
    notice = Reply(text=flow.texts(state.locale).stale, input="none")
    question = flow.question_by_id.get(state.state)
    current = _question_reply(flow, state, question) if question is not None else _closing_reply(flow, state)
    return Turn(state, (notice, current), stale=True)


def _take(state: ConversationState, inbound: Inbound, flow: CompiledFlow, now: datetime) -> Turn:
    if inbound.kind == "event":
        return _on_event(flow, state, inbound)
    if state.state == NEW:
        return _begin(flow, state, restarted=False)
    if inbound.kind != "start" and _is_stale(state, inbound):
        return _stale(flow, state)
    command = command_of(inbound)
    if command == "restart":
        return _begin(flow, state, restarted=True)
    if state.completed:
        closing = (_closing_reply(flow, state),)
        if inbound.kind in ("text", "contact"):
            return Turn(_evolve(state), closing)  # a changed state: the words are kept in the transcript
        return Turn(state, closing)
    question = flow.question_by_id.get(state.state)
    if question is None:
        return _begin(flow, state, restarted=True)
    if inbound.kind == "start":
        return Turn(state, (_question_reply(flow, state, question),))
    if command is not None:
        return _command(flow, state, question, command)
    parsed = _understand(flow, question, inbound, state.locale, now)
    if parsed is not None:
        raw, value = parsed
        return _record(flow, state, question, Answer(question.id, raw, value), [])
    attempt = state.attempts + 1
    events: list[DomainEvent] = [AnswerNotUnderstood(question.id, attempt)]
    if attempt >= MISSES:
        unknown = Answer(question.id, raw=_raw_of(inbound), value=None, understood=False)
        return _record(flow, state, question, unknown, events)
    missed = _evolve(state, attempts=attempt)
    reply = _question_reply(flow, missed, question, flow.texts(state.locale).questions[question.id].hint)
    return Turn(missed, (reply,), tuple(events))


def step(state: ConversationState, inbound: Inbound, flow: CompiledFlow, now: datetime) -> Turn:
    """Take one step of the conversation (see the module docstring).

    A step that changes nothing (a stale answer, the current question shown again) returns the
    very same ``state`` object, and the caller has nothing to save. Any other step returns a state
    one ``version`` higher; when it puts a question (a new one, or an earlier one again after
    "back" or "restart"), ``asked_at`` becomes that version."""
    turn = _take(state, inbound, flow, now)
    after = turn.state
    if after is state:
        return turn
    version = state.version + 1
    asked = version if after.state != state.state or after.path != state.path else state.asked_at
    stamped = _evolve(after, version=version, asked_at=asked)
    return Turn(stamped, turn.replies, turn.events, turn.score)
