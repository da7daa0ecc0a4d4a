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
