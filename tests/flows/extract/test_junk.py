"""looks_gibberish and is_lowercase_name: junk signals without punishing real answers."""

from __future__ import annotations

import pytest

from flows.extract import is_lowercase_name, looks_gibberish

MASH = [
    "asdfgh", "ывапролд", "qwerty123", "ааааа", "jkdfhkjsdf", "aksjdhaksjd", "фывфыв", "hahaha",
    "sdfsdf", "zxcvb", "ghjkl", "лвоарлвоар", "asd asd asd", "ккккк", "fdsfdsf", "dfgdfg",
    "ячсмить", "hjkhjk", "zzzzzz", "ха ха ха ха", "poiuy", "ЙЦУКЕН",
]  # fmt: skip
REAL = [
    "да", "нет", "IBM", "CEO", "CRM", "ООО Ромашка", "Иван Петров", "Anastasia Kuznetsova", "strengths",
    "typewriter", "Яндекс", "Газпромнефть", "директор по развитию", "здравствуйте", "бодрствовать",
    "Достоевский", "McDonald's", "HTML", "Schwarzkopf", "Rhythm", "водопад", "Dallas", "alaska",
    "B2B SaaS", "1С-Битрикс", "Brzęczyszczykiewicz", "Mkrtchyan", "Knightsbridge", "Пятёрочка",
    "PricewaterhouseCoopers", "Нужна CRM для отдела продаж, сейчас всё в Excel", "Sjöström",
    "Ли Вэй", "Nguyen", "AAA Logistics", "123456", "🤷", "", "...",
]  # fmt: skip


@pytest.mark.parametrize("text", MASH)
def test_mash_is_gibberish(text: str) -> None:
    assert looks_gibberish(text)


@pytest.mark.parametrize("text", REAL)
def test_real_answers_are_not(text: str) -> None:
    assert not looks_gibberish(text)


def test_mostly_real_text_with_a_mashed_word_is_not() -> None:
    assert not looks_gibberish("Компания Газпромнефть, отдел закупок, asdf")
    assert looks_gibberish("asdfgh jkl ывапр ok")


@pytest.mark.parametrize(
    ("name", "lowercase"),
    [
        ("иван петров", True),
        ("ivan", True),
        ("Иван Петров", False),
        ("Иван петров", False),
        ("ИВАН", False),
        ("", False),
        ("123", False),
        ("🤷", False),
        ("о'коннор", True),
    ],
)
def test_is_lowercase_name(name: str, lowercase: bool) -> None:
    assert is_lowercase_name(name) is lowercase
