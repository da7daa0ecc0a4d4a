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
   ``scoring.sql.hand_raise``), or ``scoring.sql.confirmed`` dimensions are confirmed; a raised
   hand below that is still an ``mql`` (with ``scoring.hand_raise_mql``, the default: a person
   who asks for a call is worth one); else ``nurture``. A lead ``scoring.nurture_if`` holds for
   ("the budget is not formed yet") is ``nurture``, or ``mql`` when they raised a hand (with
   ``hand_raise_mql``), whatever the score. With ``scoring.contact_required`` a lead
   without an understood, not skipped e-mail or phone answer stays ``nurture``: sales could not
   get back to them.
6. **Tier.** The first of ``scoring.tiers`` (in order) whose ``min`` the total reaches and whose
   ``when`` matches; none if none does.

Everything is computed in spec order from plain lookups, so the same input gives the same score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows.compiled import CompiledFlow, CompiledQuestion
from flows.conditions import chosen_ids, is_answered, numeric_value
from flows.extract import email_flags, is_lowercase_name, looks_gibberish
from flows.model import Answer, ConversationState, Score, ScoreLine, Stage
from flows.spec import BANDED_KINDS, QuestionKind, tr
from flows.texts import BreakdownTexts, LocaleTexts, format_number

_TEXT_KINDS = (QuestionKind.NAME, QuestionKind.COMPANY, QuestionKind.TEXT)
_JUNK_KINDS = frozenset({QuestionKind.EMAIL, *_TEXT_KINDS})
_JUNK = ("lowercase_name", "free_email", "disposable_email", "gibberish")


@dataclass(frozen=True, slots=True)
class Scored:
    """What one answer adds to a score: its fit line, whether it raised a hand, and the junk
    signals it shows (``lowercase_name``, ``free_email``, ``disposable_email``, ``gibberish``)."""

    line: ScoreLine
    hand: bool
    junk: tuple[str, ...]


def _range_words(
    flow: CompiledFlow,
    question: CompiledQuestion,
    value: Mapping[str, Any],
    amount: float,
    texts: LocaleTexts,
) -> str:
    """A range value (its amount in the flow currency worked out) in words: ``2 000 000 RUB``,
    ``1 000 000–2 000 000 RUB``, ``$15,000 ≈ ...``."""
    spec = flow.spec
    locale = texts.locale
    own_unit = texts.breakdown.units[question.id]
    low, high = value.get("min"), value.get("max")
    currency = value.get("currency")
    foreign = (
        isinstance(currency, str)
        and currency != spec.currency
        and currency in spec.exchange_rates
        and question.kind is QuestionKind.MONEY
    )
    unit = f" {currency}" if foreign else own_unit
    if isinstance(low, int | float) and isinstance(high, int | float) and low != high:
        shown = f"{format_number(low, locale)}–{format_number(high, locale)}{unit}"
    elif foreign:
        shown = f"{format_number(amount / spec.exchange_rates[str(currency)], locale)}{unit}"
    else:
        return f"{format_number(amount, locale)}{unit}"
    if foreign or question.kind is QuestionKind.MONEY:
        return f"{shown} ≈ {format_number(amount, locale)}{own_unit}"
    return shown


def _number_words(
    flow: CompiledFlow, question: CompiledQuestion, answer: Answer, number: float | None, texts: LocaleTexts
) -> str:
    """A banded answer's value in words (``number`` is its :func:`numeric_value`)."""
    if number is None:
        return ""
    value = answer.value
    if isinstance(value, Mapping):
        return _range_words(flow, question, value, number, texts)
    return format_number(number, texts.locale) + texts.breakdown.units[question.id]


def _value_words(question: CompiledQuestion, answer: Answer, texts: LocaleTexts) -> str:
    """An answer without options or bands in words: yes/no, or the value as it is."""
    value = answer.value
    if question.kind is QuestionKind.YES_NO and isinstance(value, bool):
        return texts.breakdown.words["yes" if value else "no"]
    if question.kind in BANDED_KINDS:
        return ""
    return str(value) if value is not None else ""


def scored(flow: CompiledFlow, question: CompiledQuestion, answer: Answer, texts: LocaleTexts) -> Scored:
    """What answering ``question`` with ``answer`` adds to a score (reasons in ``texts``)."""
    answered = is_answered(answer)
    points, reason, hand = _fit(flow, question, answer, answered, texts)
    line = ScoreLine(
        category="fit",
        source=question.id,
        dimension=question.spec.dimension,
        answer=answer.raw,
        value=answer.value,
        points=points,
        max_points=question.spec.max_points,
        reason=reason,
    )
    return Scored(line, hand, _junk(question, answer) if answered and question.kind in _JUNK_KINDS else ())


def _junk(question: CompiledQuestion, answer: Answer) -> tuple[str, ...]:
    text = answer.value if isinstance(answer.value, str) else answer.raw
    found = []
    if question.kind is QuestionKind.NAME and is_lowercase_name(text):
        found.append("lowercase_name")
    if question.kind is QuestionKind.EMAIL and isinstance(answer.value, str):
        free, disposable = email_flags(answer.value)
        if disposable:
            found.append("disposable_email")
        elif free:
            found.append("free_email")
    if question.kind in _TEXT_KINDS and looks_gibberish(text):
        found.append("gibberish")
    return tuple(found)


def _fit(
    flow: CompiledFlow, question: CompiledQuestion, answer: Answer, answered: bool, texts: LocaleTexts
) -> tuple[int, str, bool]:
    """The points, reason and hand raise of one answered question."""
    spec = question.spec
    words = texts.breakdown
    out_of = words.out_of[question.id]
    opening, closing = words.quotes
    quoted = f"{words.titles[question.id]}: {opening}{answer.raw}{closing}"
    if not answered:
        what = words.words["skipped" if answer.skipped else "not_understood"]
        return 0, f"{quoted} — {what}: {0:+d} {out_of}", False
    if spec.options:
        chosen = chosen_ids(spec, answer)
        picked = [o for o in spec.options if o.id in chosen]
        points = sum(o.points for o in picked)
        hand = any(o.hand_raise for o in picked)
        if len(picked) == 1 and picked[0].reason is not None:
            return points, tr(picked[0].reason, texts.locale), hand
        if question.kind is QuestionKind.YES_NO:
            shown = _value_words(question, answer, texts)
        else:
            labels = texts.questions[question.id].labels
            shown = ", ".join(labels.get(i, i) for i in chosen)
        return points, f"{_arrow(quoted, shown)}: {points:+d} {out_of}", hand
    if spec.bands:
        number = numeric_value(flow.spec, spec, answer)
        shown = _number_words(flow, question, answer, number, texts)
        index = (
            None
            if number is None
            else next((i for i, b in enumerate(spec.bands) if b.contains(number)), None)
        )
        if index is None:
            return 0, f"{_arrow(quoted, shown)}, {words.words['no_band']}: {0:+d} {out_of}", False
        band = spec.bands[index]
        if band.reason is not None:
            return band.points, tr(band.reason, texts.locale), band.hand_raise
        band_words = words.bands[question.id][index]
        return (
            band.points,
            f"{_arrow(quoted, shown)}, {band_words}: {band.points:+d} {out_of}",
            band.hand_raise,
        )
    own = spec.points
    if question.kind is QuestionKind.YES_NO and answer.value is not True:
        own = 0
    if spec.reason is not None:
        return own, tr(spec.reason, texts.locale), False
    if question.kind in BANDED_KINDS:
        shown = _number_words(flow, question, answer, numeric_value(flow.spec, spec, answer), texts)
    else:
        shown = _value_words(question, answer, texts)
    return own, f"{_arrow(quoted, shown)}: {own:+d} {out_of}", False


def _arrow(quoted: str, shown: str) -> str:
    """``Title: «answer as typed» → parsed value`` (without the arrow when there is no value)."""
    return f"{quoted} → {shown}" if shown else quoted


def _cap_line(
    source: str, dimension: str | None, title: str, raw: int, low: int, high: int, words: BreakdownTexts
) -> tuple[int, ScoreLine | None]:
    """Clamp ``raw`` to ``low..high``; the line that explains the difference, if any."""
    clamped = min(max(raw, low), high)
    if clamped == raw:
        return clamped, None
    key, limit = ("cap_high", high) if raw > high else ("cap_low", low)
    reason = words.words[key].format(title=title, limit=limit)
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


def _facts_view(flow: CompiledFlow, state: ConversationState, hand: bool) -> dict[str, Any]:
    """The facts conditions see: the stored facts plus ``answered_all``, ``hand_raise``, ``channel``."""
    view = dict(state.facts)
    answers, facts = state.answers, state.facts
    view["answered_all"] = all(
        is_answered(answers.get(q.id)) for q in flow.questions if q.ask_if is None or q.ask_if(answers, facts)
    )
    view["hand_raise"] = hand
    if "channel" not in view:
        view["channel"] = None
    return view


def _junk_lines(flow: CompiledFlow, answered: list[Scored], words: BreakdownTexts) -> list[ScoreLine]:
    """One line per junk signal shown by any answer (the first answer showing it, in spec order)."""
    junk = flow.spec.scoring.junk
    found: dict[str, ScoreLine] = {}
    for each in answered:
        for name in each.junk:
            found.setdefault(name, each.line)
    lines = []
    for name in _JUNK:
        points = int(getattr(junk, name))
        if name not in found or points == 0:
            continue
        raw, value = found[name].answer, found[name].value
        lines.append(
            ScoreLine(
                category="junk",
                source=name,
                dimension=None,
                answer=raw,
                value=value,
                points=points,
                max_points=0,
                reason=f"{words.words[name]}: {raw} ({points:+d})",
            )
        )
    return lines


def _engagement_lines(
    flow: CompiledFlow, state: ConversationState, view: Mapping[str, Any], words: BreakdownTexts
) -> list[ScoreLine]:
    lines = []
    for signal, reason in zip(flow.engagement, words.signals, strict=True):
        if not signal.when(state.answers, view):
            continue
        names = signal.facts
        shown = ", ".join(str(view[n]) for n in names if view.get(n) is not None)
        points = signal.spec.points
        lines.append(
            ScoreLine(
                category="engagement",
                source=signal.spec.id,
                dimension=None,
                answer=shown,
                value={n: view.get(n) for n in names},
                points=points,
                max_points=points,
                reason=f"{reason}: {points:+d}",
            )
        )
    return lines


def score(flow: CompiledFlow, state: ConversationState, locale: str | None = None) -> Score:
    """Score a conversation by the rules in the module docstring; reasons in ``locale``."""
    texts = flow.texts(locale or state.locale)
    by_id = flow.question_by_id
    answers = {
        qid: scored(flow, by_id[qid], answer, texts) for qid, answer in state.answers.items() if qid in by_id
    }
    return score_answers(flow, state, answers, texts)


def score_answers(
    flow: CompiledFlow, state: ConversationState, answers: Mapping[str, Scored], texts: LocaleTexts
) -> Score:
    """:func:`score` from what each answer adds (by question id), worked out beforehand by
    :func:`scored` with the same ``texts``: for scoring many states built from the same few
    answers, as the simulator does."""
    words = texts.breakdown
    breakdown: list[ScoreLine] = []
    hand = False
    dimension_points: dict[str, int] = {}
    fit_raw = 0
    for dim, questions in flow.dimensions:
        dim_sum = 0
        for question in questions:
            found = answers.get(question.id)
            if found is None:
                continue
            hand = hand or found.hand
            breakdown.append(found.line)
            dim_sum += found.line.points
        clamped, cap = _cap_line(dim.id, dim.id, words.dimensions[dim.id], dim_sum, 0, dim.weight, words)
        if cap is not None:
            breakdown.append(cap)
        dimension_points[dim.id] = clamped
        fit_raw += clamped
    for question in flow.undimensioned:
        found = answers.get(question.id)
        if found is not None:
            hand = hand or found.hand
            breakdown.append(found.line)
            fit_raw += found.line.points
    rules = flow.spec.scoring
    fit, cap = _cap_line("fit", None, words.words["fit"], fit_raw, 0, rules.fit, words)
    if cap is not None:
        breakdown.append(cap)

    view = _facts_view(flow, state, hand)
    engagement_lines = _engagement_lines(flow, state, view, words)
    breakdown.extend(engagement_lines)
    engagement, cap = _cap_line(
        "engagement",
        None,
        words.words["engagement"],
        sum(line.points for line in engagement_lines),
        0,
        rules.engagement,
        words,
    )
    if cap is not None:
        breakdown.append(cap)

    junk_lines = _junk_lines(flow, [answers[q.id] for q in flow.questions if q.id in answers], words)
    breakdown.extend(junk_lines)
    raw_total = fit + engagement + sum(line.points for line in junk_lines)
    total, cap = _cap_line("total", None, words.words["total"], raw_total, 0, 100, words)
    if cap is not None:
        breakdown.append(cap)

    confirmed = tuple(d.id for d, _ in flow.dimensions if dimension_points[d.id] >= d.confirm_threshold)
    stage, tier = _stage_and_tier(flow, state, view, total, confirmed, hand)
    return Score(
        total=total,
        fit=fit,
        engagement=engagement,
        stage=stage,
        tier=tier,
        breakdown=tuple(breakdown),
        confirmed=confirmed,
        knockout=state.knockout,
        hand_raise=hand,
    )


def _stage_and_tier(
    flow: CompiledFlow,
    state: ConversationState,
    view: Mapping[str, Any],
    total: int,
    confirmed: tuple[str, ...],
    hand: bool,
) -> tuple[Stage, str | None]:
    if state.knockout is not None:
        return Stage.DISQUALIFIED, None
    rules = flow.spec.scoring
    counted = len(confirmed)
    if rules.confirmed is not None and rules.confirmed.of is not None:
        counted = sum(1 for d in confirmed if d in rules.confirmed.of)
    mql = total >= rules.mql and (rules.confirmed is None or counted >= rules.confirmed.need)
    sql = mql and (
        (rules.sql.score is not None and total >= rules.sql.score)
        or (rules.sql.hand_raise and hand)
        or (rules.sql.confirmed is not None and counted >= rules.sql.confirmed)
    )
    held = flow.nurture_if is not None and flow.nurture_if(state.answers, view)
    if held:
        mql = sql = False
    mql = mql or (rules.hand_raise_mql and hand)
    if rules.contact_required and not any(is_answered(state.answers.get(qid)) for qid in flow.reach):
        mql = sql = False
    stage = Stage.SQL if sql else Stage.MQL if mql else Stage.NURTURE
    tier = next(
        (
            t.tier
            for t, holds in flow.tiers
            if total >= t.min and (holds is None or holds(state.answers, view))
        ),
        None,
    )
    return stage, tier


def highest_total(flow: CompiledFlow, *, with_knockouts: bool = True) -> int:
    """The highest total the rules allow (every question asked, every signal firing), optionally
    leaving out the answers that knock out."""
    spec = flow.spec
    fit = 0
    for dim, questions in flow.dimensions:
        fit += min(dim.weight, sum(q.spec.most_points(with_knockouts=with_knockouts) for q in questions))
    fit += sum(q.spec.most_points(with_knockouts=with_knockouts) for q in flow.undimensioned)
    engagement = sum(s.points for s in spec.engagement if s.points > 0)
    return min(100, min(fit, spec.scoring.fit) + min(engagement, spec.scoring.engagement))
