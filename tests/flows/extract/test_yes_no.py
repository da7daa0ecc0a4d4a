"""parse_yes_no beyond the corpus: positions decide, idioms beat words, unsure wins early."""

from __future__ import annotations

import pytest

from flows.extract import parse_yes_no


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Да, но не сейчас", True),
        ("нет, но может быть позже", False),
        ("да нет проблем", True),
        ("да не знаю", None),
        ("не знаю, наверное нет", None),
        ("наверное да", True),
        ("скорее нет", False),
        ("YES!!!", True),
        ("+", True),
        ("-", False),
        ("y", True),
        ("n", False),
        ("ок, давайте", True),
        ("неа, не надо", False),
        ("так себе", None),
        ("whatever", None),
        ("😊", True),
        ("❌", False),
    ],
)
def test_yes_no(text: str, value: bool | None) -> None:
    assert parse_yes_no(text, "ru") is value


def test_locale_does_not_limit_the_language() -> None:
    assert parse_yes_no("yes", "ru") is True
    assert parse_yes_no("нет", "en") is False


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("абсолютно", True),
        ("однозначно нет", False),
        ("абсолютно нет", False),
        ("definitely", True),
        ("absolutely not", False),
        ("конечно, но не сейчас", True),
        ("точно не надо", False),
    ],
)
def test_intensifiers_stress_what_follows(text: str, value: bool) -> None:
    assert parse_yes_no(text, "ru") is value
