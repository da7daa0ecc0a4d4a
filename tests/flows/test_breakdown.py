"""The breakdown as a rep reads it: one leading line saying why this stage and tier, then the
points, each answer said once, amounts as people write them, no line for what gives nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flows.compiled import CompiledFlow, compile_flow
from flows.model import Answer, Stage
from flows.scoring import restage, score
from flows.spec import parse_flow
from tests.flows.conftest import FIXTURES
from tests.flows.test_scoring import STRONG, money, points_lines, state


def edited_mini(old: str, new: str) -> CompiledFlow:
    text = (FIXTURES / "mini.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    return compile_flow(parse_flow(text.replace(old, new), "mini.yaml"))


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "ru",
            "SQL, A (100 баллов) — Бюджет: 2 000 000 ₽; Полномочия: Собственник; "
            "Потребность: Заявки, Скорость · 12; Сроки: через 7 дн. · Да, покажите",
        ),
        (
            "en",
            "SQL, A (100 points) — Budget: 2,000,000 RUB; Authority: Owner; "
            "Need: Leads, Speed · 12; Timing: in 7 days · Yes please",
        ),
    ],
)
def test_the_leading_line_says_the_stage_the_tier_and_the_answers(
    mini: CompiledFlow, locale: str, expected: str
) -> None:
    result = score(mini, state(mini, locale, facts={"utm_source": "google"}, **STRONG))
    lead = result.breakdown[0]
    assert (lead.category, lead.source, lead.points, lead.max_points) == ("summary", "stage", 0, 0)
    assert lead.value == {"stage": "sql", "tier": "A", "knockout": None}
    assert lead.reason == expected
    assert [line.category for line in result.breakdown].count("summary") == 1
    assert result.total == sum(line.points for line in result.breakdown)


def test_contacts_and_answers_that_give_nothing_have_no_points_line(mini: CompiledFlow) -> None:
    result = score(mini, state(mini, **STRONG))
    sources = [line.source for line in points_lines(result)]
    for contact in ("name", "email", "company", "phone", "comment", "demo"):
        assert contact not in sources
    assert not [line for line in points_lines(result) if line.points == 0 and line.max_points == 0]
    assert "+0 из 0" not in " ".join(line.reason for line in result.breakdown)


def test_an_answer_is_said_once_when_it_was_tapped_and_with_its_reading_when_typed(
    mini: CompiledFlow,
) -> None:
    tapped = score(mini, state(mini, role=("Собственник", ["owner"]), budget=("до 1 млн", money(500_000))))
    assert [line.reason for line in points_lines(tapped)] == [
        "Бюджет: до 1 млн: +10 из 30",
        "Полномочия: Собственник: +20 из 20",
    ]
    typed = score(mini, state(mini, role=("я директор", ["owner"]), budget=("пол ляма", money(500_000))))
    assert [line.reason for line in points_lines(typed)] == [
        "Бюджет: «пол ляма» → 500 000 ₽ (до 1 млн): +10 из 30",
        "Полномочия: «я директор» → Собственник: +20 из 20",
    ]


def test_amounts_are_written_as_people_write_them(mini: CompiledFlow) -> None:
    # A tapped band's range is never shown as a midpoint ("≈ 0,5 RUB").
    no_budget = score(mini, state(mini, budget=("Нет бюджета", {"min": 0.0, "max": 1.0, "currency": "RUB"})))
    assert points_lines(no_budget)[0].reason == "Бюджет: Нет бюджета: +0 из 30"
    ranged = score(mini, state(mini, "en", budget=("1-2M", {"min": 1e6, "max": 2e6, "currency": "RUB"})))
    assert points_lines(ranged)[0].reason == "Big budget: +30 of 30"
    assert ranged.breakdown[0].reason.endswith("— Budget: 1,000,000 RUB–2,000,000 RUB")
    unlimited = score(mini, state(mini, budget=("без ограничений", money(1e6) | {"unlimited": True})))
    assert unlimited.breakdown[0].reason.endswith("— Бюджет: бюджет без ограничений")
    dollars = score(mini, state(mini, "en", budget=("$5k", money(5_000, "USD"))))
    assert "Budget: $5,000 ≈ 500,000 RUB" in dollars.breakdown[0].reason
    later = score(mini, state(mini, timing=("через полгода", 183)))
    assert later.breakdown[0].reason.endswith("— Сроки: через 6 мес.")
    assert "≈ 0,5" not in no_budget.breakdown[0].reason + points_lines(no_budget)[0].reason


def test_a_knocked_out_lead_is_told_by_its_reason_and_the_answer(mini: CompiledFlow) -> None:
    student = replace(
        state(mini, budget=("2 млн", money(2_000_000)), role=("я студент", ["student"])),
        knockout="student",
        path=("budget", "role"),
    )
    assert score(mini, student).breakdown[0].reason == "Отсеян (student) — Полномочия: Студент"
    assert score(mini, student, "en").breakdown[0].reason == "Disqualified (student) — Authority: Student"
    silent = replace(
        state(mini, email=Answer("email", "???", None, understood=False)),
        knockout="no_contact",
        path=("email",),
    )
    assert score(mini, silent).breakdown[0].reason == "Отсеян (no_contact) — E-mail: ответ не понят"
    assert score(mini, silent).breakdown[0].value == {
        "stage": "disqualified",
        "tier": None,
        "knockout": "no_contact",
    }


def test_a_nurture_lead_says_how_far_it_is_from_mql(mini: CompiledFlow) -> None:
    result = score(mini, state(mini, budget=("500 тыс", money(500_000))))
    assert result.breakdown[0].reason == "Прогрев, C (10 баллов, MQL от 40) — Бюджет: 500 000 ₽"
    english = score(mini, state(mini, "en", budget=("500 тыс", money(500_000))))
    assert english.breakdown[0].reason == "Nurture, C (10 points, MQL from 40) — Budget: 500,000 RUB"


def test_an_mql_by_a_raised_hand_alone_says_so(mini: CompiledFlow) -> None:
    result = score(mini, state(mini, budget=("500 тыс", money(500_000)), demo=("да", True)))
    assert result.stage is Stage.MQL
    assert result.breakdown[0].reason == (
        "MQL, C (15 баллов, ниже 40, но просит связаться) — Бюджет: 500 000 ₽; Сроки: Да, покажите"
    )


def test_what_held_a_lead_back_is_named() -> None:
    held = edited_mini("  mql: 40\n", "  mql: 40\n  nurture_if: {question: timing, gte: 365}\n")
    result = score(held, state(held, **(STRONG | {"timing": ("через год", 400)})))
    assert result.stage is Stage.MQL  # the raised hand still gets a call
    assert result.breakdown[0].reason.startswith(
        "MQL, A (77 баллов, из-за ответа «через 13 мес.» был бы прогрев, но просит связаться) — "
    )
    quiet = score(held, state(held, **(STRONG | {"timing": ("через год", 400), "demo": ("нет", False)})))
    assert quiet.stage is Stage.NURTURE
    assert quiet.breakdown[0].reason.startswith(
        "Прогрев, A (72 балла, из-за ответа «через 13 мес.») — Бюджет: "
    )
    english = score(
        held, state(held, "en", **(STRONG | {"timing": ("через год", 400), "demo": ("нет", False)}))
    )
    assert english.breakdown[0].reason.startswith('Nurture, A (72 points, held back by "in 13 months") — ')
    by_fact = edited_mini("  mql: 40\n", "  mql: 40\n  nurture_if: {fact: utm_source, equals: partner}\n")
    partner = score(
        by_fact,
        state(
            by_fact,
            facts={"utm_source": "partner"},
            **(STRONG | {"timing": ("через год", 400), "demo": ("нет", False)}),
        ),
    )
    assert partner.stage is Stage.NURTURE
    assert partner.breakdown[0].reason.startswith("Прогрев, A (72 балла, по условию nurture_if) — ")
    gated = edited_mini("  mql: 40\n", "  mql: 40\n  contact_required: true\n")
    unreachable = {k: v for k, v in STRONG.items() if k not in ("email", "phone")}
    nobody = score(gated, state(gated, "en", **unreachable))
    assert nobody.stage is Stage.NURTURE
    assert "points, no e-mail or phone) — Budget: 2,000,000 RUB" in nobody.breakdown[0].reason


def test_n_of_m_mode_says_how_many_are_confirmed(puzzle: CompiledFlow) -> None:
    result = score(puzzle, state(puzzle, pain=("очень", ["lots"]), pain_cost=("да", True)))
    assert ", подтверждено 1 из 3) — " in result.breakdown[0].reason


def test_a_stage_kept_from_before_is_the_one_the_leading_line_says(mini: CompiledFlow) -> None:
    finished = state(mini, budget=("500 тыс", money(500_000)))
    result = score(mini, finished)
    kept = restage(mini, finished, result, Stage.SQL)
    assert kept.stage is Stage.SQL
    assert kept.breakdown[0].reason == "SQL, C (10 баллов) — Бюджет: 500 000 ₽"
    assert kept.breakdown[1:] == result.breakdown[1:]
    assert kept.total == result.total
    assert restage(mini, finished, result, result.stage) is result
