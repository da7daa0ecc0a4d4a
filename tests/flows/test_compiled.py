"""A loaded flow version compiled once: the catalog's one object per version, its per-locale
texts, its tables, and the engine's rules that the simulator follows too."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.catalog import FlowCatalog
from flows.compiled import CompiledFlow
from flows.engine import closing_index, knockout_of, next_question
from flows.machine import DONE, NEW
from flows.model import Answer
from flows.scoring import highest_total

MANAGER = {"role": Answer("role", "Менеджер", ["manager"])}


def test_the_catalog_compiles_a_version_once(fixtures_dir: Path) -> None:
    source = (fixtures_dir / "mini.yaml").read_text(encoding="utf-8")
    catalog = FlowCatalog()
    added = catalog.add(source)
    assert catalog.add(source).flow is added.flow
    assert catalog.pin(source).flow is added.flow
    assert catalog.version("mini", 1) is added
    assert added.flow.spec is added.spec
    other = FlowCatalog().add(source)
    assert other.flow is not added.flow
    assert other.flow.machine is not added.flow.machine


def test_texts_are_worked_out_for_every_locale_of_the_flow(mini: CompiledFlow) -> None:
    assert set(mini.locales) == {"ru", "en"}
    ru, en = mini.texts("ru"), mini.texts("en")
    assert (ru.greeting, en.greeting) == ("Здравствуйте!", "Hello!")
    budget_ru, budget_en = ru.questions["budget"], en.questions["budget"]
    assert (budget_ru.text, budget_en.text) == ("Какой бюджет?", "What budget?")
    assert [b.id for b in budget_ru.buttons] == ["band:0", "band:1", "band:2"]
    assert [b.label for b in budget_en.buttons] == ["No budget", "under 1M", "1M or more"]
    assert budget_ru.hint == "Напишите сумму в рублях", "the question's own hint"
    assert ru.questions["role"].hint == "Выберите вариант кнопкой или напишите его своими словами."
    assert ru.questions["company"].buttons[-1].id == "cmd:skip"
    assert ru.questions["demo"].labels == {"yes": "Да, покажите", "no": "Нет"}
    assert ru.knockouts["student"] == "Мы работаем с компаниями."
    assert en.closings == tuple(c.text["en"] for c in mini.spec.closings)
    assert ru.breakdown.dimensions["budget"] == "Бюджет"
    assert en.breakdown.units["budget"] == "{} RUB"


def test_a_locale_the_flow_lacks_falls_back_to_its_texts(mini: CompiledFlow) -> None:
    assert "de" not in mini.locales
    de = mini.texts("de")
    assert de.questions["budget"].text in ("Какой бюджет?", "What budget?")
    assert de.greeting in ("Здравствуйте!", "Hello!")


def test_each_question_knows_its_knockouts_and_what_progress_counts_after_it(mini: CompiledFlow) -> None:
    by_id = mini.question_by_id
    assert dict(by_id["role"].option_knockouts) == {"student": "student"}
    assert by_id["budget"].band_knockouts
    assert not by_id["team"].band_knockouts
    assert by_id["role"].maybe_after == (by_id["approver"].ask_if,)
    assert by_id["role"].always_after == len(mini.questions) - 3
    assert [q.index for q in mini.questions] == list(range(len(mini.questions)))
    assert (by_id["email"].input, by_id["need"].multi, by_id["comment"].input) == ("email", True, "text")


def test_next_question_follows_ask_if_and_ends_at_done(mini: CompiledFlow) -> None:
    assert next_question(mini, NEW, {}, {}) == "budget"
    assert next_question(mini, "role", {}, {}) == "need"
    assert next_question(mini, "role", MANAGER, {}) == "approver"
    assert next_question(mini, "comment", {}, {}) == DONE


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        ("role", Answer("role", "Студент", ["student"]), "student"),
        ("role", Answer("role", "Менеджер", ["manager"]), None),
        ("budget", Answer("budget", "0", {"min": 0, "max": 0, "currency": "RUB"}), "no_budget"),
        ("budget", Answer("budget", "2 млн", {"min": 2e6, "max": 2e6, "currency": "RUB"}), None),
        ("email", Answer("email", "???", None, understood=False), "no_contact"),
        ("email", Answer("email", "", None, skipped=True), None),
        ("timing", Answer("timing", "через 3 года", 1095), "far_future"),
        ("timing", Answer("timing", "через месяц", 30), None),
    ],
)
def test_knockout_of_an_answer(
    mini: CompiledFlow, question: str, answer: Answer, expected: str | None
) -> None:
    answers = {question: answer}
    assert knockout_of(mini, mini.question_by_id[question], answer, answers, {}) == expected


def test_closing_index_takes_the_tier_then_the_stage_fallback(mini: CompiledFlow) -> None:
    closings = mini.spec.closings
    sql_a = closing_index(mini, "sql", "A", {}, {})
    sql_b = closing_index(mini, "sql", "B", {}, {})
    assert sql_a is not None
    assert (closings[sql_a].stage, closings[sql_a].tier) == ("sql", "A")
    assert sql_b is not None
    assert (closings[sql_b].stage, closings[sql_b].tier) == ("sql", None)
    assert closing_index(mini, "in_progress", None, {}, {}) is None


def test_the_highest_total_counts_what_scoring_can_give(mini: CompiledFlow, puzzle: CompiledFlow) -> None:
    assert highest_total(mini) == 100
    # Puzzle: pain 25 + 20 capped at 30, process 30, money 20, and 20 for a returning visitor.
    assert highest_total(puzzle) == 100
    assert highest_total(puzzle, with_knockouts=False) == 100
