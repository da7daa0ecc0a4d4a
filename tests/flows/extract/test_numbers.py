"""The shared numeric core through parse_number and parse_money: separators, words, ranges."""

from __future__ import annotations

import math

import pytest

from flows.extract import Money, parse_money, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,500", 1500),
        ("1.500", 1500),
        ("1,5", 1.5),
        ("0.125", 0.125),
        ("1,500 млн", 1_500_000),
        ("1.000.000", 1_000_000),
        ("1,000,000", 1_000_000),
        ("1,000.50", 1000.5),
        ("1.000,50", 1000.5),
        ("1 500 000", 1_500_000),
        ("1\u00a0500", 1500),
        ("2.5k", 2500),
        ("сто двадцать пять", 125),
        ("две тысячи пятьсот", 2500),
        ("миллион двести тысяч", 1_200_000),
        ("two thousand and five", 2005),
        ("twenty one", 21),
        ("пять с половиной", 5.5),
        ("one and a half million", 1_500_000),
        ("полмиллиона", 500_000),
        ("a couple of hundred", 200),
        ("пару десятков", 20),
        ("900-1 млн", 950_000),
        ("10-20k", 15_000),
        ("офис 100 m2", 100),
        ("q3", 3),
    ],
)
def test_number_forms(text: str, value: float) -> None:
    assert parse_number(text, "ru") == pytest.approx(value)


@pytest.mark.parametrize(
    "text", ["", "   ", "много", "несколько", "два три", "9" * 400, "1" + "0" * 20, "пол", "a few"]
)
def test_numbers_not_understood(text: str) -> None:
    assert parse_number(text, "en") is None


def test_amounts_beyond_belief_are_refused() -> None:
    assert parse_money("9" * 30 + " млн", "ru") is None
    assert parse_money("999999999 млрд", "ru") is None


def test_reversed_range_is_put_in_order() -> None:
    assert parse_money("от 2 млн до 500 тыс", "ru") == Money(500_000, 2_000_000, None)


def test_unrelated_amounts_pick_the_one_with_a_multiplier_or_currency() -> None:
    assert parse_money("нас 3 человека, бюджет 200 тысяч", "ru") == Money(200_000, 200_000, None)
    assert parse_money("2 офиса и 50 сотрудников", "ru") is None
    assert parse_money("5 человек, 300 $", "ru") == Money(300, 300, "USD")


def test_no_budget_forms() -> None:
    for text in ("нет", "бюджета нет", "пока нет", "ни копейки", "nothing", "not allocated yet, none"):
        assert parse_money(text, "ru") == Money(0.0, 0.0, None), text
    for text in ("не знаю", "no idea", "зависит от цены", "обсуждаемо"):
        assert parse_money(text, "ru") is None, text


@pytest.mark.parametrize(
    ("money", "midpoint"),
    [
        (Money(1_000_000, 2_000_000, "RUB"), 1_500_000),
        (Money(None, 100_000, None), 100_000),
        (Money(1_000_000, None, "USD"), 1_000_000),
        (Money(0, 0, None), 0),
        (Money(None, None, None), None),
    ],
)
def test_money_midpoint(money: Money, midpoint: float | None) -> None:
    assert money.midpoint() == midpoint


def test_money_is_a_frozen_value() -> None:
    money = Money(1.0, 2.0, "EUR")
    assert money == Money(1.0, 2.0, "EUR")
    assert hash(money) == hash(Money(1.0, 2.0, "EUR"))
    with pytest.raises(AttributeError):
        money.min = 3.0  # type: ignore[misc]
    assert not hasattr(money, "__dict__")


def test_values_are_finite() -> None:
    for text in ("1" * 25, "99999999999999999 тыс", "inf", "nan"):
        money = parse_money(text, "en")
        assert money is None or all(v is None or math.isfinite(v) for v in (money.min, money.max))


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("тысяч восемьсот", 800_000, 800_000),
        ("тысяча двести", 1200, 1200),  # the unit in the nominative still counts one
        ("около тысячи двухсот", 1200, 1200),
        ("миллион двести", 1_200_000, 1_200_000),
        ("сотни тысяч", 100_000, 1_000_000),
        ("около сотни тысяч", 100_000, 100_000),
        ("от 3-х до 5-ти млн", 3_000_000, 5_000_000),
        ("1/2 ляма", 500_000, 500_000),
        ("не 5 млн, а 3", 3_000_000, 3_000_000),
    ],
)
def test_russian_word_orders_and_forms(text: str, low: float, high: float) -> None:
    money = parse_money(text, "ru")
    assert money is not None
    assert (money.min, money.max) == (low, high)


@pytest.mark.parametrize("text", ["не 5 млн", "-5000", "минус 100 тысяч", "certainly not 50k"])
def test_negated_and_negative_amounts_are_not_understood(text: str) -> None:
    assert parse_money(text, "ru") is None


def test_open_ended_budgets_have_no_upper_end_and_are_not_zero() -> None:
    for text in ("без ограничений", "нет ограничений", "whatever it takes", "no budget limit"):
        money = parse_money(text, "ru")
        assert money == Money(None, None, None, unlimited=True), text


@pytest.mark.parametrize(
    ("text", "vague"), [("тыщ 300", True), ("около 2 млн", True), ("2 000 000 руб", False)]
)
def test_an_amount_said_vaguely_is_marked_approximate(text: str, vague: bool) -> None:
    money = parse_money(text, "ru")
    assert money is not None
    assert money.approximate is vague
