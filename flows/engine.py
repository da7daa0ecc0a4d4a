"""The conversation engine: ``step(state, inbound, flow, now) -> Turn``.

Synchronous, pure and deterministic: no clock, randomness or I/O inside (``now`` is passed in
for parsing relative dates). One step takes what the person did and returns the new state, the
replies to show and the domain events that happened.

- ``start`` opens a new conversation (greeting, first question), re-sends the current question
  of a started one, and the closing of a finished one; it never changes a started conversation.
- Every question takes a button tap or typed text. Typed text is read through the table of
  kinds (``flows.extract.read``), exactly as ``qualibot parse`` reads it. A miss is re-asked with
  the question's hint (or a default one, or what was wrong: a currency the flow has no rate for)
  twice; the third miss records the answer as not understood and moves on. A choice that fits two
  options about equally well gets a clarifying question with those two buttons (it counts as a
  miss); "первый"/"second" then means one of the two. A knock-out or a hand-raise needs a clear
  match: never a typo match or a hedged yes ("наверное да").
- A typed amount, number or timeline is repeated back in one line before the next question
  ("Записал: около 300 000 ₽"); a "нет" or "не так" right after it goes back to that question,
  unless the question now waiting takes "нет" as its answer (a yes/no, a choice with such an
  option, a contact). An open budget ("без ограничений") is stored from the start of the
  strongest band, with ``"unlimited": true``.
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

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from flows.commands import Command, command_of, correction_of
from flows.compiled import CompiledFlow, CompiledQuestion
from flows.conditions import chosen_ids, numeric_value
from flows.echo import money, noted, number, timeline
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
from flows.extract import ChoiceOption, clean_text, read, read_choice
from flows.facts import apply_event
from flows.machine import DONE, NEW, Cursor
from flows.model import Answer, Button, ConversationState, Inbound, Reply, Stage, Turn
from flows.scoring import restage, score
from flows.spec import BANDED_KINDS, QuestionKind
from flows.texts import BAND_PREFIX, LocaleTexts

MAX_INPUT = 4000
MAX_RAW = 500
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
        clarify=get("clarify", current.clarify),
        confirm=get("confirm", current.confirm),
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


def closing_index(
    flow: CompiledFlow, stage: str, tier: str | None, answers: Mapping[str, Answer], facts: Mapping[str, Any]
) -> int | None:
    """Which of ``spec.closings`` an outcome shows: the first for this stage and tier whose
    ``when`` holds on these answers and facts, else the first for this stage without a tier
    whose ``when`` holds (the loader makes sure one without a ``when`` is there)."""
    fallback: int | None = None
    for index, (closing, holds) in enumerate(zip(flow.spec.closings, flow.closings, strict=True)):
        if closing.stage != stage or (holds is not None and not holds(answers, facts)):
            continue
        if closing.tier == tier:
            return index
        if closing.tier is None and fallback is None:
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
    index = closing_index(flow, state.stage.value, state.tier, state.answers, state.facts)
    text = texts.closings[index] if index is not None else ""
    if text:
        return text
    fallback = closing_index(flow, Stage.NURTURE.value, None, state.answers, state.facts)
    return texts.closings[fallback] if fallback is not None else ""


def _closing_reply(flow: CompiledFlow, state: ConversationState) -> Reply:
    return Reply(text=_closing_text(flow, state), input="none")


# --------------------------------------------------------------------------- understanding answers


class Heard(NamedTuple):
    """What the engine made of one answer: its value, or why not.

    ``echo`` is the line that repeats a typed amount, number or timeline back ("Записал: около
    300 000 ₽"); ``clarify`` the two options to ask between; ``hint`` what to say when the
    answer was read but cannot be used (a currency the flow has no rate for)."""

    raw: str = ""
    value: Any = None
    understood: bool = False
    echo: str = ""
    clarify: tuple[str, ...] = ()
    hint: str = ""


_NOT_HEARD = Heard()


def _band_value(flow: CompiledFlow, question: CompiledQuestion, index: int) -> dict[str, Any]:
    """A tapped band stored as its range; an open lower end starts at 0 (or just below the max)."""
    band = question.spec.bands[index]
    high = band.max
    low = band.min if band.min is not None else (0.0 if high is None or high > 0 else high - 1.0)
    value: dict[str, Any] = {"min": low, "max": high}
    if question.kind is QuestionKind.MONEY:
        value["currency"] = flow.spec.currency
    return value


def _top_of(question: CompiledQuestion) -> float | None:
    """Where the strongest band starts: the one open to the top, else the highest one."""
    bands = question.spec.bands
    if not bands:
        return None
    top = max(bands, key=lambda b: (b.max is None, b.max or 0.0, b.min or 0.0))
    return top.min if top.min is not None else 0.0


def _strict(question: CompiledQuestion, option_id: str) -> bool:
    return any(o.id == option_id and (o.knockout is not None or o.hand_raise) for o in question.spec.options)


def _from_taps(
    flow: CompiledFlow, question: CompiledQuestion, taps: tuple[str, ...], texts: LocaleTexts
) -> Heard:
    shown = texts.questions[question.id]
    labels = shown.labels
    kind = question.kind
    option_ids = question.spec.option_ids
    if kind is QuestionKind.MULTI_CHOICE:
        if not taps or any(t not in option_ids for t in taps):
            return _NOT_HEARD
        picked = [o.id for o in question.spec.options if o.id in taps]
        return Heard(", ".join(labels[i] for i in picked), picked, True)
    if len(set(taps)) != 1:
        return _NOT_HEARD
    tap = taps[0]
    if kind is QuestionKind.CHOICE:
        return Heard(labels[tap], [tap], True) if tap in option_ids else _NOT_HEARD
    if kind is QuestionKind.YES_NO:
        return Heard(labels[tap], tap == "yes", True) if tap in ("yes", "no") else _NOT_HEARD
    if kind in BANDED_KINDS and tap.startswith(BAND_PREFIX):
        index = tap.removeprefix(BAND_PREFIX)
        if index.isdigit() and int(index) < len(shown.band_labels):
            label = shown.band_labels[int(index)]
            if label is not None:
                return Heard(label, _band_value(flow, question, int(index)), True)
    return _NOT_HEARD


def _from_text(
    flow: CompiledFlow,
    question: CompiledQuestion,
    text: str,
    texts: LocaleTexts,
    now: datetime,
    pending: tuple[str, ...],
) -> Heard:
    """A typed answer read through the table of kinds (``flows.extract.read``), the way
    ``qualibot parse`` reads it, then checked against what this question can take."""
    cleaned = clean_text(text)
    if not cleaned:
        return _NOT_HEARD
    raw = cleaned if len(cleaned) <= MAX_RAW else cleaned[:MAX_RAW].rstrip()
    kind = question.kind
    if kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE):
        return _chosen(question, raw, cleaned, texts, now, pending)
    if kind is QuestionKind.YES_NO:
        reading = read(kind.value, cleaned, texts.locale, now, texts.questions[question.id].choices)
        if not reading.understood:
            return _NOT_HEARD
        if not reading.certain and _strict(question, "yes" if reading.value else "no"):
            return _NOT_HEARD  # "наверное да" does not raise a hand or knock anyone out
        return Heard(raw, reading.value, True)
    if kind in BANDED_KINDS:
        return _banded(flow, question, raw, cleaned, texts, now)
    reading = read(kind.value, cleaned, texts.locale, now)
    return Heard(raw, reading.value, True) if reading.understood else _NOT_HEARD


def _chosen(
    question: CompiledQuestion,
    raw: str,
    cleaned: str,
    texts: LocaleTexts,
    now: datetime,
    pending: tuple[str, ...],
) -> Heard:
    if pending:  # after "«A» или «B»?", "первый" means A
        picked = read_choice(cleaned, tuple(ChoiceOption(i, ()) for i in pending), multi=False).ids
        if picked:
            return Heard(raw, list(picked), True)
    reading = read(question.kind.value, cleaned, texts.locale, now, texts.questions[question.id].choices)
    if reading.clarify:
        if any(i in question.hidden for i in reading.clarify):
            return _NOT_HEARD  # a hidden option is never offered as a button, not even to clarify
        return Heard(raw, clarify=reading.clarify)
    ids = [o.id for o in question.spec.options if reading.value and o.id in reading.value]
    if not ids or (not reading.certain and any(_strict(question, i) for i in ids)):
        return _NOT_HEARD
    return Heard(raw, ids, True)


def _banded(
    flow: CompiledFlow, question: CompiledQuestion, raw: str, cleaned: str, texts: LocaleTexts, now: datetime
) -> Heard:
    kind, locale = question.kind, texts.locale
    reading = read(kind.value, cleaned, locale, now)
    if not reading.understood:
        labelled = read("choice", cleaned, locale, now, texts.questions[question.id].band_choices).value
        if not labelled:
            return _NOT_HEARD
        return Heard(raw, _band_value(flow, question, int(labelled[0])), True)
    if kind is QuestionKind.NUMBER:
        return Heard(
            raw, reading.value, True, noted(number(reading.value, locale, approximate=False), locale)
        )
    if kind is QuestionKind.TIMELINE:
        return Heard(raw, reading.value, True, noted(timeline(reading.value, now.date(), locale), locale))
    value = dict(reading.value)
    code = value.get("currency")
    spec = flow.spec
    if code is not None and code != spec.currency and code not in spec.exchange_rates:
        return Heard(raw, hint=texts.currency.replace("{code}", code))
    if value.get("unlimited"):
        value = {"min": _top_of(question), "max": None, "currency": spec.currency, "unlimited": True}
    echo = money(value, spec.currency, locale, approximate=reading.approximate)
    return Heard(raw, value, True, noted(echo, locale))


def _understand(
    flow: CompiledFlow, question: CompiledQuestion, inbound: Inbound, state: ConversationState, now: datetime
) -> Heard:
    texts = flow.texts(state.locale)
    if inbound.kind == "choice":
        return _from_taps(flow, question, _taps(inbound), texts)
    text = inbound.text[:MAX_INPUT] if isinstance(inbound.text, str) else ""
    if inbound.kind == "contact":
        if question.kind is not QuestionKind.PHONE:
            return _NOT_HEARD
        phone = inbound.data.get("phone") if isinstance(inbound.data, Mapping) else None
        text = text or (phone[:100] if isinstance(phone, str) else "")
    return _from_text(flow, question, text, texts, now, state.clarify)


def _corrects(
    flow: CompiledFlow, question: CompiledQuestion, inbound: Inbound, state: ConversationState, now: datetime
) -> bool:
    """Whether a typed answer right after an echo disputes the echo rather than answering the
    question now waiting: "не так", "wrong" always; a bare "нет"/"no" unless this question takes
    it as an answer (a yes/no question, a choice with a "нет" option, a contact: "no" to "your
    phone?" is a refusal, not a correction)."""
    said = correction_of(inbound)
    if said is None:
        return False
    if said == "correction" or question.kind in BANDED_KINDS:
        return True
    if question.kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE):
        return not _understand(flow, question, inbound, state, now).understood
    return False


def _taps(inbound: Inbound) -> tuple[str, ...]:
    """The tapped ids, at most 50, each cut to 100 characters; anything but text is dropped."""
    choices = inbound.choices if isinstance(inbound.choices, tuple | list) else ()
    return tuple(c[:100] for c in choices[:50] if isinstance(c, str))


def _raw_of(inbound: Inbound) -> str:
    if inbound.kind == "choice":
        return clean_text(", ".join(_taps(inbound)[:20]), max_len=MAX_RAW)
    return clean_text(inbound.text[:MAX_INPUT] if isinstance(inbound.text, str) else "", max_len=MAX_RAW)


def _clarify_reply(
    flow: CompiledFlow, state: ConversationState, question: CompiledQuestion, pair: tuple[str, ...]
) -> Reply:
    """ "«Собственник / CEO» или «Руководитель направления»?" with those two buttons."""
    texts = flow.texts(state.locale)
    labels = texts.questions[question.id].labels
    first, second = pair
    return Reply(
        text=texts.clarify.format(first=labels[first], second=labels[second]),
        buttons=(Button(first, labels[first]), Button(second, labels[second])),
        input=question.input,
        progress=progress(flow, state),
        question_id=question.id,
        placeholder=texts.questions[question.id].placeholder,
    )


# --------------------------------------------------------------------------- moving on


def _finish(
    flow: CompiledFlow, state: ConversationState, events: list[DomainEvent], replies: list[Reply]
) -> Turn:
    """Score a conversation that reached ``done`` and close it."""
    result = score(flow, state)
    done = _evolve(
        state, stage=result.stage, tier=result.tier, score=result.total, attempts=0, clarify=(), confirm=None
    )
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
    echoed: Heard = _NOT_HEARD,
) -> Turn:
    """Go from ``state`` with these ``answers`` to the next askable question, or finish. An
    ``echoed`` answer's echo line leads the next question, and the question it answered waits
    for a correction (``confirm``); a closing is not led by it, since nothing can be corrected
    any more."""
    target = next_question(flow, state.state, answers, state.facts)
    if target == DONE:
        return _finish(flow, _evolve(state, state=DONE, answers=answers, attempts=0), events, replies)
    confirm = state.state if echoed.echo else None
    moved = _evolve(
        state,
        state=target,
        answers=answers,
        path=(*state.path, target),
        attempts=0,
        clarify=(),
        confirm=confirm,
    )
    question = flow.question_by_id[target]
    lead = echoed.echo
    if question.is_contact and not _contact_asked(flow, state.path):
        consent = flow.texts(state.locale).consent
        if consent:
            lead = f"{lead}\n{consent}" if lead else consent
    replies.append(_question_reply(flow, moved, question, lead))
    return Turn(moved, tuple(replies), tuple(events))


def _contact_asked(flow: CompiledFlow, path: tuple[str, ...]) -> bool:
    """Whether a contact question is on the path already (the consent notice was shown)."""
    by_id = flow.question_by_id
    return any(by_id[qid].is_contact for qid in path if qid in by_id)


def _record(
    flow: CompiledFlow,
    state: ConversationState,
    question: CompiledQuestion,
    answer: Answer,
    events: list[DomainEvent],
    heard: Heard = _NOT_HEARD,
) -> Turn:
    answers = {**state.answers, question.id: answer}
    events.append(AnswerRecorded(question.id, answer.understood, answer.skipped))
    reason = knockout_of(flow, question, answer, answers, state.facts)
    if reason is None:
        return _move_on(flow, state, answers, events, [], heard)
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
        clarify=(),
        confirm=None,
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
    return Turn(rescored, (), events, restage(flow, updated, result, stage))


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
    return _back(flow, state, question)


def _back(flow: CompiledFlow, state: ConversationState, question: CompiledQuestion, lead: str = "") -> Turn:
    """The question before the current one, asked again without its answer."""
    previous = state.path[-2]
    answers = {qid: a for qid, a in state.answers.items() if qid not in (previous, question.id)}
    landed = flow.machine.jump(Cursor(state.state, answers, state.facts), previous)
    back = _evolve(
        state, state=landed, path=state.path[:-1], answers=answers, attempts=0, clarify=(), confirm=None
    )
    return Turn(back, (_question_reply(flow, back, flow.question_by_id[previous], lead),))


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
    confirming = state.confirm is not None and state.attempts == 0 and state.path[-2:-1] == (state.confirm,)
    if confirming and _corrects(flow, question, inbound, state, now):
        return _back(flow, state, question, flow.texts(state.locale).fixing)
    heard = _understand(flow, question, inbound, state, now)
    if heard.understood:
        return _record(flow, state, question, Answer(question.id, heard.raw, heard.value), [], heard)
    attempt = state.attempts + 1
    events: list[DomainEvent] = [AnswerNotUnderstood(question.id, attempt)]
    if attempt >= MISSES:
        unknown = Answer(question.id, raw=_raw_of(inbound), value=None, understood=False)
        return _record(flow, state, question, unknown, events)
    missed = _evolve(state, attempts=attempt, clarify=heard.clarify)
    if heard.clarify:
        return Turn(missed, (_clarify_reply(flow, missed, question, heard.clarify),), tuple(events))
    hint = heard.hint or flow.texts(state.locale).questions[question.id].hint
    return Turn(missed, (_question_reply(flow, missed, question, hint),), tuple(events))


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
