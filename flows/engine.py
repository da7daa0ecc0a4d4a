"""The conversation engine: ``step(state, inbound, spec, now) -> Turn``.

Synchronous, pure and deterministic: no clock, randomness or I/O inside (``now`` is passed in
for parsing relative dates). One step takes what the person did and returns the new state, the
replies to show and the domain events that happened.

- ``start`` opens a new conversation (greeting, first question), re-sends the current question
  of a started one, and the closing of a finished one; it never changes a started conversation.
- Every question takes a button tap or typed text. A miss is re-asked with the question's hint
  (or a default one) twice; the third miss records the answer as not understood and moves on.
- "back", "restart" and "skip" work typed in Russian or English or as ``cmd:*`` buttons
  (see ``flows.commands``); only optional questions can be skipped.
- ``ask_if`` decides which questions are asked (the shared ``flows.machine`` walks them);
  progress counts only the questions on the path.
- A knock-out ends the conversation at once: an option or band with ``knockout``; a question's
  own ``knockout`` when it gets no usable answer (not understood after the re-asks); or a
  flow-level knock-out whose ``when`` matches after an answer.
- On completion the conversation is scored (``flows.scoring``) and closed with the closing for
  its stage and tier. Events (``page_view`` and others) update the facts; after completion they
  re-score, and a stage only ever moves up (nurture -> mql -> sql), each move announced with
  ``LeadStageChanged``. Events get no reply.

Input is untrusted: it is cut to ``MAX_INPUT`` characters before parsing and cleaned of markup
and control characters before it is stored; anything unexpected counts as not understood.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from flows.commands import BUTTON_PREFIX, LABELS, Command, command_of
from flows.conditions import answer_knockout
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
from flows.machine import DONE, NEW, Cursor, FlowMachine, machine_for
from flows.model import Answer, Button, ConversationState, Inbound, InputHint, Reply, Score, Stage, Turn
from flows.scoring import score
from flows.spec import BANDED_KINDS, FlowSpec, Question, QuestionKind, tr

MAX_INPUT = 4000
MAX_RAW = 500
MAX_NAME = 200
MISSES = 3
BAND_PREFIX = "band:"

_RANK = {Stage.NURTURE: 0, Stage.MQL: 1, Stage.SQL: 2}
# A finished conversation whose lead the CRM has moved on still closes as its outcome did.
_CLOSING_FOR_CRM_STAGE = {
    Stage.SAL: Stage.SQL,
    Stage.WON: Stage.SQL,
    Stage.REJECTED: Stage.NURTURE,
    Stage.LOST: Stage.NURTURE,
}

_INPUT: dict[QuestionKind, InputHint] = {
    QuestionKind.NUMBER: "number",
    QuestionKind.MONEY: "money",
    QuestionKind.TIMELINE: "date",
    QuestionKind.EMAIL: "email",
    QuestionKind.PHONE: "tel",
    QuestionKind.NAME: "name",
}

_HINTS: dict[QuestionKind, dict[str, str]] = {
    QuestionKind.CHOICE: {
        "en": "Pick an option with a button or type it in your own words.",
        "ru": "Выберите вариант кнопкой или напишите его своими словами.",
    },
    QuestionKind.MULTI_CHOICE: {
        "en": "Pick one or more options with the buttons or type them, separated by commas.",
        "ru": "Выберите один или несколько вариантов кнопками или напишите их через запятую.",
    },
    QuestionKind.YES_NO: {"en": "Please answer yes or no.", "ru": "Ответьте, пожалуйста, «да» или «нет»."},
    QuestionKind.NUMBER: {
        "en": 'Type a number, e.g. "50" or "about 200".',
        "ru": "Напишите число, например «50» или «около 200».",
    },
    QuestionKind.MONEY: {
        "en": 'Type an amount, e.g. "500k" or "$20,000".',
        "ru": "Напишите сумму, например «500 тысяч» или «2 млн руб».",
    },
    QuestionKind.TIMELINE: {
        "en": 'Type a timeframe, e.g. "in 2 months" or "next quarter".',
        "ru": "Напишите срок, например «через 2 месяца» или «в следующем квартале».",
    },
    QuestionKind.EMAIL: {
        "en": "Type an e-mail address, e.g. name@company.com.",
        "ru": "Напишите адрес почты, например name@company.ru.",
    },
    QuestionKind.PHONE: {
        "en": "Type a phone number with the country code, e.g. +1 415 555 0100.",
        "ru": "Напишите номер телефона, например +7 999 123-45-67.",
    },
    QuestionKind.NAME: {
        "en": 'Type your name, e.g. "Anna".',
        "ru": "Напишите, как к вам обращаться, например «Анна».",
    },
    QuestionKind.COMPANY: {"en": "Type the name of your company.", "ru": "Напишите название компании."},
    QuestionKind.TEXT: {"en": "Type your answer in your own words.", "ru": "Напишите ответ своими словами."},
}

_SAY: dict[str, dict[str, str]] = {
    "yes": {"en": "Yes", "ru": "Да"},
    "no": {"en": "No", "ru": "Нет"},
    "needed": {
        "en": "This question can't be skipped: the answer is needed to continue.",
        "ru": "Этот вопрос пропустить нельзя: без ответа не получится продолжить.",
    },
    "first": {"en": "This is the first question.", "ru": "Это первый вопрос."},
    "stale": {
        "en": "That question has already been answered, so nothing changed. Here is where we are:",
        "ru": "На этот вопрос уже есть ответ, ничего не изменилось. Продолжим отсюда:",
    },
}

# What an empty answer field shows, by the kind of question.
_PLACEHOLDERS: dict[QuestionKind, dict[str, str]] = {
    QuestionKind.CHOICE: {"en": "Or type your answer", "ru": "Или напишите свой вариант"},
    QuestionKind.MULTI_CHOICE: {
        "en": "Or type them, separated by commas",
        "ru": "Или перечислите через запятую",
    },
    QuestionKind.YES_NO: {"en": "Yes or no", "ru": "Да или нет"},
    QuestionKind.NUMBER: {"en": "e.g. 50", "ru": "Например, 50"},
    QuestionKind.MONEY: {"en": "e.g. $20,000", "ru": "Например, 500 тысяч"},
    QuestionKind.TIMELINE: {"en": "e.g. in 2 months", "ru": "Например, через 2 месяца"},
    QuestionKind.EMAIL: {"en": "name@company.com", "ru": "name@company.ru"},
    QuestionKind.PHONE: {"en": "+1 415 555 0100", "ru": "+7 999 123-45-67"},
    QuestionKind.NAME: {"en": "Your name", "ru": "Ваше имя"},
    QuestionKind.COMPANY: {"en": "Company name", "ru": "Название компании"},
    QuestionKind.TEXT: {"en": "Your answer", "ru": "Ваш ответ"},
}


def _evolve(current: ConversationState, /, **changes: Any) -> ConversationState:
    """``current.evolve`` without ``dataclasses.replace``'s introspection (a few times faster)."""
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


def _say(key: str, locale: str) -> str:
    return tr(_SAY[key], locale)


# --------------------------------------------------------------------------- replies


def _buttons(spec: FlowSpec, question: Question, locale: str) -> tuple[Button, ...]:
    kind = question.kind
    if kind is QuestionKind.YES_NO:
        labels = {o.id: tr(o.label, locale) for o in question.options}
        found = [Button(i, labels.get(i) or _say(i, locale)) for i in ("yes", "no")]
    elif kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE):
        found = [Button(o.id, tr(o.label, locale)) for o in question.options]
    elif kind in BANDED_KINDS:
        found = [
            Button(f"{BAND_PREFIX}{i}", tr(b.label, locale))
            for i, b in enumerate(question.bands)
            if b.label is not None
        ]
    else:
        found = []
    if not question.required and kind is not QuestionKind.MULTI_CHOICE:
        found.append(Button(f"{BUTTON_PREFIX}skip", tr(LABELS["skip"], locale)))
    return tuple(found)


def _asking(spec: FlowSpec, question: Question, locale: str) -> tuple[str, tuple[Button, ...]]:
    """A question's text and buttons in ``locale``."""
    return tr(question.text, locale), _buttons(spec, question, locale)


def _labels(question: Question, locale: str) -> dict[str, str]:
    """Option id -> label in ``locale``."""
    return {o.id: tr(o.label, locale) for o in question.options}


def progress(spec: FlowSpec, state: ConversationState) -> tuple[int, int]:
    """(number of the current question, questions on the path) as the answers stand now."""
    asked = len(state.path)
    machine = machine_for(spec)
    if state.state not in machine.always_after:
        return asked, asked
    answers, facts = state.answers, state.facts
    later = machine.always_after[state.state] + sum(
        1 for holds in machine.maybe_after[state.state] if holds(answers, facts)
    )
    return asked, asked + later


def _question_reply(spec: FlowSpec, state: ConversationState, question: Question, lead: str = "") -> Reply:
    locale = state.locale
    text, buttons = machine_for(spec).remember(
        ("ask", question.id, locale), partial(_asking, spec, question, locale)
    )
    return Reply(
        text=f"{lead}\n{text}" if lead else text,
        buttons=buttons,
        multi=question.kind is QuestionKind.MULTI_CHOICE,
        input=_INPUT.get(question.kind, "text"),
        progress=progress(spec, state),
        question_id=question.id,
        placeholder=tr(_PLACEHOLDERS[question.kind], locale),
    )


def _hint(question: Question, locale: str) -> str:
    return tr(question.hint, locale) if question.hint is not None else tr(_HINTS[question.kind], locale)


def _closing_text(spec: FlowSpec, state: ConversationState) -> str:
    if state.knockout is not None:
        knockout = spec.knockout_by_reason.get(state.knockout)
        if knockout is not None:
            return tr(knockout.text, state.locale)
    stage = _CLOSING_FOR_CRM_STAGE.get(state.stage, state.stage)
    text = spec.closing(stage.value, state.tier, state.locale)
    return text or spec.closing(Stage.NURTURE.value, None, state.locale)


def _closing_reply(spec: FlowSpec, state: ConversationState) -> Reply:
    return Reply(text=_closing_text(spec, state), input="none")


# --------------------------------------------------------------------------- understanding answers


def _locales(spec: FlowSpec, locale: str) -> Iterator[str]:
    """The conversation's locale first, then the flow's other locales as a fallback."""
    yield locale
    yield from (loc for loc in spec.locales if loc != locale)


def _first(spec: FlowSpec, locale: str, parse: Callable[[str], Any | None]) -> Any | None:
    for loc in _locales(spec, locale):
        found = parse(loc)
        if found is not None:
            return found
    return None


def _option_phrases(question: Question, locale: str) -> list[tuple[str, list[str]]]:
    """Each option's label and synonyms in one locale (the any-locale label counts too)."""
    out = []
    for option in question.options:
        label = option.label.get(locale) or option.label.get("*")
        out.append((option.id, [*([label] if label else []), *option.synonyms.get(locale, ())]))
    return out


def _match_options(
    spec: FlowSpec, question: Question, text: str, locale: str, multi: bool
) -> tuple[str, ...]:
    machine = machine_for(spec)
    for loc in _locales(spec, locale):
        phrases = machine.remember(("phrases", question.id, loc), partial(_option_phrases, question, loc))
        found = match_choices(text, phrases, loc, multi=multi)
        known = tuple(i for i in found if i in question.option_ids)
        if known:
            return known
    return ()


def _band_value(spec: FlowSpec, question: Question, index: int) -> dict[str, Any]:
    """A tapped band stored as its range; an open lower end starts at 0 (or just below the max)."""
    band = question.bands[index]
    high = band.max
    low = band.min if band.min is not None else (0.0 if high is None or high > 0 else high - 1.0)
    value: dict[str, Any] = {"min": low, "max": high}
    if question.kind is QuestionKind.MONEY:
        value["currency"] = spec.currency
    return value


def _band_phrases(question: Question, locale: str) -> list[tuple[str, list[str]]]:
    """Each labelled band's index and label in one locale."""
    return [(str(i), [tr(b.label, locale)]) for i, b in enumerate(question.bands) if b.label is not None]


def _band_by_label(spec: FlowSpec, question: Question, text: str, locale: str) -> int | None:
    machine = machine_for(spec)
    for loc in _locales(spec, locale):
        phrases = machine.remember(("bands", question.id, loc), partial(_band_phrases, question, loc))
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


def _from_taps(spec: FlowSpec, question: Question, taps: tuple[str, ...], locale: str) -> Parsed | None:
    labels = machine_for(spec).remember(("labels", question.id, locale), partial(_labels, question, locale))
    kind = question.kind
    if kind is QuestionKind.MULTI_CHOICE:
        if not taps or any(t not in question.option_ids for t in taps):
            return None
        picked = [o.id for o in question.options if o.id in taps]
        return ", ".join(labels[i] for i in picked), picked
    if len(set(taps)) != 1:
        return None
    tap = taps[0]
    if kind is QuestionKind.CHOICE:
        return (labels[tap], [tap]) if tap in question.option_ids else None
    if kind is QuestionKind.YES_NO:
        if tap not in ("yes", "no"):
            return None
        return labels.get(tap) or _say(tap, locale), tap == "yes"
    if kind in BANDED_KINDS and tap.startswith(BAND_PREFIX):
        index = tap.removeprefix(BAND_PREFIX)
        if index.isdigit() and int(index) < len(question.bands):
            band = question.bands[int(index)]
            if band.label is not None:
                return tr(band.label, locale), _band_value(spec, question, int(index))
    return None


def _from_text(
    spec: FlowSpec, question: Question, text: str, locale: str, now: datetime
) -> tuple[str, Any] | None:
    raw = clean_text(text, max_len=MAX_RAW).strip()
    if not raw:
        return None
    kind = question.kind
    if kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE):
        multi = kind is QuestionKind.MULTI_CHOICE
        found = _match_options(spec, question, text, locale, multi)
        if not found or (not multi and len(found) != 1):
            return None
        return raw, [o.id for o in question.options if o.id in found]
    if kind is QuestionKind.YES_NO:
        said = _first(spec, locale, lambda loc: parse_yes_no(text, loc))
        if isinstance(said, bool):
            return raw, said
        if question.options:
            picked = _match_options(spec, question, text, locale, multi=False)
            if len(picked) == 1 and picked[0] in ("yes", "no"):
                return raw, picked[0] == "yes"
        return None
    if kind in BANDED_KINDS:
        value = _banded_value(spec, question, text, locale, now)
        if value is None:
            index = _band_by_label(spec, question, text, locale)
            return (raw, _band_value(spec, question, index)) if index is not None else None
        return raw, value
    if kind is QuestionKind.EMAIL:
        email = parse_email(text)
        return (raw, email) if email else None
    if kind is QuestionKind.PHONE:
        phone = _first(spec, locale, lambda loc: parse_phone(text, loc))
        return (raw, phone) if isinstance(phone, str) and phone else None
    if kind is QuestionKind.NAME:
        name = raw[:MAX_NAME].strip()
        return (raw, name) if not looks_gibberish(name) else None
    if kind is QuestionKind.COMPANY:
        return raw, raw[:MAX_NAME].strip()
    return raw, clean_text(text).strip()


def _banded_value(spec: FlowSpec, question: Question, text: str, locale: str, now: datetime) -> Any | None:
    kind = question.kind
    if kind is QuestionKind.MONEY:
        money = _first(spec, locale, lambda loc: parse_money(text, loc))
        if money is None or _finite(money.midpoint()) is None:
            return None
        return {"min": money.min, "max": money.max, "currency": money.currency}
    if kind is QuestionKind.NUMBER:
        return _finite(_first(spec, locale, lambda loc: parse_number(text, loc)))
    days = _first(spec, locale, lambda loc: parse_timeline(text, loc, now))
    return days if isinstance(days, int) and not isinstance(days, bool) else None


def _understand(
    spec: FlowSpec, question: Question, inbound: Inbound, locale: str, now: datetime
) -> Parsed | None:
    if inbound.kind == "choice":
        return _from_taps(spec, question, _taps(inbound), locale)
    text = inbound.text[:MAX_INPUT] if isinstance(inbound.text, str) else ""
    if inbound.kind == "contact":
        if question.kind is not QuestionKind.PHONE:
            return None
        phone = inbound.data.get("phone") if isinstance(inbound.data, Mapping) else None
        text = text or (phone[:100] if isinstance(phone, str) else "")
    return _from_text(spec, question, text, locale, now)


def _taps(inbound: Inbound) -> tuple[str, ...]:
    """The tapped ids, at most 50, each cut to 100 characters; anything but text is dropped."""
    choices = inbound.choices if isinstance(inbound.choices, tuple | list) else ()
    return tuple(c[:100] for c in choices[:50] if isinstance(c, str))


def _raw_of(inbound: Inbound) -> str:
    if inbound.kind == "choice":
        return clean_text(", ".join(_taps(inbound)[:20]), max_len=MAX_RAW)
    return clean_text(inbound.text[:MAX_INPUT] if isinstance(inbound.text, str) else "", max_len=MAX_RAW)


# --------------------------------------------------------------------------- moving on


def _knockout_for(
    spec: FlowSpec, machine: FlowMachine, question: Question, answer: Answer, cursor: Cursor
) -> str | None:
    """The knock-out reason this answer triggers, if any (option/band, question, flow)."""
    own = answer_knockout(spec, question, answer)
    if own is not None:
        return own
    for knockout in spec.knockouts:
        if knockout.when is not None and machine.when(knockout.when)(cursor.answers, cursor.facts):
            return knockout.reason
    return None


def _finish(
    spec: FlowSpec, state: ConversationState, events: list[DomainEvent], replies: list[Reply]
) -> Turn:
    """Score a conversation that reached ``done`` and close it."""
    result = score(spec, state)
    done = _evolve(state, stage=result.stage, tier=result.tier, score=result.total, attempts=0)
    events.append(LeadStageChanged(state.stage, result.stage, result.total, result.tier))
    events.append(ConversationCompleted(result.stage, result.tier, result.total, done.knockout))
    replies.append(_closing_reply(spec, done))
    return Turn(done, tuple(replies), tuple(events), result)


def _move_on(
    spec: FlowSpec,
    machine: FlowMachine,
    state: ConversationState,
    cursor: Cursor,
    events: list[DomainEvent],
    replies: list[Reply],
) -> Turn:
    """Go from ``cursor`` (``state`` with the cursor's answers) to the next askable question,
    or finish."""
    answers = cursor.answers
    target = machine.next_state(cursor)
    if target == DONE:
        return _finish(spec, _evolve(state, state=DONE, answers=answers, attempts=0), events, replies)
    moved = _evolve(state, state=target, answers=answers, path=(*state.path, target), attempts=0)
    replies.append(_question_reply(spec, moved, spec.question_by_id[target]))
    return Turn(moved, tuple(replies), tuple(events))


def _record(
    spec: FlowSpec,
    machine: FlowMachine,
    state: ConversationState,
    question: Question,
    answer: Answer,
    events: list[DomainEvent],
) -> Turn:
    cursor = Cursor(state.state, {**state.answers, question.id: answer}, state.facts)
    events.append(AnswerRecorded(question.id, answer.understood, answer.skipped))
    reason = _knockout_for(spec, machine, question, answer, cursor)
    if reason is None:
        return _move_on(spec, machine, state, cursor, events, [])
    answers = cursor.answers
    landed = machine.knock_out(cursor)
    out = _evolve(state, state=landed, answers=answers, attempts=0, knockout=reason)
    events.append(LeadKnockedOut(question.id, reason))
    return _finish(spec, out, events, [])


def _begin(spec: FlowSpec, machine: FlowMachine, state: ConversationState, restarted: bool) -> Turn:
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
        replies = [Reply(text=tr(spec.greeting, state.locale), input="none")]
    return _move_on(spec, machine, fresh, Cursor(NEW, fresh.answers, fresh.facts), events, replies)


# --------------------------------------------------------------------------- events (facts)


def _on_event(spec: FlowSpec, state: ConversationState, inbound: Inbound) -> Turn:
    updated = _evolve(state, facts=apply_event(state.facts, inbound.name, inbound.data))
    if not updated.completed or updated.knockout is not None or updated.stage not in _RANK:
        return Turn(updated, ())
    result = score(spec, updated)
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
    spec: FlowSpec, machine: FlowMachine, state: ConversationState, question: Question, command: Command
) -> Turn:
    if command == "skip":
        if question.required:
            return Turn(state, (_question_reply(spec, state, question, _say("needed", state.locale)),))
        skipped = Answer(question.id, raw="", value=None, understood=True, skipped=True)
        return _record(spec, machine, state, question, skipped, [])
    if len(state.path) < 2:
        return Turn(state, (_question_reply(spec, state, question, _say("first", state.locale)),))
    previous = state.path[-2]
    answers = {qid: a for qid, a in state.answers.items() if qid not in (previous, question.id)}
    landed = machine.jump(Cursor(state.state, answers, state.facts), previous)
    back = _evolve(state, state=landed, path=state.path[:-1], answers=answers, attempts=0)
    return Turn(back, (_question_reply(spec, back, spec.question_by_id[previous]),))


def _is_stale(state: ConversationState, inbound: Inbound) -> bool:
    """Whether an answer was given to a question that is no longer waiting: another question
    than the current one, or the current one as it was before it was asked again."""
    if inbound.question_id is not None and inbound.question_id != state.state:
        return True
    return inbound.version is not None and inbound.version < state.asked_at


def _stale(spec: FlowSpec, state: ConversationState) -> Turn:
    notice = Reply(text=_say("stale", state.locale), input="none")
    question = spec.question_by_id.get(state.state)
    current = _question_reply(spec, state, question) if question is not None else _closing_reply(spec, state)
    return Turn(state, (notice, current), stale=True)


def _take(state: ConversationState, inbound: Inbound, spec: FlowSpec, now: datetime) -> Turn:
    if inbound.kind == "event":
        return _on_event(spec, state, inbound)
    machine = machine_for(spec)
    if state.state == NEW:
        return _begin(spec, machine, state, restarted=False)
    if inbound.kind != "start" and _is_stale(state, inbound):
        return _stale(spec, state)
    command = command_of(inbound)
    if command == "restart":
        return _begin(spec, machine, state, restarted=True)
    if state.completed:
        closing = (_closing_reply(spec, state),)
        if inbound.kind in ("text", "contact"):
            return Turn(_evolve(state), closing)  # a changed state: the words are kept in the transcript
        return Turn(state, closing)
    question = spec.question_by_id.get(state.state)
    if question is None:
        return _begin(spec, machine, state, restarted=True)
    if inbound.kind == "start":
        return Turn(state, (_question_reply(spec, state, question),))
    if command is not None:
        return _command(spec, machine, state, question, command)
    parsed = _understand(spec, question, inbound, state.locale, now)
    if parsed is not None:
        raw, value = parsed
        return _record(spec, machine, state, question, Answer(question.id, raw, value), [])
    attempt = state.attempts + 1
    events: list[DomainEvent] = [AnswerNotUnderstood(question.id, attempt)]
    if attempt >= MISSES:
        unknown = Answer(question.id, raw=_raw_of(inbound), value=None, understood=False)
        return _record(spec, machine, state, question, unknown, events)
    missed = _evolve(state, attempts=attempt)
    reply = _question_reply(spec, missed, question, _hint(question, state.locale))
    return Turn(missed, (reply,), tuple(events))


def step(state: ConversationState, inbound: Inbound, spec: FlowSpec, now: datetime) -> Turn:
    """Take one step of the conversation (see the module docstring).

    A step that changes nothing (a stale answer, the current question shown again) returns the
    very same ``state`` object, and the caller has nothing to save. Any other step returns a state
    one ``version`` higher; when it puts a question (a new one, or an earlier one again after
    "back" or "restart"), ``asked_at`` becomes that version."""
    turn = _take(state, inbound, spec, now)
    after = turn.state
    if after is state:
        return turn
    version = state.version + 1
    asked = version if after.state != state.state or after.path != state.path else state.asked_at
    stamped = _evolve(after, version=version, asked_at=asked)
    return Turn(stamped, turn.replies, turn.events, turn.score)
