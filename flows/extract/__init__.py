"""Typed-answer understanding: money, numbers, timelines, yes/no, contacts, choices (ru, en).

Pure code: no I/O at call time (the domain lists in ``data/`` are read once, at import).
Every function here accepts any ``str`` and never raises on it (``parse`` and ``read`` raise
ValueError only for an unknown kind or malformed options). ``flows.extract.kinds`` is the one
table through which both the engine and ``qualibot parse`` read answers.
"""

from flows.extract.answers import choice_options, parse
from flows.extract.choices import ChoiceOption, ChoiceReading, match_choices, read_choice
from flows.extract.contacts import email_flags, parse_email, parse_phone
from flows.extract.junk import is_lowercase_name, looks_gibberish
from flows.extract.kinds import KINDS, Reading, read
from flows.extract.money import Money, parse_money
from flows.extract.names import parse_name
from flows.extract.numbers import parse_number
from flows.extract.text import clean_text
from flows.extract.timeline import parse_timeline
from flows.extract.yes_no import parse_yes_no, read_yes_no

__all__ = [
    "KINDS",
    "ChoiceOption",
    "ChoiceReading",
    "Money",
    "Reading",
    "choice_options",
    "clean_text",
    "email_flags",
    "is_lowercase_name",
    "looks_gibberish",
    "match_choices",
    "parse",
    "parse_email",
    "parse_money",
    "parse_name",
    "parse_number",
    "parse_phone",
    "parse_timeline",
    "parse_yes_no",
    "read",
    "read_choice",
    "read_yes_no",
]
