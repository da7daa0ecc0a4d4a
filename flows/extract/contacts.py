"""E-mail addresses and phone numbers typed in a chat, checked by email-validator and phonenumbers."""

from __future__ import annotations

import re
from importlib import resources
from typing import Final

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_MAX_EMAIL_INPUT: Final = 1000
_MAX_PHONE_INPUT: Final = 200  # phonenumbers refuses more than 250 characters anyway
_MIN_PHONE_DIGITS: Final = 5
_MAX_PHONE_DIGITS: Final = 20

_EMAIL_CANDIDATE_RE: Final = re.compile(r"[^\s<>()\[\]{},;:\"'`]+@[^\s<>()\[\]{},;:\"'`]+")
_EMAIL_TRIM: Final = " \t\r\n<>()[]{}\"'`.,;:!?"
_DIGIT_RE: Final = re.compile(r"\d")

_PHONE_REGIONS: Final[dict[str, tuple[str | None, ...]]] = {"ru": ("RU",), "en": (None, "US", "GB")}
_E164: Final = phonenumbers.PhoneNumberFormat.E164


def _domains(name: str) -> frozenset[str]:
    text = (resources.files("flows.extract") / "data" / name).read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


FREE_EMAIL_DOMAINS: Final = _domains("free_email_domains.txt")
DISPOSABLE_EMAIL_DOMAINS: Final = _domains("disposable_email_domains.txt")


def parse_email(text: str) -> str | None:
    """The e-mail address in a typed answer, normalised and lower-cased, or None if there is none.

    Surrounding words, brackets and punctuation are tolerated ("пишите на <Ivan@Mail.ru>.").
    Syntax only, with email-validator's strict length checks: no DNS lookup ever happens
    (check_deliverability=False).
    """
    text = text[:_MAX_EMAIL_INPUT]
    if "@" not in text:
        return None
    match = _EMAIL_CANDIDATE_RE.search(text)
    if match is None:
        return None
    try:
        result = validate_email(match.group().strip(_EMAIL_TRIM), check_deliverability=False, strict=True)
    except (EmailNotValidError, ValueError, UnicodeError):
        return None
    return result.normalized.lower()


def email_flags(email: str) -> tuple[bool, bool]:
    """(free_domain, disposable_domain) for an address: gmail.com is free, mailinator.com disposable.

    A subdomain of a disposable domain is disposable too; free domains match exactly.
    """
    domain = email.rpartition("@")[2].strip().rstrip(".").lower()
    if not domain:
        return (False, False)
    labels = domain.split(".")
    disposable = any(".".join(labels[k:]) in DISPOSABLE_EMAIL_DOMAINS for k in range(len(labels) - 1))
    return (domain in FREE_EMAIL_DOMAINS, disposable)


def parse_phone(text: str, locale: str) -> str | None:
    """A phone number in E.164 ("+79161234567"), or None.

    ru reads national numbers as Russian ("8 (916) 123-45-67"); en accepts international
    numbers, then tries US, then GB. A number phonenumbers considers valid is preferred; one
    that is only of a possible length is accepted when no region gives a valid one, and only
    as read the first way (Russian for ru, international for en): a guessed region must
    give a valid number, or "555-2671" would pass as a British one.
    """
    text = text.strip()[:_MAX_PHONE_INPUT]
    digits = len(_DIGIT_RE.findall(text))
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
        return None
    possible: phonenumbers.PhoneNumber | None = None
    for attempt, region in enumerate(_PHONE_REGIONS.get(locale, _PHONE_REGIONS["en"])):
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, _E164)
        if attempt == 0 and _possible(number):
            possible = number
    return phonenumbers.format_number(possible, _E164) if possible is not None else None


def _possible(number: phonenumbers.PhoneNumber) -> bool:
    reason = phonenumbers.is_possible_number_with_reason(number)
    return bool(reason == phonenumbers.ValidationResult.IS_POSSIBLE)
