"""One entry point for every kind of typed answer, returning JSON-ready dicts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from flows.extract.contacts import email_flags, parse_email, parse_phone
from flows.extract.junk import is_lowercase_name, looks_gibberish
from flows.extract.money import parse_money
from flows.extract.numbers import parse_number
from flows.extract.text import clean_text
from flows.extract.timeline import parse_timeline
from flows.extract.yes_no import parse_yes_no

_MAX_SAFE_INTEGER: Final = 2**53


def _json_number(value: float | None) -> int | float | None:
    """Whole numbers as ints (2000000, not 2000000.0); others stay floats."""
    if value is not None and value.is_integer() and abs(value) < _MAX_SAFE_INTEGER:
        return int(value)
    return value


def _money(text: str, locale: str, now: datetime) -> dict[str, object]:
    money = parse_money(text, locale)
    if money is None:
        return {"understood": False, "min": None, "max": None, "currency": None}
    return {
        "understood": True,
        "min": _json_number(money.min),
        "max": _json_number(money.max),
        "currency": money.currency,
    }


def _number(text: str, locale: str, now: datetime) -> dict[str, object]:
    value = parse_number(text, locale)
    return {"understood": value is not None, "value": _json_number(value)}


def _timeline(text: str, locale: str, now: datetime) -> dict[str, object]:
    days = parse_timeline(text, locale, now)
    return {"understood": days is not None, "days": days}


def _yes_no(text: str, locale: str, now: datetime) -> dict[str, object]:
    value = parse_yes_no(text, locale)
    return {"understood": value is not None, "value": value}


def _email(text: str, locale: str, now: datetime) -> dict[str, object]:
    email = parse_email(text)
    if email is None:
        return {"understood": False, "value": None, "free": None, "disposable": None}
    free, disposable = email_flags(email)
    return {"understood": True, "value": email, "free": free, "disposable": disposable}


def _phone(text: str, locale: str, now: datetime) -> dict[str, object]:
    phone = parse_phone(text, locale)
    return {"understood": phone is not None, "value": phone}


def _name(text: str, locale: str, now: datetime) -> dict[str, object]:
    return {
        "understood": bool(text),
        "value": text or None,
        "lowercase": is_lowercase_name(text),
        "gibberish": looks_gibberish(text),
    }


def _free_text(text: str, locale: str, now: datetime) -> dict[str, object]:
    return {"understood": bool(text), "value": text or None, "gibberish": looks_gibberish(text)}


_KINDS: Final[dict[str, Callable[[str, str, datetime], dict[str, object]]]] = {
    "money": _money,
    "number": _number,
    "timeline": _timeline,
    "yes_no": _yes_no,
    "email": _email,
    "phone": _phone,
    "name": _name,
    "company": _free_text,
    "text": _free_text,
}
KINDS: Final = tuple(_KINDS)


def parse(kind: str, text: str, locale: str = "ru", now: datetime | None = None) -> dict[str, object]:
    """Understand one typed answer of the given kind; the result is ready for ``json.dumps``.

    Every result has "understood" (bool) plus, by kind:

    * money: "min", "max", "currency"; number: "value"; timeline: "days"; yes_no: "value";
    * email: "value", "free", "disposable"; phone: "value" (E.164);
    * name, company, text: "value" (the cleaned text), "gibberish"; name also "lowercase".

    Fields are null when the answer was not understood. Amounts that are whole numbers come
    as ints. The text is cleaned first (``clean_text``: no markup, no control characters).
    ``now`` defaults to the current UTC time. Unknown kinds raise ValueError.
    """
    handler = _KINDS.get(kind)
    if handler is None:
        raise ValueError(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    return handler(clean_text(text), locale, now if now is not None else datetime.now(UTC))
