"""Scoring: answers and engagement facts -> an explainable 0..100 score, a stage and a tier.

The rules (the product's promise to sales; every point traces to one breakdown line):

1. **Fit.** Each answered question gives the points of its chosen option(s), of the band its
   value falls in (money in the flow currency, timelines in days; min inclusive, max exclusive),
   or its own ``points`` when it has neither (contact and text questions; a yes/no question
   without options gives them for "yes"). A question recorded as not understood or skipped
   gives 0 and still gets a line. Each line names the question, the answer as typed, the parsed
   value, the points and the question's ``max_points``, with the option's or band's ``reason``
   or a generated one-line reason. A dimension's points are clamped to 0..weight; questions
   without a dimension add to fit directly, and fit is clamped to 0..``scoring.fit``. Every
   clamp that changes a sum adds a ``cap`` line, so the total always equals the sum of the
   breakdown.
2. **Engagement.** Each ``spec.engagement`` signal whose ``when`` matches gives its points. Its
   conditions see the facts plus three derived ones: ``answered_all`` (every askable question
   has an answer that was understood and not skipped), ``hand_raise`` (an answer chose
   a hand-raise option or band) and ``channel`` (as set by the service). Clamped to 0..``scoring.engagement``.
3. **Junk** (negative, ``scoring.junk``, each counted once, 0 turns it off): a name typed all in
   lowercase; an e-mail on a free domain; on a disposable domain (which replaces the free-domain
   penalty); gibberish in a name, company or text answer.
4. **Total** = fit + engagement + junk, clamped to 0..100.
5. **Stage.** A knock-out -> ``disqualified`` (no tier). Otherwise ``mql`` when the total
   reaches ``scoring.mql`` and, in N-of-M mode (``scoring.confirmed``), at least ``need`` of the
   listed dimensions are confirmed (points >= the dimension's ``confirm_threshold``); ``sql``
   when it is an MQL and the total reaches ``scoring.sql.score``, or a hand was raised (with
   ``scoring.sql.hand_raise``), or ``scoring.sql.confirmed`` dimensions are confirmed; else
   ``nurture``.
6. **Tier.** The first of ``scoring.tiers`` (in order) whose ``min`` the total reaches and whose
   ``when`` matches; none if none does.

Everything is computed in spec order from plain lookups, so the same input gives the same score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows.conditions import (
    Predicate,
    chosen_ids,
    fact_names,
    is_answered,
    money_amount,
    numeric_value,
)
from flows.extract import email_flags, is_lowercase_name, looks_gibberish
from flows.machine import machine_for
from flows.model import Answer, ConversationState, Score, ScoreLine, Stage
from flows.spec import (
    BANDED_KINDS,
    Band,
    Dimension,
    EngagementSignal,
    FlowSpec,
    Question,
    QuestionKind,
    Tier,
    tr,
)

_WORDS: dict[str, dict[str, str]] = {
    "of": {"en": "of", "ru": "из"},
    "not_understood": {"en": "answer not understood", "ru": "ответ не понят"},
    "skipped": {"en": "skipped", "ru": "пропущено"},
    "no_band": {"en": "outside every range", "ru": "вне всех диапазонов"},
    "range": {"en": "range", "ru": "диапазон"},
    "from": {"en": "from", "ru": "от"},
    "to": {"en": "to", "ru": "до"},
    "under": {"en": "under", "ru": "до"},
    "days": {"en": "days", "ru": "дн."},
    "yes": {"en": "yes", "ru": "да"},
    "no": {"en": "no", "ru": "нет"},
    "cap_high": {"en": "{title}: capped at {limit} points", "ru": "{title}: не больше {limit} баллов"},
    "cap_low": {"en": "{title}: no less than {limit} points", "ru": "{title}: не меньше {limit} баллов"},
    "fit": {"en": "Fit", "ru": "Соответствие"},
    "engagement": {"en": "Engagement", "ru": "Вовлечённость"},
    "total": {"en": "Total score", "ru": "Итоговый балл"},
    "lowercase_name": {"en": "Name typed all in lowercase", "ru": "Имя написано строчными буквами"},
    "free_email": {"en": "E-mail on a free domain", "ru": "E-mail на бесплатном домене"},
    "disposable_email": {"en": "E-mail on a disposable domain", "ru": "Одноразовый e-mail"},
    "gibberish": {"en": "Looks like gibberish", "ru": "Похоже на бессмыслицу"},
    QuestionKind.EMAIL: {"en": "E-mail", "ru": "E-mail"},
    QuestionKind.PHONE: {"en": "Phone", "ru": "Телефон"},
    QuestionKind.NAME: {"en": "Name", "ru": "Имя"},
    QuestionKind.COMPANY: {"en": "Company", "ru": "Компания"},
}

_TEXT_KINDS = (QuestionKind.NAME, QuestionKind.COMPANY, QuestionKind.TEXT)


def word(key: str, locale: str) -> str:
    return tr(_WORDS[key], locale)


def format_number(value: float, locale: str) -> str:
    """``2000000`` -> ``2 000 000`` (ru) or ``2,000,000`` (en); up to two decimals."""
    if not math.isfinite(value):
        return str(value)
    rounded = round(value, 2)
    text = f"{rounded:,.0f}" if rounded == int(rounded) else f"{rounded:,.2f}".rstrip("0")
    if locale == "ru":
        return text.replace(",", " ").replace(".", ",")
    return text


def _title(spec: FlowSpec, question: Question, locale: str) -> str:
    if question.dimension is not None and question.dimension in spec.dimension_by_id:
        return tr(spec.dimension_by_id[question.dimension].title, locale)
    if question.kind in _WORDS:
        return word(question.kind, locale)
    text = tr(question.text, locale)
    return text if len(text) <= 60 else text[:59] + "…"


def _band_words(band: Band, question: Question, spec: FlowSpec, locale: str) -> str:
    if band.label is not None:
        return tr(band.label, locale)
    unit = _unit(spec, question, locale)
    low = None if band.min is None else format_number(band.min, locale) + unit
    high = None if band.max is None else format_number(band.max, locale) + unit
    if low is not None and high is not None:
        return f"{word('range', locale)} {word('from', locale)} {low} {word('to', locale)} {high}"
    if low is not None:
        return f"{word('range', locale)} {word('from', locale)} {low}"
    if high is not None:
        return f"{word('range', locale)} {word('under', locale)} {high}"
    return word("range", locale)


@dataclass(frozen=True, slots=True)
class _Texts:
    """A spec's breakdown words in one locale, worked out once: the fixed words, the dimension
    titles, each question's title, option labels and the words of its bands (by index)."""

    words: dict[str, str]
    dimensions: dict[str, str]
    titles: dict[str, str]
    labels: dict[str, dict[str, str]]
    bands: dict[str, tuple[str, ...]]
    quotes: tuple[str, str]


def _texts(spec: FlowSpec, locale: str) -> _Texts:
    return machine_for(spec).remember(("scoring", locale), lambda: _build_texts(spec, locale))


def _build_texts(spec: FlowSpec, locale: str) -> _Texts:
    return _Texts(
        words={str(key): tr(text, locale) for key, text in _WORDS.items()},
        dimensions={d.id: tr(d.title, locale) for d in spec.dimensions},
        titles={q.id: _title(spec, q, locale) for q in spec.questions},
        labels={q.id: {o.id: tr(o.label, locale) for o in q.options} for q in spec.questions},
        bands={q.id: tuple(_band_words(b, q, spec, locale) for b in q.bands) for q in spec.questions},
        quotes=("«", "»") if locale == "ru" else ('"', '"'),
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    """What scoring walks for a spec, in spec order: each dimension with its questions, the
    questions without one, each question's ``ask_if`` predicate, and the engagement signals
    and tiers with theirs (and the facts each signal reads)."""

    dimensions: tuple[tuple[Dimension, tuple[Question, ...]], ...]
    undimensioned: tuple[Question, ...]
    ask_if: tuple[tuple[str, Predicate | None], ...]
    engagement: tuple[tuple[EngagementSignal, Predicate, tuple[str, ...]], ...]
    tiers: tuple[tuple[Tier, Predicate | None], ...]


def _plan(spec: FlowSpec) -> _Plan:
    return machine_for(spec).remember("scoring", lambda: _build_plan(spec))


def _build_plan(spec: FlowSpec) -> _Plan:
    when = machine_for(spec).when
    return _Plan(
        dimensions=tuple(
            (dim, tuple(q for q in spec.questions if q.dimension == dim.id)) for dim in spec.dimensions
        ),
        undimensioned=tuple(q for q in spec.questions if q.dimension is None),
        ask_if=tuple((q.id, None if q.ask_if is None else when(q.ask_if)) for q in spec.questions),
        engagement=tuple((s, when(s.when), fact_names(s.when)) for s in spec.engagement),
        tiers=tuple((t, None if t.when is None else when(t.when)) for t in spec.scoring.tiers),
    )


def describe_value(spec: FlowSpec, question: Question, answer: Answer, locale: str) -> str:
    """The parsed value in words, e.g. ``2 000 000 RUB``, ``90 дн.``, option labels."""
    return _describe(spec, question, answer, _texts(spec, locale), locale)


def _describe(spec: FlowSpec, question: Question, answer: Answer, texts: _Texts, locale: str) -> str:
    value = answer.value
    kind = question.kind
    if kind is QuestionKind.YES_NO and isinstance(value, bool):
        return texts.words["yes" if value else "no"]
    if kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE):
        labels = texts.labels[question.id]
        return ", ".join(labels.get(i, i) for i in chosen_ids(question, answer))
    if kind in BANDED_KINDS and isinstance(value, Mapping):
        return _describe_range(spec, question, value, locale)
    if kind in BANDED_KINDS:
        number = numeric_value(spec, question, answer)
        if number is None:
            return ""
        return format_number(number, locale) + _unit(spec, question, locale)
    return str(value) if value is not None else ""


def _unit(spec: FlowSpec, question: Question, locale: str) -> str:
    if question.kind is QuestionKind.MONEY:
        return f" {spec.currency}"
    return f" {word('days', locale)}" if question.kind is QuestionKind.TIMELINE else ""


def _describe_range(spec: FlowSpec, question: Question, value: Mapping[str, Any], locale: str) -> str:
    """A range value in words: ``2 000 000 RUB``, ``1 000 000–2 000 000 RUB``, ``$15,000 ≈ ...``."""
    amount = money_amount(spec, value)
    if amount is None:
        return ""
    low, high = value.get("min"), value.get("max")
    currency = value.get("currency")
    foreign = (
        isinstance(currency, str)
        and currency != spec.currency
        and currency in spec.exchange_rates
        and question.kind is QuestionKind.MONEY
    )
    unit = f" {currency}" if foreign else _unit(spec, question, locale)
    if isinstance(low, int | float) and isinstance(high, int | float) and low != high:
        shown = f"{format_number(low, locale)}–{format_number(high, locale)}{unit}"
    elif foreign:
        shown = f"{format_number(amount / spec.exchange_rates[str(currency)], locale)}{unit}"
    else:
        return f"{format_number(amount, locale)}{unit}"
    if foreign or question.kind is QuestionKind.MONEY:
        return f"{shown} ≈ {format_number(amount, locale)}{_unit(spec, question, locale)}"
    return shown


def _fit_line(
    spec: FlowSpec, question: Question, answer: Answer, texts: _Texts, locale: str
) -> tuple[ScoreLine, bool]:
    """The breakdown line of one answered question, and whether it raised a hand."""
    points, reason, hand = _fit(spec, question, answer, texts, locale)
    line = ScoreLine(
        category="fit",
        source=question.id,
        dimension=question.dimension,
        answer=answer.raw,
        value=answer.value,
        points=points,
        max_points=question.max_points,
        reason=reason,
    )
    return line, hand


def _fit(
    spec: FlowSpec, question: Question, answer: Answer, texts: _Texts, locale: str
) -> tuple[int, str, bool]:
    """The points, reason and hand raise of one answered question."""
    out_of = f"{texts.words['of']} {question.max_points}"
    if not is_answered(answer):
        what = texts.words["skipped" if answer.skipped else "not_understood"]
        return 0, f"{_quoted(question, answer, texts)} — {what}: {0:+d} {out_of}", False
    if question.options:
        chosen = chosen_ids(question, answer)
        picked = [o for o in question.options if o.id in chosen]
        points = sum(o.points for o in picked)
        hand = any(o.hand_raise for o in picked)
        if len(picked) == 1 and picked[0].reason is not None:
            return points, tr(picked[0].reason, locale), hand
        return points, f"{_arrow(spec, question, answer, texts, locale)}: {points:+d} {out_of}", hand
    if question.bands:
        index = _band_index(question, numeric_value(spec, question, answer))
        if index is None:
            reason = (
                f"{_arrow(spec, question, answer, texts, locale)}, {texts.words['no_band']}: {0:+d} {out_of}"
            )
            return 0, reason, False
        band = question.bands[index]
        if band.reason is not None:
            return band.points, tr(band.reason, locale), band.hand_raise
        band_words = texts.bands[question.id][index]
        reason = f"{_arrow(spec, question, answer, texts, locale)}, {band_words}: {band.points:+d} {out_of}"
        return band.points, reason, band.hand_raise
    own = question.points
    if question.kind is QuestionKind.YES_NO and answer.value is not True:
        own = 0
    if question.reason is not None:
        return own, tr(question.reason, locale), False
    return own, f"{_arrow(spec, question, answer, texts, locale)}: {own:+d} {out_of}", False


def _quoted(question: Question, answer: Answer, texts: _Texts) -> str:
    """``Title: «answer as typed»``."""
    opening, closing = texts.quotes
    return f"{texts.titles[question.id]}: {opening}{answer.raw}{closing}"


def _arrow(spec: FlowSpec, question: Question, answer: Answer, texts: _Texts, locale: str) -> str:
    """``Title: «answer as typed» → parsed value`` (without the arrow when there is no value)."""
    shown = _describe(spec, question, answer, texts, locale)
    quoted = _quoted(question, answer, texts)
    return f"{quoted} → {shown}" if shown else quoted


def _band_index(question: Question, number: float | None) -> int | None:
    """The index of the first band ``number`` falls in."""
    if number is None:
        return None
    return next((i for i, b in enumerate(question.bands) if b.contains(number)), None)


def _cap_line(
    source: str, dimension: str | None, title: str, raw: int, low: int, high: int, locale: str
) -> tuple[int, ScoreLine | None]:
    """Clamp ``raw`` to ``low..high``; the line that explains the difference, if any."""
    clamped = min(max(raw, low), high)
    if clamped == raw:
        return clamped, None
    key, limit = ("cap_high", high) if raw > high else ("cap_low", low)
    reason = word(key, locale).format(title=title, limit=limit)
    return clamped, ScoreLine(
        category="cap",
        source=source,
        dimension=dimension,
        answer="",
        value=raw,
        points=clamped - raw,
        max_points=0,
        reason=reason,
    )


def _asked(spec: FlowSpec, state: ConversationState) -> list[tuple[Question, Answer]]:
    return [(q, state.answers[q.id]) for q in spec.questions if q.id in state.answers]


def facts_view(spec: FlowSpec, state: ConversationState, hand: bool | None = None) -> dict[str, Any]:
    """The facts conditions see: the stored facts plus ``answered_all``, ``hand_raise``, ``channel``.
    ``hand`` is :func:`raised_hand` when the caller already knows it."""
    view = dict(state.facts)
    answers, facts = state.answers, state.facts
    view["answered_all"] = all(
        is_answered(answers.get(qid))
        for qid, holds in _plan(spec).ask_if
        if holds is None or holds(answers, facts)
    )
    view["hand_raise"] = raised_hand(spec, state) if hand is None else hand
    if "channel" not in view:
        view["channel"] = None
    return view


def raised_hand(spec: FlowSpec, state: ConversationState) -> bool:
    """Whether an answer chose an option or fell in a band marked ``hand_raise``."""
    for question, answer in _asked(spec, state):
        if not is_answered(answer):
            continue
        chosen = set(chosen_ids(question, answer))
        if any(o.hand_raise and o.id in chosen for o in question.options):
            return True
        number = numeric_value(spec, question, answer) if question.bands else None
        if number is not None and any(b.hand_raise and b.contains(number) for b in question.bands):
            return True
    return False


def _junk_lines(spec: FlowSpec, state: ConversationState, locale: str) -> list[ScoreLine]:
    junk = spec.scoring.junk
    found: dict[str, tuple[str, Any]] = {}
    for question, answer in _asked(spec, state):
        if not is_answered(answer):
            continue
        text = answer.value if isinstance(answer.value, str) else answer.raw
        if question.kind is QuestionKind.NAME and is_lowercase_name(text):
            found.setdefault("lowercase_name", (answer.raw, answer.value))
        if question.kind is QuestionKind.EMAIL and isinstance(answer.value, str):
            free, disposable = email_flags(answer.value)
            if disposable:
                found.setdefault("disposable_email", (answer.raw, answer.value))
            elif free:
                found.setdefault("free_email", (answer.raw, answer.value))
        if (
            question.kind in _TEXT_KINDS
            and "gibberish" not in found
            and junk.gibberish
            and looks_gibberish(text)
        ):
            found.setdefault("gibberish", (answer.raw, answer.value))
    lines = []
    for name in ("lowercase_name", "free_email", "disposable_email", "gibberish"):
        points = int(getattr(junk, name))
        if name not in found or points == 0:
            continue
        raw, value = found[name]
        lines.append(
            ScoreLine(
                category="junk",
                source=name,
                dimension=None,
                answer=raw,
                value=value,
                points=points,
                max_points=0,
                reason=f"{word(name, locale)}: {raw} ({points:+d})",
            )
        )
    return lines


def _engagement_lines(
    plan: _Plan, state: ConversationState, view: Mapping[str, Any], locale: str
) -> list[ScoreLine]:
    lines = []
    for signal, holds, names in plan.engagement:
        if not holds(state.answers, view):
            continue
        shown = ", ".join(str(view[n]) for n in names if view.get(n) is not None)
        lines.append(
            ScoreLine(
                category="engagement",
                source=signal.id,
                dimension=None,
                answer=shown,
                value={n: view.get(n) for n in names},
                points=signal.points,
                max_points=signal.points,
                reason=f"{tr(signal.reason, locale)}: {signal.points:+d}",
            )
        )
    return lines


FitMemo = dict[tuple[int, str, str], tuple[Answer, ScoreLine, bool]]


def score(
    spec: FlowSpec, state: ConversationState, locale: str | None = None, *, memo: FitMemo | None = None
) -> Score:
    """Score a conversation by the rules in the module docstring; reasons in ``locale``.

    ``memo`` (an empty dict to start with, used with one spec only) keeps each answer's fit line
    between calls, by answer object: for scoring many states built from the same few answers,
    as the simulator does."""
    loc = locale or state.locale
    texts = _texts(spec, loc)
    plan = _plan(spec)
    answers = state.answers

    def fit_line(question: Question) -> tuple[ScoreLine, bool]:
        answer = answers[question.id]
        if memo is None:
            return _fit_line(spec, question, answer, texts, loc)
        key = (id(answer), question.id, loc)
        found = memo.get(key)
        if found is None or found[0] is not answer:
            line, raised = _fit_line(spec, question, answer, texts, loc)
            found = memo[key] = (answer, line, raised)
        return found[1], found[2]

    breakdown: list[ScoreLine] = []
    hand = False
    dimension_points: dict[str, int] = {}
    fit_raw = 0
    for dim, questions in plan.dimensions:
        dim_sum = 0
        for question in questions:
            if question.id not in answers:
                continue
            line, raised = fit_line(question)
            hand = hand or raised
            breakdown.append(line)
            dim_sum += line.points
        clamped, cap = _cap_line(dim.id, dim.id, texts.dimensions[dim.id], dim_sum, 0, dim.weight, loc)
        if cap is not None:
            breakdown.append(cap)
        dimension_points[dim.id] = clamped
        fit_raw += clamped
    for question in plan.undimensioned:
        if question.id in answers:
            line, raised = fit_line(question)
            hand = hand or raised
            breakdown.append(line)
            fit_raw += line.points
    fit, cap = _cap_line("fit", None, texts.words["fit"], fit_raw, 0, spec.scoring.fit, loc)
    if cap is not None:
        breakdown.append(cap)

    view = facts_view(spec, state, hand)
    engagement_lines = _engagement_lines(plan, state, view, loc)
    breakdown.extend(engagement_lines)
    engagement, cap = _cap_line(
        "engagement",
        None,
        texts.words["engagement"],
        sum(line.points for line in engagement_lines),
        0,
        spec.scoring.engagement,
        loc,
    )
    if cap is not None:
        breakdown.append(cap)

    junk_lines = _junk_lines(spec, state, loc)
    breakdown.extend(junk_lines)
    raw_total = fit + engagement + sum(line.points for line in junk_lines)
    total, cap = _cap_line("total", None, texts.words["total"], raw_total, 0, 100, loc)
    if cap is not None:
        breakdown.append(cap)

    confirmed = tuple(d.id for d in spec.dimensions if dimension_points[d.id] >= d.confirm_threshold)
    stage, tier = _stage_and_tier(spec, plan, state, view, total, confirmed, hand)
    return Score(
        total=total,
        fit=fit,
        engagement=engagement,
        stage=stage,
        tier=tier,
        breakdown=tuple(breakdown),
        confirmed=confirmed,
        knockout=state.knockout,
    )


def _stage_and_tier(
    spec: FlowSpec,
    plan: _Plan,
    state: ConversationState,
    view: Mapping[str, Any],
    total: int,
    confirmed: tuple[str, ...],
    hand: bool,
) -> tuple[Stage, str | None]:
    if state.knockout is not None:
        return Stage.DISQUALIFIED, None
    rules = spec.scoring
    counted = len(confirmed)
    if rules.confirmed is not None and rules.confirmed.of is not None:
        counted = sum(1 for d in confirmed if d in rules.confirmed.of)
    mql = total >= rules.mql and (rules.confirmed is None or counted >= rules.confirmed.need)
    sql = mql and (
        (rules.sql.score is not None and total >= rules.sql.score)
        or (rules.sql.hand_raise and hand)
        or (rules.sql.confirmed is not None and counted >= rules.sql.confirmed)
    )
    stage = Stage.SQL if sql else Stage.MQL if mql else Stage.NURTURE
    tier = next(
        (
            t.tier
            for t, holds in plan.tiers
            if total >= t.min and (holds is None or holds(state.answers, view))
        ),
        None,
    )
    return stage, tier
