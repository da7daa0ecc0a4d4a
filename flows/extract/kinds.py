"""One table of kinds: how a typed answer of each question kind is read.

``read(kind, text, locale, now, options=...)`` gives a ``Reading``: whether the answer was
understood, the value as an answer stores it, and the facts ``qualibot parse`` shows. The engine
reads every typed answer through here and ``qualibot parse`` prints the same readings, so a
phrase one of them understands the other understands too.

Kinds and their values: ``money`` ``{"min", "max", "currency"}`` (plus ``"unlimited": true``
for a budget with no upper end); ``number`` a float; ``timeline`` days from ``now``;
``yes_no`` a bool; ``email``, ``phone`` (E.164), ``name``, ``company``, ``text`` a string;
``choice`` and ``multi_choice`` a list of option ids, read against ``options``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from flows.extract.choices import ChoiceOption, read_choice
from flows.extract.contacts import email_flags, parse_email, parse_phone
from flows.extract.junk import is_lowercase_name, looks_gibberish
from flows.extract.money import parse_money
from flows.extract.names import parse_name
from flows.extract.numbers import parse_number
from flows.extract.timeline import parse_timeline
from flows.extract.yes_no import read_yes_no

MAX_VALUE_CHARS: Final = 200
"""A name or a company is kept to this many characters."""
_MAX_SAFE_INTEGER: Final = 2**53


class Reading(NamedTuple):
    """What one typed answer says.

    ``value`` is the answer's value in JSON form (None when not understood); ``facts`` are the
    further fields ``qualibot parse`` prints (free/disposable e-mail, gibberish, lowercase name,
    the options a single choice could mean). ``certain`` is False for a hedged yes/no or a fuzzy
    choice; ``approximate`` when an amount was said vaguely ("около", "тыщ 300"); ``clarify``
    holds the two options an ambiguous choice could mean.
    """

    understood: bool
    value: Any = None
    facts: Mapping[str, Any] = MappingProxyType({})
    certain: bool = True
    approximate: bool = False
    clarify: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"understood": self.understood, **self.facts}


def _json_number(value: float | None) -> int | float | None:
    """Whole numbers as ints (2000000, not 2000000.0); others stay floats."""
    if value is not None and value.is_integer() and abs(value) < _MAX_SAFE_INTEGER:
        return int(value)
    return value


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


Context = Sequence[ChoiceOption]


class _Asked(NamedTuple):
    """One answer to read, with everything a reader of some kind may need."""

    text: str
    locale: str
    now: datetime
    options: Context
    detail: bool


_Reader = Callable[[_Asked], Reading]


def _money(asked: _Asked) -> Reading:
    money = parse_money(asked.text, asked.locale)
    if money is None or not (money.unlimited or _finite(money.midpoint())):
        return Reading(False, facts={"min": None, "max": None, "currency": None, "unlimited": False})
    low, high = _json_number(money.min), _json_number(money.max)
    value: dict[str, Any] = {"min": low, "max": high, "currency": money.currency}
    if money.unlimited:
        value["unlimited"] = True
    facts = {"min": low, "max": high, "currency": money.currency, "unlimited": money.unlimited}
    return Reading(True, value, facts, approximate=money.approximate)


def _number(asked: _Asked) -> Reading:
    value = parse_number(asked.text, asked.locale)
    if not _finite(value):
        return Reading(False, facts={"value": None})
    return Reading(True, value, {"value": _json_number(value)})


def _timeline(asked: _Asked) -> Reading:
    days = parse_timeline(asked.text, asked.locale, asked.now)
    return Reading(days is not None, days, {"days": days})


def _yes_no(asked: _Asked) -> Reading:
    said, certain = read_yes_no(asked.text)
    if said is None and asked.options:
        picked = read_choice(asked.text, asked.options, multi=False).ids
        if len(picked) == 1 and picked[0] in ("yes", "no"):
            said, certain = picked[0] == "yes", True
    return Reading(said is not None, said, {"value": said, "certain": certain}, certain=certain)


def _email(asked: _Asked) -> Reading:
    email = parse_email(asked.text)
    if email is None:
        return Reading(False, facts={"value": None, "free": None, "disposable": None})
    if not asked.detail:
        return Reading(True, email)
    free, disposable = email_flags(email)
    return Reading(True, email, {"value": email, "free": free, "disposable": disposable})


def _phone(asked: _Asked) -> Reading:
    phone = parse_phone(asked.text, asked.locale)
    return Reading(phone is not None, phone, {"value": phone})


def _name(asked: _Asked) -> Reading:
    name = parse_name(asked.text[:MAX_VALUE_CHARS])
    if not asked.detail:
        return Reading(name is not None, name)
    facts = {
        "value": name,
        "lowercase": is_lowercase_name(name) if name else False,
        "gibberish": looks_gibberish(asked.text),
    }
    return Reading(name is not None, name, facts)


def _company(asked: _Asked) -> Reading:
    company = asked.text[:MAX_VALUE_CHARS].strip()
    facts = {"value": company or None, "gibberish": looks_gibberish(asked.text)} if asked.detail else {}
    return Reading(bool(company), company or None, facts)


def _text(asked: _Asked) -> Reading:
    text = asked.text
    facts = {"value": text or None, "gibberish": looks_gibberish(text)} if asked.detail else {}
    return Reading(bool(text), text or None, facts)


def _choice(multi: bool) -> _Reader:
    def read(asked: _Asked) -> Reading:
        reading = read_choice(asked.text, asked.options, multi=multi)
        facts = {"ids": list(reading.ids), "clarify": list(reading.clarify), "certain": reading.certain}
        return Reading(
            bool(reading.ids),
            list(reading.ids) or None,
            facts,
            certain=reading.certain,
            clarify=reading.clarify,
        )

    return read


_KINDS: Final[dict[str, _Reader]] = {
    "money": _money,
    "number": _number,
    "timeline": _timeline,
    "yes_no": _yes_no,
    "email": _email,
    "phone": _phone,
    "name": _name,
    "company": _company,
    "text": _text,
    "choice": _choice(multi=False),
    "multi_choice": _choice(multi=True),
}
KINDS: Final = tuple(_KINDS)


def read(
    kind: str, text: str, locale: str, now: datetime, options: Context = (), *, detail: bool = False
) -> Reading:
    """Read one cleaned answer of the given kind (see the module docstring). Unknown kinds raise
    ValueError. ``options`` are a choice question's options (for ``yes_no``, its labelled yes/no
    options, if any). ``detail`` adds the facts only ``qualibot parse`` shows (free e-mail,
    gibberish, lowercase name): whether an answer is understood, and as what, never depends on it."""
    reader = _KINDS.get(kind)
    if reader is None:
        raise ValueError(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    return reader(_Asked(text, locale, now, options, detail))
