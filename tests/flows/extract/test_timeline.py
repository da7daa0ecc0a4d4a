"""parse_timeline edge cases beyond the corpus: calendar boundaries, locales, naive clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from flows.extract import parse_timeline

NOW = datetime(2026, 11, 23, tzinfo=UTC)  # Monday, fourth quarter


def test_next_quarter_is_its_first_day_from_any_point_of_a_quarter() -> None:
    assert parse_timeline("next quarter", "en", datetime(2026, 1, 1, tzinfo=UTC)) == 90  # -> Apr 1
    assert parse_timeline("следующий квартал", "ru", datetime(2026, 3, 31, tzinfo=UTC)) == 1
    assert parse_timeline("next quarter", "en", datetime(2026, 12, 31, tzinfo=UTC)) == 1  # -> Jan 1


def test_end_of_year_on_new_years_eve_is_today() -> None:
    assert parse_timeline("к концу года", "ru", datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == 0


def test_month_already_past_means_next_year() -> None:
    assert parse_timeline("в марте", "ru", datetime(2026, 4, 10, tzinfo=UTC)) == 325  # -> 2027-03-01
    assert parse_timeline("в апреле", "ru", datetime(2026, 4, 10, tzinfo=UTC)) == 20  # under way: Apr 30


def test_slash_dates_follow_the_locale() -> None:
    assert parse_timeline("03/04", "en", NOW) == 101  # March 4
    assert parse_timeline("03/04", "ru", NOW) == 131  # 3 April
    assert parse_timeline("25/12", "en", NOW) == 32  # no 25th month: day first


def test_past_and_impossible_dates() -> None:
    assert parse_timeline("15.03.2025", "ru", NOW) == 0
    assert parse_timeline("31.02", "ru", NOW) is None
    assert parse_timeline("2026-13-01", "en", NOW) is None


def test_weekdays() -> None:
    assert parse_timeline("в понедельник", "ru", NOW) == 0
    assert parse_timeline("до среды", "ru", NOW) == 2
    assert parse_timeline("next monday", "en", NOW) == 7
    assert parse_timeline("by Sunday", "en", NOW) == 6


def test_may_is_a_month_only_where_a_month_fits() -> None:
    assert parse_timeline("we may decide soon", "en", NOW) == 30
    assert parse_timeline("in May", "en", NOW) == 159
    assert parse_timeline("May 5", "en", NOW) == 163


def test_naive_and_other_timezones() -> None:
    assert parse_timeline("через 2 недели", "ru", datetime(2026, 11, 23, 10, 0)) == 14
    moscow = timezone(timedelta(hours=3))
    assert parse_timeline("завтра", "ru", datetime(2026, 11, 23, 23, 30, tzinfo=moscow)) == 1


@pytest.mark.parametrize(
    "text", ["через 99999999999 лет", "in 10000000 days", "в 9999 году", "1" * 300 + " months"]
)
def test_absurd_spans_are_not_understood(text: str) -> None:
    assert parse_timeline(text, "ru", NOW) is None


def test_phrases_do_not_beat_an_explicit_moment() -> None:
    assert parse_timeline("срочно, до 1 декабря", "ru", NOW) == 8
    assert parse_timeline("не срочно, в течение года", "ru", NOW) == 365
    assert parse_timeline("не в этом году", "ru", NOW) == 39


def test_spans_in_several_parts_add_up() -> None:
    assert (
        parse_timeline("in 2 years and 3 months", "en", NOW) == (datetime(2029, 2, 23, tzinfo=UTC) - NOW).days
    )
    assert parse_timeline("через 1 год 6 месяцев", "ru", NOW) == parse_timeline(
        "через полтора года", "ru", NOW
    )
    assert parse_timeline("через 2 недели и 3 дня", "ru", NOW) == 17


def test_a_count_after_its_unit_and_ranges_of_one_unit() -> None:
    assert parse_timeline("недели через три", "ru", NOW) == 21
    assert parse_timeline("дня через 3", "ru", NOW) == 3
    assert parse_timeline("через неделю-две", "ru", NOW) == 11
    assert parse_timeline("черезнеделю", "ru", NOW) == 7


@pytest.mark.parametrize("text", ["год назад", "last month", "в прошлом году", "2 weeks ago", "давно уже"])
def test_a_moment_in_the_past_is_not_a_timeline(text: str) -> None:
    assert parse_timeline(text, "ru", NOW) is None


def test_the_past_beside_a_future_moment_leaves_the_future() -> None:
    assert parse_timeline("начали год назад, запуск через месяц", "ru", NOW) == 30


def test_a_clock_at_the_ends_of_the_calendar_counts_nothing() -> None:
    assert parse_timeline("через год", "ru", datetime(9999, 12, 31, tzinfo=UTC)) is None
    assert parse_timeline("через год", "ru", datetime(1, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("text", "locale"),
    [("next year", "en"), ("sometime next year", "en"), ("в следующем году", "ru"), ("в 2027 году", "ru")],
)
def test_a_whole_year_ahead_named_alone_is_its_middle_not_the_first_of_january(
    text: str, locale: str
) -> None:
    middle = (datetime(2027, 7, 2, tzinfo=UTC) - NOW).days
    assert parse_timeline(text, locale, NOW) == middle
    assert parse_timeline("early next year", "en", NOW) == (datetime(2027, 1, 1, tzinfo=UTC) - NOW).days
    assert (
        parse_timeline("к концу следующего года", "ru", NOW)
        == (datetime(2027, 12, 31, tzinfo=UTC) - NOW).days
    )
