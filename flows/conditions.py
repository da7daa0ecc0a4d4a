"""Evaluating flow conditions (``ask_if``, knock-out ``when``, engagement signals, tier rules).

A leaf condition reads one answer (``question``) or one engagement fact (``fact``); every test
it names must hold. Choice answers compare option ids: ``equals`` means the id is among the
chosen ones, ``in`` any overlap, ``not_in`` no overlap. Numeric tests (``gte``/``gt``/``lte``/
``lt`` and a numeric ``equals``) read :func:`numeric_value`: numbers as given, money as the range
midpoint converted to the flow currency, timelines in days, yes/no as 1/0. A question that was
not asked, not understood or skipped matches nothing but ``answered: false``; the same goes for
a fact that is not set. ``all`` / ``any`` / ``not`` combine conditions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flows.extract import Money
from flows.model import Answer
from flows.spec import BANDED_KINDS, CHOICE_KINDS, Condition, FlowSpec, Question, QuestionKind, Scalar

Predicate = Callable[[Mapping[str, Answer], Mapping[str, Any]], bool]

_YES_NO_IDS = {"yes": True, "no": False}
_SEQUENCES = (list, tuple)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def is_answered(answer: Answer | None) -> bool:
    """True for an answer that was understood and not skipped."""
    return answer is not None and answer.understood and not answer.skipped


def money_amount(spec: FlowSpec, value: Any) -> float | None:
    """The midpoint of a money value (``{"min", "max", "currency"}``) in the flow currency.

    The rate for a foreign currency is ``spec.exchange_rates[code]`` flow-currency units per one
    unit; an unknown currency (or none) is taken to be the flow currency."""
    if not isinstance(value, Mapping):
        return None
    low, high = _finite(value.get("min")), _finite(value.get("max"))
    currency = value.get("currency")
    midpoint = Money(low, high, currency if isinstance(currency, str) else None).midpoint()
    if midpoint is None or not math.isfinite(midpoint):
        return None
    if isinstance(currency, str) and currency != spec.currency:
        rate = _finite(spec.exchange_rates.get(currency))
        if rate is not None:
            return midpoint * rate
    return midpoint


def numeric_value(spec: FlowSpec, question: Question, answer: Answer | None) -> float | None:
    """The number an answer stands for, or None when it has none.

    Numbers and timelines (days) as given, money through :func:`money_amount`, yes/no as 1/0.
    A tapped band of a number or timeline question is stored as ``{"min", "max"}`` and read as
    its midpoint like money."""
    if not is_answered(answer):
        return None
    assert answer is not None
    value = answer.value
    if question.kind is QuestionKind.YES_NO:
        return (1.0 if value else 0.0) if isinstance(value, bool) else None
    if question.kind not in BANDED_KINDS:
        return None
    if isinstance(value, Mapping):
        return money_amount(spec, value)
    return _finite(value)


def chosen_ids(question: Question, answer: Answer | None) -> tuple[str, ...]:
    """The option ids an answer picked (yes/no answers as ``yes``/``no``)."""
    if answer is None or not answer.understood or answer.skipped:
        return ()
    value = answer.value
    if question.kind is QuestionKind.YES_NO:
        return ("yes" if value else "no",) if isinstance(value, bool) else ()
    if isinstance(value, _SEQUENCES):
        return tuple([v for v in value if isinstance(v, str)])
    return ()


def _as_id(value: Scalar) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _numeric_tests(cond: Condition, number: float) -> bool:
    return (
        (cond.gte is None or number >= cond.gte)
        and (cond.gt is None or number > cond.gt)
        and (cond.lte is None or number <= cond.lte)
        and (cond.lt is None or number < cond.lt)
    )


def _has_numeric_tests(cond: Condition) -> bool:
    return cond.gte is not None or cond.gt is not None or cond.lte is not None or cond.lt is not None


def _same(left: Any, right: Scalar) -> bool:
    """Equality that keeps booleans apart from numbers and ignores letter case in text."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(right, int | float):
        number = _finite(left)
        return number is not None and number == float(right)
    return isinstance(left, str) and left.casefold() == right.casefold()


def _question_leaf(cond: Condition, spec: FlowSpec) -> Predicate:
    """A question leaf with its lookups and id sets worked out once."""
    question = spec.question_by_id.get(cond.question or "")
    unanswered = cond.answered is False
    if question is None or unanswered:
        qid = cond.question or ""

        def only_unanswered(answers: Mapping[str, Answer], _facts: Mapping[str, Any]) -> bool:
            return unanswered and (question is None or not is_answered(answers.get(qid)))

        return only_unanswered
    qid = question.id
    if question.kind in CHOICE_KINDS:
        test = _choice_test(cond, spec, question)
    else:

        def test(answer: Answer) -> bool:
            number = numeric_value(spec, question, answer)
            return _scalar_tests(cond, number if number is not None else answer.value)

    def leaf(answers: Mapping[str, Answer], _facts: Mapping[str, Any]) -> bool:
        answer = answers.get(qid)
        if answer is None or not answer.understood or answer.skipped:
            return False
        return test(answer)

    return leaf


def _choice_test(cond: Condition, spec: FlowSpec, question: Question) -> Callable[[Answer], bool]:
    """Choice answers compare option ids: ``equals`` among the chosen, ``in`` overlaps, ``not_in`` not."""
    equals = _as_id(cond.equals) if cond.equals is not None else None
    any_of = frozenset(_as_id(v) for v in cond.in_) if cond.in_ is not None else None
    none_of = frozenset(_as_id(v) for v in cond.not_in) if cond.not_in is not None else None
    numeric = _has_numeric_tests(cond)

    def test(answer: Answer) -> bool:
        chosen = chosen_ids(question, answer)
        if equals is not None and equals not in chosen:
            return False
        if any_of is not None and any_of.isdisjoint(chosen):
            return False
        if none_of is not None and not none_of.isdisjoint(chosen):
            return False
        if numeric:
            number = numeric_value(spec, question, answer)
            return number is not None and _numeric_tests(cond, number)
        return True

    return test


def _scalar_tests(cond: Condition, subject: Any) -> bool:
    items: Sequence[Any] = subject if isinstance(subject, list | tuple) else (subject,)
    if cond.equals is not None and not any(_same(item, cond.equals) for item in items):
        return False
    if cond.in_ is not None and not any(_same(item, v) for item in items for v in cond.in_):
        return False
    if cond.not_in is not None and any(_same(item, v) for item in items for v in cond.not_in):
        return False
    if _has_numeric_tests(cond):
        number = _finite(subject)
        return number is not None and _numeric_tests(cond, number)
    return True


def _fact_leaf(cond: Condition) -> Predicate:
    """A fact leaf with its name, presence test and whether it tests the value worked out once."""
    name = cond.fact or ""
    want = cond.answered
    tested = (
        cond.equals is not None or cond.in_ is not None or cond.not_in is not None or _has_numeric_tests(cond)
    )

    def fact(_answers: Mapping[str, Answer], facts: Mapping[str, Any]) -> bool:
        value = facts.get(name)
        if want is not None:
            present = value is not None and value != "" and value != [] and value is not False
            if want != present:
                return False
        if value is None:
            return want is False
        return not tested or _scalar_tests(cond, value)

    return fact


def predicate(cond: Condition, spec: FlowSpec) -> Predicate:
    """``cond`` as a function of (answers, facts), its lookups done once (see ``matches``)."""
    if cond.all is not None:
        every = tuple(predicate(sub, spec) for sub in cond.all)

        def all_of(answers: Mapping[str, Answer], facts: Mapping[str, Any]) -> bool:
            return all(p(answers, facts) for p in every)

        return all_of
    if cond.any is not None:
        some = tuple(predicate(sub, spec) for sub in cond.any)

        def any_of(answers: Mapping[str, Answer], facts: Mapping[str, Any]) -> bool:
            return any(p(answers, facts) for p in some)

        return any_of
    if cond.not_ is not None:
        inner = predicate(cond.not_, spec)

        def negated(answers: Mapping[str, Answer], facts: Mapping[str, Any]) -> bool:
            return not inner(answers, facts)

        return negated
    if cond.question is not None:
        return _question_leaf(cond, spec)
    if cond.fact is not None:
        return _fact_leaf(cond)
    return _never


def _never(_answers: Mapping[str, Answer], _facts: Mapping[str, Any]) -> bool:
    return False


def matches(cond: Condition, spec: FlowSpec, answers: Mapping[str, Answer], facts: Mapping[str, Any]) -> bool:
    """Whether ``cond`` holds for these answers and facts (see the module docstring).

    Hot paths keep the :func:`predicate` (``flows.compiled`` holds one per condition of a flow)."""
    return predicate(cond, spec)(answers, facts)


def fact_names(cond: Condition) -> tuple[str, ...]:
    """Every fact a condition reads, nested ones included, in the order written."""
    names: list[str] = [cond.fact] if cond.fact else []
    for sub in (*(cond.all or ()), *(cond.any or ()), *((cond.not_,) if cond.not_ else ())):
        names.extend(n for n in fact_names(sub) if n not in names)
    return tuple(names)
