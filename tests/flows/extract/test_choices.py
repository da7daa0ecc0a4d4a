"""match_choices: numbers, labels, synonyms, fuzzy typos; ambiguity gives ()."""

from __future__ import annotations

import pytest

from flows.extract import match_choices

TOOLS = [
    ("crm", ["CRM", "црм"]),
    ("analytics", ["Аналитика", "отчёты"]),
    ("bot", ["Чат-бот", "бот"]),
    ("other", ["Другое"]),
]
DEPARTMENTS = [("both", ["Продажи и маркетинг"]), ("sales", ["Продажи"]), ("marketing", ["Маркетинг"])]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("1", ("crm",)),
        ("#2", ("analytics",)),
        ("№ 3", ("bot",)),
        ("4.", ("other",)),
        ("2-й", ("analytics",)),
        ("вариант номер два", ()),
        ("третий вариант", ("bot",)),
        ("последний", ("other",)),
        ("0", ()),
        ("12", ()),
        ("ОТЧЁТЫ", ("analytics",)),
        ("отчеты", ("analytics",)),
        ("хочу чат-бота", ("bot",)),
        ("чат бот", ("bot",)),
        ("crm или бот", ()),
        ("   ", ()),
        ("!!!", ()),
    ],
)
def test_single(text: str, ids: tuple[str, ...]) -> None:
    assert match_choices(text, TOOLS, "ru", multi=False) == ids


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("1,2", ("crm", "analytics")),
        ("3 1", ("crm", "bot")),
        ("2; 4", ("analytics", "other")),
        ("все", ("crm", "analytics", "bot", "other")),
        ("всё", ("crm", "analytics", "bot", "other")),
        ("бот + отчеты", ("analytics", "bot")),
        ("аналитка, црм", ("crm", "analytics")),
        ("ничего", ()),
    ],
)
def test_multi(text: str, ids: tuple[str, ...]) -> None:
    assert match_choices(text, TOOLS, "ru", multi=True) == ids


def test_a_label_with_and_is_not_split_into_its_neighbours() -> None:
    assert match_choices("Продажи и маркетинг", DEPARTMENTS, "ru", multi=True) == ("both",)
    assert match_choices("у нас продажи и маркетинг", DEPARTMENTS, "ru", multi=True) == ("both",)
    assert match_choices("продажи, маркетинг", DEPARTMENTS, "ru", multi=True) == ("sales", "marketing")


def test_a_longer_synonym_wins_over_the_one_inside_it() -> None:
    roles = [("ceo", ["директор"]), ("cco", ["коммерческий директор"])]
    assert match_choices("я коммерческий директор", roles, "ru", multi=False) == ("cco",)
    assert match_choices("директор", roles, "ru", multi=False) == ("ceo",)


def test_near_tie_in_fuzzy_matching_is_ambiguous() -> None:
    options = [("a", ["Маркетинг"]), ("b", ["Маркетинги"])]
    assert match_choices("маркетинн", options, "ru", multi=False) == ()


def test_a_label_that_is_all_is_chosen_by_name() -> None:
    options = [("some", ["Некоторые"]), ("all", ["Все"])]
    assert match_choices("все", options, "ru", multi=True) == ("all",)


def test_accepts_any_sequences_and_odd_option_sets() -> None:
    assert match_choices("2", (("a", ("x",)), ("b", ("y",))), "en", multi=False) == ("b",)
    assert match_choices("x", [], "en", multi=False) == ()
    assert match_choices("x", [("a", [])], "en", multi=True) == ()
    assert match_choices("y", [("a", ["", "  "]), ("b", ["y"])], "en", multi=False) == ("b",)
