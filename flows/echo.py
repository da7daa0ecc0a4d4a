"""The one line that says what a typed amount, number or timeline was understood as.

"Записал: около 300 000 ₽", "Noted: $10,000–$15,000", "Записал: к 14 декабря": shown before the
next question, so a visitor who was misread can say "нет" or "back" and correct it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Final

from flows.extract.text import word_table
from flows.spec import tr
from flows.texts import amount_words, format_number

_NOTED: Final = {"ru": "Записал: {}", "en": "Noted: {}"}
_ABOUT: Final = {"ru": "около {}", "en": "about {}"}
_FROM: Final = {"ru": "от {}", "en": "from {}"}
_UP_TO: Final = {"ru": "до {}", "en": "up to {}"}
_RANGE: Final = {"ru": "от {} до {}", "en": "{}–{}"}
_NO_BUDGET: Final = {"ru": "бюджета нет", "en": "no budget"}
_UNLIMITED: Final = {"ru": "бюджет без ограничений", "en": "a budget with no upper limit"}
_ASAP: Final = {"ru": "как можно скорее", "en": "as soon as possible"}
_IN_DAYS: Final = {"ru": "через {} дн.", "en": "in {} days"}
_IN_MONTHS: Final = {"ru": "через {} мес.", "en": "in {} months"}
_BY: Final = {"ru": "к {}", "en": "by {}"}
_MONTHS: Final = {
    "ru": word_table("января февраля марта апреля мая июня июля августа сентября октября ноября декабря"),
    "en": word_table("January February March April May June July August September October November December"),
}


def money(value: Mapping[str, Any], currency: str, locale: str, *, approximate: bool) -> str:
    """A stored money value in words: "около 300 000 ₽", "from $100,000", "без ограничений"."""
    if value.get("unlimited"):
        return tr(_UNLIMITED, locale)
    code = value.get("currency") or currency
    low, high = value.get("min"), value.get("max")
    if low == 0 and high == 0:
        return tr(_NO_BUDGET, locale)
    if low is not None and high is not None and low != high:
        if locale == "en":
            return tr(_RANGE, locale).format(
                amount_words(low, code, locale), amount_words(high, code, locale)
            )
        return tr(_RANGE, locale).format(format_number(low, locale), amount_words(high, code, locale))
    if low is not None and high is None:
        return tr(_FROM, locale).format(amount_words(low, code, locale))
    if low is None and high is not None:
        return tr(_UP_TO, locale).format(amount_words(high, code, locale))
    shown = amount_words(float(low or 0), code, locale)
    return tr(_ABOUT, locale).format(shown) if approximate else shown


def number(value: float, locale: str, *, approximate: bool) -> str:
    shown = format_number(value, locale)
    return tr(_ABOUT, locale).format(shown) if approximate else shown


def timeline(days: int, today: date, locale: str) -> str:
    """Days from today as the day they lead to: "к 14 декабря", "by 1 March 2028", "как можно скорее"."""
    if days <= 0:
        return tr(_ASAP, locale)
    target = today + timedelta(days=days)
    month = _MONTHS.get(locale, _MONTHS["en"])[target.month - 1]
    shown = f"{target.day} {month}" if target.year == today.year else f"{target.day} {month} {target.year}"
    return tr(_BY, locale).format(shown)


def days(value: float, locale: str) -> str:
    """A timeline without a date to count from: "через 14 дн.", "in 3 months", "как можно скорее"
    (in months from 60 days on)."""
    if value <= 0:
        return tr(_ASAP, locale)
    if value >= 60:
        return tr(_IN_MONTHS, locale).format(format_number(round(value / 30.4), locale))
    return tr(_IN_DAYS, locale).format(format_number(value, locale))


def noted(what: str, locale: str) -> str:
    """ "Записал: …" / "Noted: …"."""
    return tr(_NOTED, locale).format(what)
