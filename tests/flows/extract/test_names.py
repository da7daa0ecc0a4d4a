"""parse_name: the name in an answer, without its introduction; things that are not names."""

from __future__ import annotations

import pytest

from flows.extract import parse_name


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Анна", "Анна"),
        ("меня зовут Анна", "Анна"),
        ("меня Петя зовут", "Петя"),
        ("I'm John Smith.", "John Smith"),
        ("Иван, менеджер по закупкам", "Иван"),
        ("Петров, Иван", "Петров, Иван"),
        ("Анна-Мария", "Анна-Мария"),
    ],
)
def test_names(text: str, name: str) -> None:
    assert parse_name(text) == name


@pytest.mark.parametrize(
    "text",
    [
        ".",
        "123",
        "ivan@mail.ru",
        "+7 903 123-45-67",
        "не скажу",
        "не знаю, сложно сказать",
        "no",
        "asdfgh",
        "я бы не хотел это говорить",
    ],
)
def test_not_names(text: str) -> None:
    assert parse_name(text) is None
