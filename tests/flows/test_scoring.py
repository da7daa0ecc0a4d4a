"""The score: explainable lines, caps, engagement, junk, stages (incl. N-of-M) and tiers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from flows.compiled import CompiledFlow, compile_flow
from flows.model import Answer, ConversationState, Score, ScoreLine, Stage
from flows.scoring import score


def state(
    spec: CompiledFlow, locale: str = "ru", facts: dict[str, Any] | None = None, **answers: Any
) -> ConversationState:
    """A finished conversation with ``answers`` given as ``qid=(raw, value)`` or an Answer."""
    built = {qid: a if isinstance(a, Answer) else Answer(qid, a[0], a[1]) for qid, a in answers.items()}
    return ConversationState(spec.id, spec.version, locale, state="done", answers=built, facts=facts or {})


def money(amount: float, currency: str | None = None) -> dict[str, Any]:
    return {"min": amount, "max": amount, "currency": currency}


def lines(result: Score, category: str | None = None) -> list[tuple[str, int]]:
    """The points lines (every line but the leading one), or those of ``category``."""
    return [
        (line.source, line.points)
        for line in result.breakdown
        if line.category == category or (category is None and line.category != "summary")
    ]


def points_lines(result: Score) -> list[ScoreLine]:
    return [line for line in result.breakdown if line.category != "summary"]


def assert_consistent(result: Score) -> None:
    assert result.total == sum(line.points for line in result.breakdown)
    assert 0 <= result.total <= 100


STRONG: dict[str, Any] = {
    "budget": ("2 млн", money(2_000_000)),
    "role": ("я директор", ["owner"]),
    "need": ("Заявки, Скорость", ["leads", "speed"]),
    "team": ("12", 12),
    "timing": ("через неделю", 7),
    "demo": ("Да", True),
    "name": ("Иван", "Иван"),
    "email": ("ivan@acme.ru", "ivan@acme.ru"),
    "company": ("Acme", "Acme"),
    "phone": ("+7 999 123-45-67", "+79991234567"),
    "comment": ("Позвоните утром", "Позвоните утром"),
}


def test_fit_lines_name_the_answer_the_value_and_the_points(mini: CompiledFlow) -> None:
    result = score(mini, state(mini, budget=("500 тыс", money(500_000)), role=("я директор", ["owner"])))
    budget, role = points_lines(result)
    assert (budget.category, budget.source, budget.dimension) == ("fit", "budget", "budget")
    assert (budget.answer, budget.value, budget.points, budget.max_points) == (
        "500 тыс",
        money(500_000),
        10,
        30,
    )
    # As typed, what it was understood as, the band it fell in, and the points.
    assert budget.reason == "Бюджет: «500 тыс» → 500 000 ₽ (до 1 млн): +10 из 30"
    assert role.reason == "Полномочия: «я директор» → Собственник: +20 из 20"
    assert_consistent(result)


def test_option_and_band_reasons_win_over_generated_ones(mini: CompiledFlow) -> None:
    result = score(mini, state(mini, budget=("2 млн", money(2_000_000))))
    assert points_lines(result)[0].reason == "Крупный бюджет: +30 из 30"
    assert points_lines(result)[0].points == 30


def test_reasons_follow_the_requested_locale(mini: CompiledFlow) -> None:
    ru_state = state(mini, budget=("500k", money(500_000)), team=("12", 12))
    english = score(mini, ru_state, locale="en")
    budget, team = points_lines(english)
    assert budget.reason == 'Budget: "500k" → 500,000 RUB (under 1M): +10 of 30'
    assert team.reason == "Need: 12 (from 10): +5 of 5"  # typed as it was understood: said once


def test_foreign_money_is_converted_and_shown_both_ways(mini: CompiledFlow) -> None:
    result = score(mini, state(mini, budget=("$15k", money(15_000, "USD"))), locale="en")
    line = points_lines(result)[0]
    assert line.points == 30
    assert "Budget: $15,000 ≈ 1,500,000 RUB" in result.breakdown[0].reason
    ru = score(mini, state(mini, budget=("$15k", money(15_000, "USD"))))
    assert points_lines(ru)[0].reason == "Крупный бюджет: +30 из 30"
    assert "Бюджет: 15 000 $ ≈ 1 500 000 ₽" in ru.breakdown[0].reason
    # A currency without a rate is named as it is, never shown as roubles.
    unknown = points_lines(score(mini, state(mini, budget=("15k ZZZ", money(15_000, "ZZZ")))))[0]
    assert unknown.points == 10
    assert unknown.reason == "Бюджет: «15k ZZZ» → 15 000 ZZZ (до 1 млн): +10 из 30"


def test_timeline_bands_and_yes_no(mini: CompiledFlow) -> None:
    result = score(mini, state(mini, timing=("через неделю", 7), demo=("да", True)))
    # The demo question gives no points: no "+0 из 0" line, but the leading line names it.
    assert lines(result, "fit") == [("timing", 15)]
    assert points_lines(result)[0].reason == "Сроки: «через неделю» → через 7 дн. (В этом месяце): +15 из 15"
    assert result.breakdown[0].reason.endswith("— Сроки: через 7 дн. · Да, покажите")


def test_unknown_and_skipped_answers_give_zero_with_a_line(mini: CompiledFlow) -> None:
    result = score(
        mini,
        state(
            mini,
            budget=Answer("budget", "секрет", None, understood=False),
            company=Answer("company", "", None, skipped=True),
        ),
    )
    # A skipped company could give nothing: no line for it.
    assert lines(result, "fit") == [("budget", 0)]
    assert points_lines(result)[0].reason == "Бюджет: «секрет» — ответ не понят: +0 из 30"
    skipped = score(mini, state(mini, budget=Answer("budget", "", None, skipped=True)))
    assert points_lines(skipped)[0].reason == "Бюджет: — пропущено: +0 из 30"


def test_a_dimension_over_its_weight_is_capped_with_a_line(mini: CompiledFlow) -> None:
    result = score(mini, state(mini, need=("x", ["leads", "speed", "reports"]), team=("12", 12)))
    assert lines(result) == [("need", 15), ("team", 5), ("need", -5)]
    cap = points_lines(result)[2]
    assert (cap.category, cap.dimension, cap.reason) == (
        "cap",
        "need",
        "Потребность: не больше 15 баллов: -5",
    )
    assert result.fit == 15
    assert_consistent(result)


def test_a_dimension_below_zero_is_raised_to_zero_with_a_line(puzzle: CompiledFlow) -> None:
    result = score(puzzle, state(puzzle, pain=("нет", ["none"]), pain_cost=("нет", False)))
    assert lines(result) == [("pain", -10), ("pain_cost", 0), ("pain", 10)]
    assert points_lines(result)[2].reason == "Боль: не меньше 0 баллов: +10"
    assert result.total == 0
    assert_consistent(result)


def test_yes_no_without_options_gives_its_points_for_yes(puzzle: CompiledFlow) -> None:
    assert lines(score(puzzle, state(puzzle, pain_cost=("да", True)))) == [("pain_cost", 20)]
    assert lines(score(puzzle, state(puzzle, pain_cost=("нет", False)))) == [("pain_cost", 0)]


def test_engagement_signals_and_their_cap(mini: CompiledFlow) -> None:
    facts = {"utm_source": "google", "pages_seen": 4}
    result = score(mini, state(mini, facts=facts, **STRONG))
    assert lines(result, "engagement") == [("ads", 10), ("pages", 5), ("all", 5), ("hand", 5)]
    assert lines(result, "cap") == [("need", -2), ("engagement", -5)]
    assert result.engagement == 20
    ads = next(line for line in result.breakdown if line.source == "ads")
    assert (ads.answer, ads.value, ads.reason) == ("google", {"utm_source": "google"}, "Реклама: +10")
    assert_consistent(result)


@pytest.mark.parametrize(
    "gap",
    [
        Answer("team", "много", None, understood=False),
        Answer("team", "", None, skipped=True),
        None,
    ],
)
def test_answered_all_needs_every_askable_question_answered(mini: CompiledFlow, gap: Answer | None) -> None:
    answers = {**STRONG, "team": gap} if gap is not None else {k: v for k, v in STRONG.items() if k != "team"}
    result = score(mini, state(mini, **answers))
    assert "all" not in [source for source, _ in lines(result, "engagement")]
    assert "all" in [source for source, _ in lines(score(mini, state(mini, **STRONG)), "engagement")]


def test_junk_signals_each_count_once(mini: CompiledFlow) -> None:
    result = score(
        mini,
        state(
            mini,
            name=("иван", "иван"),
            email=("ivan@gmail.com", "ivan@gmail.com"),
            company=("фывфывфыв", "фывфывфыв"),
            comment=("ывапролджэ", "ывапролджэ"),
        ),
    )
    assert lines(result, "junk") == [("lowercase_name", -5), ("free_email", -5), ("gibberish", -10)]
    assert result.total == 0
    assert lines(result, "cap") == [("total", 20)]
    assert_consistent(result)


def test_a_disposable_email_replaces_the_free_domain_penalty(mini: CompiledFlow) -> None:
    result = score(mini, state(mini, email=("x@mailinator.com", "x@mailinator.com"), budget=STRONG["budget"]))
    assert lines(result, "junk") == [("disposable_email", -20)]
    assert result.total == 10
    assert_consistent(result)


def test_junk_can_be_switched_off(fixtures_dir: Any) -> None:
    from flows.spec import parse_flow

    text = (fixtures_dir / "mini.yaml").read_text(encoding="utf-8")
    quiet = compile_flow(parse_flow(text.replace("  mql: 40\n", "  mql: 40\n  junk: {lowercase_name: 0}\n")))
    assert lines(score(quiet, state(quiet, name=("иван", "иван"))), "junk") == []


def test_stage_nurture_mql_sql(mini: CompiledFlow) -> None:
    nurture = score(mini, state(mini, budget=("500 тыс", money(500_000)), role=("x", ["manager"])))
    assert (nurture.total, nurture.stage) == (18, Stage.NURTURE)
    mql = score(
        mini, state(mini, budget=("2 млн", money(2_000_000)), role=("x", ["manager"]), need=("x", ["speed"]))
    )
    assert (mql.total, mql.stage, mql.tier) == (42, Stage.MQL, "B")
    by_score = score(mini, state(mini, facts={"utm_source": "google"}, **{**STRONG, "demo": ("нет", False)}))
    assert by_score.total >= 75
    assert by_score.stage is Stage.SQL


def test_a_hand_raise_makes_an_mql_an_sql(mini: CompiledFlow) -> None:
    base: dict[str, Any] = {
        "budget": ("2 млн", money(2_000_000)),
        "role": ("x", ["manager"]),
        "need": ("x", ["speed"]),
    }
    raised = score(mini, state(mini, **base, demo=("да", True)))
    assert (raised.total, raised.stage) == (47, Stage.SQL), "42 fit + 5 for the hand-raise signal"
    band_raise = score(mini, state(mini, **base, timing=("завтра", 1)))
    assert band_raise.stage is Stage.SQL
    too_low = score(mini, state(mini, demo=("да", True)))
    assert (too_low.stage, too_low.hand_raise) == (Stage.MQL, True), "below the threshold: still a call"
    assert not score(mini, state(mini, **base)).hand_raise


def test_a_knockout_disqualifies_without_a_tier(mini: CompiledFlow) -> None:
    knocked = replace(state(mini, **STRONG), knockout="student")
    result = score(mini, knocked)
    assert (result.stage, result.tier, result.knockout) == (Stage.DISQUALIFIED, None, "student")
    assert_consistent(result)


def test_n_of_m_mode(puzzle: CompiledFlow) -> None:
    two: dict[str, Any] = {
        "pain": ("очень", ["lots"]),
        "process": ("x", ["crm", "scripts"]),
        "money": ("50k", money(50_000)),
    }
    result = score(puzzle, state(puzzle, **two))
    assert result.confirmed == ("pain", "process")
    assert (result.total, result.stage) == (55, Stage.MQL)
    three = score(puzzle, state(puzzle, **{**two, "money": ("1 млн", money(1_000_000))}))
    assert three.confirmed == ("pain", "process", "money")
    assert three.stage is Stage.SQL
    one = score(
        puzzle, state(puzzle, pain=("очень", ["lots"]), process=("x", ["team"]), money=("50k", money(50_000)))
    )
    assert one.confirmed == ("pain",)
    assert one.total >= puzzle.spec.scoring.mql
    assert one.stage is Stage.NURTURE


def test_confirm_at_sets_the_threshold(puzzle: CompiledFlow) -> None:
    result = score(puzzle, state(puzzle, pain=("немного", ["some"]), process=("x", ["crm"])))
    assert result.confirmed == ("process",), "pain needs 20 (confirm_at), process 15 (half of 30)"


def test_tiers_take_the_first_matching_rule(puzzle: CompiledFlow) -> None:
    full: dict[str, Any] = {
        "process": ("x", ["crm", "scripts", "team"]),
        "money": ("1 млн", money(1_000_000)),
    }
    lots = score(puzzle, state(puzzle, pain=("очень", ["lots"]), **full))
    assert (lots.total, lots.tier) == (75, "A")
    some = score(puzzle, state(puzzle, pain=("немного", ["some"]), pain_cost=("да", True), **full))
    assert (some.total, some.tier) == (80, "B"), "A needs pain=lots"
    low = score(puzzle, state(puzzle, pain=("немного", ["some"])))
    assert low.tier is None


def test_the_same_input_gives_the_same_score(mini: CompiledFlow) -> None:
    forward = state(mini, facts={"pages_seen": 5, "utm_source": "google"}, **STRONG)
    backward = state(
        mini, facts={"utm_source": "google", "pages_seen": 5}, **dict(reversed(list(STRONG.items())))
    )
    assert score(mini, forward) == score(mini, forward)
    assert score(mini, forward) == score(mini, backward)


def test_an_empty_conversation_scores_zero(mini: CompiledFlow) -> None:
    result = score(mini, ConversationState("mini", 1, "ru"))
    assert (result.total, result.fit, result.engagement, points_lines(result)) == (0, 0, 0, [])
    assert result.stage is Stage.NURTURE
    assert result.breakdown[0].reason == "Прогрев, C (0 баллов, MQL от 40)"


@pytest.mark.parametrize("value", [None, "2 млн", {"min": "x"}, {"min": float("nan"), "max": None}, [1, 2]])
def test_odd_stored_values_score_zero_not_crash(mini: CompiledFlow, value: Any) -> None:
    result = score(mini, state(mini, budget=("x", value), team=("x", value), role=("x", value)))
    assert [points for _, points in lines(result)] == [0, 0, 0]
    assert_consistent(result)
