"""Typed-answer understanding: money, numbers, timelines, yes/no, contacts, choices (ru, en).

Pure code: no I/O at call time (the domain lists in ``data/`` are read once, at import).
Every function here accepts any ``str`` and never raises on it (``parse`` raises ValueError
only for an unknown kind).
"""

from flows.extract.answers import KINDS, parse
from flows.extract.choices import match_choices
from flows.extract.contacts import email_flags, parse_email, parse_phone
from flows.extract.junk import is_lowercase_name, looks_gibberish
from flows.extract.money import Money, parse_money
from flows.extract.numbers import parse_number
from flows.extract.text import clean_text
from flows.extract.timeline import parse_timeline
from flows.extract.yes_no import parse_yes_no

__all__ = [
    "KINDS",
    "Money",
    "clean_text",
    "email_flags",
    "is_lowercase_name",
    "looks_gibberish",
    "match_choices",
    "parse",
    "parse_email",
    "parse_money",
    "parse_number",
    "parse_phone",
    "parse_timeline",
    "parse_yes_no",
]
