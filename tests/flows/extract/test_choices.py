"""match_choices: numbers, labels, synonyms, fuzzy typos; ambiguity gives ()."""

from __future__ import annotations

import pytest

from flows.extract import ChoiceOption, match_choices, read_choice

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


ROLE = (
    ChoiceOption("owner", ("Собственник / CEO", "я директор", "владелец", "сам решаю")),
    ChoiceOption("head", ("Руководитель направления", "коммерческий директор", "руководитель отдела")),
    ChoiceOption("specialist", ("Специалист / менеджер", "менеджер", "сотрудник")),
    ChoiceOption("student", ("Студент / исследование", "студент", "учусь"), strict=True),
    ChoiceOption("competitor", ("Делаем похожий продукт", "конкурент", "похожий продукт"), strict=True),
)
NEXT = (
    ChoiceOption("demo", ("Хочу демо", "демо", "позвоните мне", "call me"), strict=True),
    ChoiceOption("pricing", ("Пришлите цены", "цены", "pricing")),
)


@pytest.mark.parametrize(
    ("text", "ids", "clarify"),
    [
        ("директор по маркетингу", ("head",), ()),
        ("я директор по маркетингу", ("head",), ()),  # the synonym «я директор» is only its start
        ("я директор", ("owner",), ()),  # the flow's own synonym, said whole
        ("учредитель", ("owner",), ()),
        ("закупщик", ("specialist",), ()),
        ("директор", (), ("owner", "head")),  # could be either: ask which
        ("менеджер и руководитель отдела", (), ("head", "specialist")),
        ("я не директор, я менеджер", ("specialist",), ()),
        ("бывший директор, сейчас менеджер", ("specialist",), ()),
    ],
)
def test_a_job_title_is_matched_by_its_head_word_and_seniority(
    text: str, ids: tuple[str, ...], clarify: tuple[str, ...]
) -> None:
    reading = read_choice(text, ROLE, multi=False)
    assert (reading.ids, reading.clarify) == (ids, clarify)


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("я студент", ("student",)),
        ("я не студент", ()),
        ("изучаю рынок", ()),
        ("студент или менеджер, не знаю", ()),
        ("студнт", ()),  # a typo is never enough for a knock-out
        ("может быть конкурент", ()),
        ("мы конкуренты", ("competitor",)),
        ("а" * 30, ()),
    ],
)
def test_knock_outs_need_a_clear_match(text: str, ids: tuple[str, ...]) -> None:
    assert read_choice(text, ROLE, multi=False).ids == ids


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("хочу демо", ("demo",)),
        ("не надо демо", ()),
        ("демо не нужно", ()),
        ("don't call me", ()),
        ("не знаю, нужно ли демо", ()),
        ("демо не надо, пришлите цены", ("pricing",)),
    ],
)
def test_hand_raises_need_a_clear_match(text: str, ids: tuple[str, ...]) -> None:
    assert read_choice(text, NEXT, multi=False).ids == ids


def test_a_bare_yes_synonym_counts_only_for_a_clear_yes() -> None:
    options = (
        ChoiceOption("approved", ("Да, утверждён", "да", "выделен")),
        ChoiceOption("unknown", ("Пока не думали", "нет", "не знаю")),
    )
    assert read_choice("да, выделен", options, multi=False).ids == ("approved",)
    assert read_choice("наверное да", options, multi=False).ids == ()
    assert read_choice("бюджет не выделен", options, multi=False).ids == ()
    assert read_choice("нет", options, multi=False).ids == ("unknown",)


def test_negation_in_a_multi_choice_drops_only_what_it_negates() -> None:
    needs = [("leads", ["теряем заявки"]), ("slow", ["долго отвечаем"]), ("manual", ["ручная работа"])]
    assert match_choices("не теряем заявки, но долго отвечаем", needs, "ru", multi=True) == ("slow",)
    assert match_choices("не только теряем заявки, но и долго отвечаем", needs, "ru", multi=True) == (
        "leads",
        "slow",
    )


def test_fallback_phrases_are_tried_when_the_first_find_nothing() -> None:
    options = (ChoiceOption("a", ("Да",), fallback=("yes",)), ChoiceOption("b", ("Нет",), fallback=("no",)))
    assert read_choice("yes", options, multi=False).ids == ("a",)
    assert read_choice("нет", options, multi=False).ids == ("b",)
