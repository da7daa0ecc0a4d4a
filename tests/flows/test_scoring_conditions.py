"""Condition semantics (ask_if, knock-outs, signals, tiers) and the numeric value of answers."""

from __future__ import annotations

from typing import Any

import pytest

from flows.compiled import CompiledFlow
from flows.conditions import matches, numeric_value
from flows.model import Answer
from flows.spec import Condition


def cond(**data: Any) -> Condition:
    return Condition.model_validate(data)


def money(low: float | None, high: float | None, currency: str | None = None) -> dict[str, Any]:
    return {"min": low, "max": high, "currency": currency}


ROLE_MANAGER = {"role": Answer("role", "Менеджер", ["manager"])}
NEED_TWO = {"need": Answer("need", "...", ["leads", "reports"])}


@pytest.mark.parametrize(
    ("condition", "answers", "expected"),
    [
        (cond(question="role", equals="manager"), ROLE_MANAGER, True),
        (cond(question="role", equals="owner"), ROLE_MANAGER, False),
        (cond(question="role", **{"in": ["owner", "manager"]}), ROLE_MANAGER, True),
        (cond(question="role", not_in=["manager"]), ROLE_MANAGER, False),
        (cond(question="role", not_in=["owner", "student"]), ROLE_MANAGER, True),
        (cond(question="need", equals="reports"), NEED_TWO, True),
        (cond(question="need", **{"in": ["speed", "leads"]}), NEED_TWO, True),
        (cond(question="need", not_in=["speed"]), NEED_TWO, True),
        (cond(question="need", not_in=["leads"]), NEED_TWO, False),
        (cond(question="role", answered=True), ROLE_MANAGER, True),
        (cond(question="role", answered=False), ROLE_MANAGER, False),
    ],
)
def test_choice_conditions_compare_option_ids(
    mini: CompiledFlow, condition: Condition, answers: dict[str, Answer], expected: bool
) -> None:
    assert matches(condition, mini.spec, answers, {}) is expected


@pytest.mark.parametrize(
    "answer",
    [
        None,
        Answer("role", "???", None, understood=False),
        Answer("role", "", None, skipped=True),
    ],
)
def test_an_unusable_answer_matches_only_answered_false(mini: CompiledFlow, answer: Answer | None) -> None:
    answers = {"role": answer} if answer is not None else {}
    for condition in (
        cond(question="role", equals="manager"),
        cond(question="role", not_in=["owner"]),
        cond(question="role", answered=True),
        cond(question="role"),
    ):
        assert not matches(condition, mini.spec, answers, {})
    assert matches(cond(question="role", answered=False), mini.spec, answers, {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (money(2_000_000, 2_000_000), 2_000_000),
        (money(1_000_000, 3_000_000), 2_000_000),
        (money(15_000, 15_000, "USD"), 1_500_000),
        (money(15_000, 15_000, "XYZ"), 15_000),
        (money(500, 500, "RUB"), 500),
        (money(0, 0), 0),
    ],
)
def test_money_is_the_midpoint_in_the_flow_currency(mini: CompiledFlow, value: Any, expected: float) -> None:
    question = mini.spec.question_by_id["budget"]
    assert numeric_value(mini.spec, question, Answer("budget", "x", value)) == pytest.approx(expected)


def test_numeric_value_of_other_kinds(mini: CompiledFlow) -> None:
    q = mini.spec.question_by_id
    assert numeric_value(mini.spec, q["team"], Answer("team", "12", 12)) == 12
    assert numeric_value(mini.spec, q["team"], Answer("team", "x", {"min": 10, "max": 20})) == 15
    assert numeric_value(mini.spec, q["timing"], Answer("timing", "x", 90)) == 90
    assert numeric_value(mini.spec, q["demo"], Answer("demo", "да", True)) == 1
    assert numeric_value(mini.spec, q["demo"], Answer("demo", "нет", False)) == 0
    assert numeric_value(mini.spec, q["role"], Answer("role", "x", ["owner"])) is None
    assert numeric_value(mini.spec, q["team"], Answer("team", "x", float("inf"))) is None
    assert numeric_value(mini.spec, q["team"], Answer("team", "x", True)) is None
    assert numeric_value(mini.spec, q["team"], Answer("team", "x", "12")) is None
    assert numeric_value(mini.spec, q["team"], Answer("team", "x", 12, understood=False)) is None
    assert numeric_value(mini.spec, q["team"], None) is None


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond(question="budget", gte=1_000_000), True),
        (cond(question="budget", gt=1_500_000), False),
        (cond(question="budget", lt=1_500_001), True),
        (cond(question="budget", lte=1_499_999), False),
        (cond(question="budget", gte=1_000_000, lt=2_000_000), True),
        (cond(question="budget", equals=1_500_000), True),
    ],
)
def test_numeric_conditions_on_money(mini: CompiledFlow, condition: Condition, expected: bool) -> None:
    answers = {"budget": Answer("budget", "$15k", money(15_000, 15_000, "USD"))}
    assert matches(condition, mini.spec, answers, {}) is expected


def test_yes_no_conditions(mini: CompiledFlow) -> None:
    yes = {"demo": Answer("demo", "да", True)}
    assert matches(cond(question="demo", equals=True), mini.spec, yes, {})
    assert not matches(cond(question="demo", equals=False), mini.spec, yes, {})
    assert matches(cond(question="demo", equals="yes"), mini.spec, yes, {})
    assert matches(cond(question="demo", gte=1), mini.spec, yes, {})


def test_text_conditions_compare_case_insensitively(mini: CompiledFlow) -> None:
    answers = {"company": Answer("company", "Acme", "Acme")}
    assert matches(cond(question="company", equals="acme"), mini.spec, answers, {})
    assert not matches(cond(question="company", gte=1), mini.spec, answers, {})


@pytest.mark.parametrize(
    ("condition", "facts", "expected"),
    [
        (cond(fact="utm_source", equals="google"), {"utm_source": "Google"}, True),
        (cond(fact="utm_source", **{"in": ["yandex", "google"]}), {"utm_source": "google"}, True),
        (cond(fact="utm_source", not_in=["google"]), {"utm_source": "vk"}, True),
        (cond(fact="utm_source", equals="google"), {}, False),
        (cond(fact="utm_source", answered=False), {}, True),
        (cond(fact="utm_source", answered=True), {"utm_source": "vk"}, True),
        (cond(fact="pages_seen", gte=3), {"pages_seen": 3}, True),
        (cond(fact="pages_seen", gte=3), {"pages_seen": 2}, False),
        (cond(fact="pages_seen", gte=3), {"pages_seen": "many"}, False),
        (cond(fact="pages_seen", gte=3), {}, False),
        (cond(fact="returning", equals=True), {"returning": True}, True),
        (cond(fact="returning", equals=True), {"returning": 1}, False),
        (cond(fact="returning", equals=1), {"returning": True}, False),
        (cond(fact="returning", equals=False), {"returning": False}, True),
        (cond(fact="tags", equals="vip"), {"tags": ["new", "vip"]}, True),
    ],
)
def test_fact_conditions(
    mini: CompiledFlow, condition: Condition, facts: dict[str, Any], expected: bool
) -> None:
    assert matches(condition, mini.spec, {}, facts) is expected


def test_combinations(mini: CompiledFlow) -> None:
    facts = {"utm_source": "google", "pages_seen": 5}
    google = {"fact": "utm_source", "equals": "google"}
    many = {"fact": "pages_seen", "gte": 10}
    manager = {"question": "role", "equals": "manager"}
    assert matches(cond(all=[google, manager]), mini.spec, ROLE_MANAGER, facts)
    assert not matches(cond(all=[google, many]), mini.spec, ROLE_MANAGER, facts)
    assert matches(cond(any=[many, manager]), mini.spec, ROLE_MANAGER, facts)
    assert not matches(cond(any=[many]), mini.spec, ROLE_MANAGER, facts)
    assert matches(cond(**{"not": many}), mini.spec, ROLE_MANAGER, facts)
    assert matches(cond(**{"not": {"question": "role", "equals": "owner"}}), mini.spec, {}, facts)
    assert matches(
        cond(all=[{"any": [many, google]}, {"not": {"question": "team", "answered": True}}]),
        mini.spec,
        {},
        facts,
    )
