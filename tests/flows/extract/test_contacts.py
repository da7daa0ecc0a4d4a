"""E-mail and phone parsing, and the free/disposable domain lists shipped in data/."""

from __future__ import annotations

import pytest

from flows.extract import email_flags, parse_email, parse_phone
from flows.extract.contacts import DISPOSABLE_EMAIL_DOMAINS, FREE_EMAIL_DOMAINS


def test_domain_lists_are_loaded_and_disjoint() -> None:
    assert len(FREE_EMAIL_DOMAINS) >= 150
    assert len(DISPOSABLE_EMAIL_DOMAINS) >= 300
    assert {"gmail.com", "mail.ru", "yandex.ru", "outlook.com"} <= FREE_EMAIL_DOMAINS
    assert {"mailinator.com", "10minutemail.com", "yopmail.com"} <= DISPOSABLE_EMAIL_DOMAINS
    assert not FREE_EMAIL_DOMAINS & DISPOSABLE_EMAIL_DOMAINS
    assert all(d == d.strip().lower() and "." in d and " " not in d for d in FREE_EMAIL_DOMAINS)
    assert all(d == d.strip().lower() and "." in d and " " not in d for d in DISPOSABLE_EMAIL_DOMAINS)


@pytest.mark.parametrize(
    ("email", "flags"),
    [
        ("ivan@gmail.com", (True, False)),
        ("IVAN@Mail.Ru", (True, False)),
        ("x@mailinator.com", (False, True)),
        ("x@inbox.mailinator.com", (False, True)),
        ("ceo@romashka.ru", (False, False)),
        ("ceo@gmail.com.evil.example", (False, False)),
        ("no-at-sign", (False, False)),
        ("", (False, False)),
        ("trailing@yandex.ru.", (True, False)),
    ],
)
def test_email_flags(email: str, flags: tuple[bool, bool]) -> None:
    assert email_flags(email) == flags


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("mailto:ceo@acme.com", "ceo@acme.com"),
        ('"Ivan" <ivan@acme.com>', "ivan@acme.com"),
        ("ivan@acme.com, anna@acme.com", "ivan@acme.com"),
        ("ivan @acme.com", None),
        ("ivan@acme", None),
        ("@acme.com", None),
        ("ivan@-acme.com", None),
        ("a" * 70 + "@acme.com", None),
        ("x" * 5000 + "@acme.com", None),
    ],
)
def test_parse_email(text: str, email: str | None) -> None:
    assert parse_email(text) == email


@pytest.mark.parametrize(
    ("text", "locale", "phone"),
    [
        ("+7 (916) 123-45-67 доб. 12", "ru", "+79161234567"),
        ("8 916 1234567", "ru", "+79161234567"),
        ("+49 30 901820", "ru", "+4930901820"),
        ("07911 123456", "en", "+447911123456"),
        ("(415) 555-2671", "en", "+14155552671"),
        ("555-2671", "en", None),
        ("+7 123", "ru", None),
        ("1" * 30, "ru", None),
        ("телефон", "ru", None),
    ],
)
def test_parse_phone(text: str, locale: str, phone: str | None) -> None:
    assert parse_phone(text, locale) == phone


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("+7 903 123-45-67, лучше вечером", "+79031234567"),
        ("звоните: 8 903 123 45 67 (после 18)", "+79031234567"),
        ("+7 903 12-34-5", None),  # one digit short: not a number anyone can call
        ("+7 000 000-00-00", None),
        ("+7 903 123-45-67 или +7 916 765-43-21", None),  # which one?
    ],
)
def test_a_phone_among_words_is_found_and_a_broken_one_is_not(text: str, phone: str | None) -> None:
    assert parse_phone(text, "ru") == phone
