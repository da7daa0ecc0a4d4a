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
_ONLY_A_NUMBER_RE: Final = re.compile(r"\+?[\d\s().-]+")

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
    """The phone number in a typed answer, in E.164 ("+79161234567"), or None.

    The number may stand among words ("+7 903 123-45-67, лучше вечером", "call me at (212)
    555-0123"). Only a number phonenumbers considers valid counts: a truncated or impossible one
    ("+7 903 12-34-5", "+7 000 000-00-00") is not understood, and neither is an answer with two
    different numbers. ru reads national numbers as Russian ("8 (916) 123-45-67"); en accepts
    international numbers, then tries US, then GB.
    """
    text = text.strip()[:_MAX_PHONE_INPUT]
    digits = len(_DIGIT_RE.findall(text))
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
        return None
    regions = _PHONE_REGIONS.get(locale, _PHONE_REGIONS["en"])
    if _ONLY_A_NUMBER_RE.fullmatch(text):  # the common answer: nothing but the number
        for region in regions:
            try:
                number = phonenumbers.parse(text, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, _E164)
    for region in regions:
        found = {
            phonenumbers.format_number(match.number, _E164)
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
        }
        if len(found) == 1:
            return found.pop()
        if found:
            return None  # two numbers: which one?
    return None
