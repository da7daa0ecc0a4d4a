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

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from flows.compiled import CompiledFlow, CompiledQuestion
from flows.conditions import chosen_ids, is_answered, numeric_value
from flows.echo import days, money
from flows.extract import email_flags, is_lowercase_name, looks_gibberish
from flows.model import Answer, ConversationState, Score, ScoreLine, Stage
from flows.spec import BANDED_KINDS, QuestionKind, tr
from flows.texts import BreakdownTexts, LocaleTexts, amount_words, format_number

_TEXT_KINDS = (QuestionKind.NAME, QuestionKind.COMPANY, QuestionKind.TEXT)
_JUNK_KINDS = frozenset({QuestionKind.EMAIL, *_TEXT_KINDS})
_JUNK = ("lowercase_name", "free_email", "disposable_email", "gibberish")


@dataclass(frozen=True, slots=True)
class Scored:
    """What one answer adds to a score: its fit line, whether it raised a hand, the junk signals
    it shows (``lowercase_name``, ``free_email``, ``disposable_email``, ``gibberish``), and its
    value in words for the leading line ("" when it was not understood or skipped)."""

    line: ScoreLine
    hand: bool
    junk: tuple[str, ...]
    shown: str = ""


def _amount(
    flow: CompiledFlow, question: CompiledQuestion, answer: Answer, number: float | None, locale: str
) -> str:
    """A number, money or timeline answer's value as people write it ("3 000 000 ₽", "$15,000 ≈
    1 350 000 ₽", "через 14 дн.", "от 10 до 50"); ``number`` is its :func:`numeric_value`."""
    value = answer.value
    kind = question.kind
    if kind is QuestionKind.MONEY and isinstance(value, Mapping) and _plain_range(value):
        own = flow.spec.currency
        shown = money(value, own, locale, approximate=False)
        code = value.get("currency")
        if code in flow.spec.exchange_rates and number is not None and not value.get("unlimited"):
            shown = f"{shown} ≈ {amount_words(number, own, locale)}"
        return shown
    if number is None:
        return ""
    if kind is QuestionKind.TIMELINE:
        return days(number, locale)
    return format_number(number, locale)


def _plain_range(value: Mapping[str, Any]) -> bool:
    """A stored money value as the engine writes it: its ends finite numbers or missing."""
    ends = (value.get("min"), value.get("max"))
    return all(
        end is None or (isinstance(end, int | float) and not isinstance(end, bool) and math.isfinite(end))
        for end in ends
    )


def _said(raw: str, shown: str, quotes: tuple[str, str]) -> str:
    """What was answered: the value alone when it is what the person tapped or typed, else the
    words as typed and what they were understood as (``«да есть» → Да, утверждён``)."""
    if not shown or raw.strip().casefold() == shown.casefold():
        return shown or f"{quotes[0]}{raw}{quotes[1]}"
    return f"{quotes[0]}{raw}{quotes[1]} → {shown}"


def scored(flow: CompiledFlow, question: CompiledQuestion, answer: Answer, texts: LocaleTexts) -> Scored:
    """What answering ``question`` with ``answer`` adds to a score (reasons in ``texts``)."""
    answered = is_answered(answer)
    points, reason, hand, shown = _fit(flow, question, answer, answered, texts)
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
    junk = _junk(question, answer) if answered and question.kind in _JUNK_KINDS else ()
    return Scored(line, hand, junk, shown)


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
) -> tuple[int, str, bool, str]:
    """The points, breakdown line, hand raise and value in words of one answered question."""
    spec = question.spec
    words = texts.breakdown
    locale = texts.locale
    out_of = words.out_of[question.id]
    title = words.titles[question.id]
    if not answered:
        what = words.words["skipped" if answer.skipped else "not_understood"]
        typed = (
            f" {words.quotes[0]}{answer.raw}{words.quotes[1]}" if answer.raw and not answer.skipped else ""
        )
        return 0, f"{title}:{typed} — {what}: {0:+d} {out_of}", False, ""
    if spec.options:
        chosen = chosen_ids(spec, answer)
        picked = [o for o in spec.options if o.id in chosen]
        points = sum(o.points for o in picked)
        hand = any(o.hand_raise for o in picked)
        labels = texts.questions[question.id].labels
        shown = ", ".join(labels.get(i, i) for i in chosen)
        if len(picked) == 1 and picked[0].reason is not None:
            return points, f"{tr(picked[0].reason, locale)}: {points:+d} {out_of}", hand, shown
        return points, f"{title}: {_said(answer.raw, shown, words.quotes)}: {points:+d} {out_of}", hand, shown
    if spec.bands:
        number = numeric_value(flow.spec, spec, answer)
        index = (
            None
            if number is None
            else next((i for i, b in enumerate(spec.bands) if b.contains(number)), None)
        )
        if index is None:
            shown = _amount(flow, question, answer, number, locale)
            said = _said(answer.raw, shown, words.quotes)
            return 0, f"{title}: {said}, {words.words['no_band']}: {0:+d} {out_of}", False, shown
        band = spec.bands[index]
        band_words = words.bands[question.id][index]
        if answer.raw.strip().casefold() == band_words.casefold():  # a tapped band
            shown = said = band_words
        else:
            shown = _amount(flow, question, answer, number, locale)
            said = f"{_said(answer.raw, shown, words.quotes)} ({band_words})"
        if band.reason is not None:
            return (
                band.points,
                f"{tr(band.reason, locale)}: {band.points:+d} {out_of}",
                band.hand_raise,
                shown,
            )
        return band.points, f"{title}: {said}: {band.points:+d} {out_of}", band.hand_raise, shown
    own = spec.points
    if question.kind is QuestionKind.YES_NO and answer.value is not True:
        own = 0
    if question.kind in BANDED_KINDS:
        shown = _amount(flow, question, answer, numeric_value(flow.spec, spec, answer), locale)
    elif question.kind is QuestionKind.YES_NO:
        shown = texts.questions[question.id].labels["yes" if answer.value is True else "no"]
    else:
        shown = str(answer.value) if answer.value is not None else ""
    if spec.reason is not None:
        return own, f"{tr(spec.reason, locale)}: {own:+d} {out_of}", False, shown
    return own, f"{title}: {_said(answer.raw, shown, words.quotes)}: {own:+d} {out_of}", False, shown


def _cap_line(
    source: str, dimension: str | None, title: str, raw: int, low: int, high: int, words: BreakdownTexts
) -> tuple[int, ScoreLine | None]:
    """Clamp ``raw`` to ``low..high``; the line that explains the difference, if any."""
    clamped = min(max(raw, low), high)
    if clamped == raw:
        return clamped, None
    key, limit = ("cap_high", high) if raw > high else ("cap_low", low)
    reason = f"{words.words[key].format(title=title, limit=limit)}: {clamped - raw:+d}"
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
                reason=f"{words.words[name]}: {raw}: {points:+d}",
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
    flow: CompiledFlow,
    state: ConversationState,
    answers: Mapping[str, Scored],
    texts: LocaleTexts,
    *,
    headline: bool = True,
) -> Score:
    """:func:`score` from what each answer adds (by question id), worked out beforehand by
    :func:`scored` with the same ``texts``: for scoring many states built from the same few
    answers, as the simulator does (``headline=False`` leaves the leading line out)."""
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
            if found.line.points or found.line.max_points:
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
            if found.line.points or found.line.max_points:
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
    stage, tier, note = _stage_and_tier(flow, state, view, total, confirmed, hand)
    if headline:
        lead = _headline(flow, state, answers, stage, tier, total, confirmed, note, texts)
        breakdown.insert(0, lead)
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
) -> tuple[Stage, str | None, str]:
    """The stage, the tier, and what decided the stage besides the points, for the leading line:
    ``held`` (``nurture_if``), ``no_contact`` (``contact_required``), ``hand`` (an MQL by the
    raised hand alone), ``held_hand`` (held by ``nurture_if``, an MQL by the raised hand),
    ``below`` (a nurture below the MQL threshold) or ""."""
    if state.knockout is not None:
        return Stage.DISQUALIFIED, None, ""
    rules = flow.spec.scoring
    counted = _counted(flow, confirmed)
    mql = total >= rules.mql and (rules.confirmed is None or counted >= rules.confirmed.need)
    sql = mql and (
        (rules.sql.score is not None and total >= rules.sql.score)
        or (rules.sql.hand_raise and hand)
        or (rules.sql.confirmed is not None and counted >= rules.sql.confirmed)
    )
    note = "" if mql else "below"
    held = flow.nurture_if is not None and flow.nurture_if(state.answers, view)
    if held:
        mql = sql = False
        note = "held"
    if not mql and rules.hand_raise_mql and hand:
        mql = True
        note = "held_hand" if held else "hand"
    if rules.contact_required and not any(is_answered(state.answers.get(qid)) for qid in flow.reach):
        note = "no_contact" if mql else note
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
    return stage, tier, note


MAX_SHOWN = 60  # characters of one answer in the leading line


def _points_words(total: int, words: Mapping[str, str], locale: str) -> str:
    if locale == "ru":
        tens, ones = total % 100, total % 10
        key = (
            "points_one"
            if ones == 1 and tens != 11
            else "points_few"
            if 2 <= ones <= 4 and not 12 <= tens <= 14
            else "points"
        )
    else:
        key = "points_one" if total == 1 else "points"
    return words[key].format(total)


def _short(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1].rstrip() + "…"


def _headline(
    flow: CompiledFlow,
    state: ConversationState,
    answers: Mapping[str, Scored],
    stage: Stage,
    tier: str | None,
    total: int,
    confirmed: tuple[str, ...],
    note: str,
    texts: LocaleTexts,
) -> ScoreLine:
    """The leading line of a breakdown: why this stage and tier, in one line a rep reads first.

    ``SQL, A (87 баллов) — Бюджет: Да, утверждён, больше 5 млн ₽; Полномочия: Собственник / CEO; …``:
    the stage and tier, the points and what else decided the stage (``note``, see
    :func:`_stage_and_tier`; in N-of-M mode the dimensions confirmed), then each dimension's
    answers in words. A knocked-out lead: ``Отсеян (student) — Полномочия: Студент``, the
    reason and the answer that ended the conversation."""
    breakdown = texts.breakdown
    words = breakdown.words
    head = words[stage.value] + (f", {tier}" if tier else "")
    if stage is Stage.DISQUALIFIED:
        cause = state.path[-1] if state.path else ""
        found = answers.get(cause)
        said = f"{breakdown.titles[cause]}: {_short(found.shown or words['not_understood'])}" if found else ""
        text = f"{head} ({state.knockout})" + (f" — {said}" if said else "")
    else:
        rules = flow.spec.scoring
        why = [_points_words(total, words, texts.locale)]
        if note == "below":
            why.append(words["below_mql"].format(rules.mql))
        elif note == "hand":
            why.append(words["hand_mql"].format(rules.mql))
        elif note in ("held", "held_hand"):
            holding = _holding(flow, answers, breakdown.quotes)
            why.append(words[note].format(holding) if holding else words[f"{note}_rule"])
        elif note:
            why.append(words[note])
        if rules.confirmed is not None:
            of = rules.confirmed.of or [d.id for d in flow.spec.dimensions]
            why.append(words["confirmed"].format(_counted(flow, confirmed), len(of)))
        facts = []
        for dim, questions in flow.dimensions:
            shown = [
                _short(answers[q.id].shown) for q in questions if q.id in answers and answers[q.id].shown
            ]
            if shown:
                facts.append(f"{breakdown.dimensions[dim.id]}: {' · '.join(shown)}")
        text = f"{head} ({', '.join(why)})" + (f" — {'; '.join(facts)}" if facts else "")
    return ScoreLine(
        category="summary",
        source="stage",
        dimension=None,
        answer="",
        value={"stage": stage.value, "tier": tier, "knockout": state.knockout},
        points=0,
        max_points=0,
        reason=text,
    )


def _holding(flow: CompiledFlow, answers: Mapping[str, Scored], quotes: tuple[str, str]) -> str:
    """The answers ``scoring.nurture_if`` reads, quoted ("«Пока не сформирован»"); "" when it
    reads only facts."""
    held = flow.spec.scoring.nurture_if
    read = dict.fromkeys(held.questions()) if held is not None else {}
    shown = [answers[qid].shown for qid in read if qid in answers and answers[qid].shown]
    return ", ".join(f"{quotes[0]}{_short(text)}{quotes[1]}" for text in shown)


def restage(flow: CompiledFlow, state: ConversationState, result: Score, stage: Stage) -> Score:
    """``result`` at ``stage`` (a lead's stage only moves up, so a later score may be below the
    stage reached): the same points, with the leading line saying the stage."""
    if result.stage == stage:
        return result
    texts = flow.texts(state.locale)
    by_id = flow.question_by_id
    answers = {qid: scored(flow, by_id[qid], a, texts) for qid, a in state.answers.items() if qid in by_id}
    lead = _headline(flow, state, answers, stage, result.tier, result.total, result.confirmed, "", texts)
    rest = (
        result.breakdown[1:]
        if result.breakdown and result.breakdown[0].category == "summary"
        else result.breakdown
    )
    return replace(result, stage=stage, breakdown=(lead, *rest))


def _counted(flow: CompiledFlow, confirmed: tuple[str, ...]) -> int:
    """How many of the dimensions N-of-M mode counts are confirmed."""
    rules = flow.spec.scoring
    if rules.confirmed is not None and rules.confirmed.of is not None:
        return sum(1 for d in confirmed if d in rules.confirmed.of)
    return len(confirmed)


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
