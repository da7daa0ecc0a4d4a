"""What ``flows check`` catches beyond the types: numbers the database cannot store or that are not
numbers at all, texts missing in a locale, currencies that do not exist, conditions that can never
hold, and typed phrases that can never choose their option. Each is one problem, on its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.spec import MAX_QUESTIONS, FlowSpecError, Problem, parse_flow

MINI = (Path(__file__).parent / "fixtures" / "mini.yaml").read_text(encoding="utf-8")
KNOCKOUT = "  - {reason: far_future, when: {question: timing, gte: 730}, "


def edit(old: str, new: str) -> str:
    assert MINI.count(old) == 1, old
    return MINI.replace(old, new)


def when(condition: str) -> str:
    """The mini flow with ``condition`` as the flow-level knock-out's ``when``."""
    return edit(KNOCKOUT, f"  - {{reason: far_future, when: {condition}, ")


def problems(text: str) -> tuple[Problem, ...]:
    with pytest.raises(FlowSpecError) as caught:
        parse_flow(text, "mini.yaml")
    return caught.value.problems


def only(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def line_of(text: str, fragment: str) -> int:
    found = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(found) == 1, (fragment, found)
    return found[0]


def test_the_mini_flow_is_valid() -> None:
    assert parse_flow(MINI, "mini.yaml").id == "mini"


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("version: 1\n", "version: 2147483648\n", "version", "less than or equal to 2147483647"),
        ("version: 1\n", "version: 0\n", "version", "greater than or equal to 1"),
        (
            "label: {ru: Менеджер, en: Manager}, points: 8}",
            "label: {ru: Менеджер, en: Manager}, points: 101}",
            "questions[1].options[1].points",
            "less than or equal to 100",
        ),
        (
            "label: {ru: Менеджер, en: Manager}, points: 8}",
            "label: {ru: Менеджер, en: Manager}, points: -1000}",
            "questions[1].options[1].points",
            "greater than or equal to -100",
        ),
        ("{max: 10, points: 0}", "{max: 10, points: 0.5}", "questions[4].bands[0].points", "valid integer"),
        (
            "{min: 10, points: 5}",
            "{min: 10, max: .inf, points: 5}",
            "questions[4].bands[1].max",
            "finite number",
        ),
        ("{min: 10, points: 5}", "{min: .nan, points: 5}", "questions[4].bands[1].min", "finite number"),
        (
            "{min: 10, points: 5}",
            "{min: 10000000000000000, points: 5}",
            "questions[4].bands[1].min",
            "less than or equal to 1000000000000000",
        ),
        (
            "points: 10, reason: {ru: Реклама",
            "points: 1000, reason: {ru: Реклама",
            "engagement[0].points",
            "less than or equal to 100",
        ),
        ("  mql: 40\n", "  mql: 4000000000\n", "scoring.mql", "less than or equal to 100"),
        ("{tier: B, min: 40}", "{tier: B, min: 101}", "scoring.tiers[1].min", "less than or equal to 100"),
        ("weight: 30}", "weight: 2147483648}", "dimensions[0].weight", "less than or equal to 100"),
        ("exchange_rates: {USD: 100}", "exchange_rates: {USD: 0}", "exchange_rates.USD", "greater than 0"),
        ("exchange_rates: {USD: 100}", "exchange_rates: {USD: -90}", "exchange_rates.USD", "greater than 0"),
        ("exchange_rates: {USD: 100}", "exchange_rates: {USD: .inf}", "exchange_rates.USD", "finite number"),
        ("exchange_rates: {USD: 100}", "exchange_rates: {USD: .nan}", "exchange_rates.USD", "finite number"),
        (
            "exchange_rates: {USD: 100}",
            "exchange_rates: {USD: 1.0e+300}",
            "exchange_rates.USD",
            "less than or equal to 1000000000",
        ),
        (
            KNOCKOUT,
            "  - {reason: far_future, when: {question: timing, gte: .inf}, ",
            "knockouts[3].when.gte",
            "finite number",
        ),
        (
            KNOCKOUT,
            "  - {reason: far_future, when: {question: team, equals: .nan}, ",
            "knockouts[3].when.equals",
            "finite number",
        ),
    ],
    ids=[
        "version above int32",
        "version 0",
        "points above 100",
        "points below -100",
        "fractional points",
        "infinite band bound",
        "NaN band bound",
        "band bound beyond 10**15",
        "engagement points",
        "mql threshold",
        "tier min",
        "weight",
        "zero rate",
        "negative rate",
        "infinite rate",
        "NaN rate",
        "huge rate",
        "infinite condition number",
        "NaN condition value",
    ],
)
def test_numbers_out_of_range_are_named(old: str, new: str, field: str, message: str) -> None:
    text = edit(old, new)
    found = [p for p in problems(text) if p.field == field]
    assert found, problems(text)
    assert message in found[0].message
    assert found[0].line == line_of(text, new.strip().splitlines()[0])


def test_the_question_count_is_limited() -> None:
    extra = "".join(
        f"  - {{id: extra{i}, kind: text, required: false, text: x}}\n" for i in range(MAX_QUESTIONS)
    )
    problem = only(edit("knockouts:\n", extra + "knockouts:\n"))
    assert problem.field == "questions"
    assert f"at most {MAX_QUESTIONS} items" in problem.message


# ----------------------------------------------------------------------------- locales and texts


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("locales: [ru, en]", "locales: [ru, en, ru]", "locales[2]", "locale 'ru' is listed twice"),
        (
            "{max: 31, points: 15, hand_raise: true, label: {ru: В этом месяце, en: This month}}",
            "{max: 31, points: 15, hand_raise: true, label: {ru: В этом месяце}}",
            "questions[5].bands[0].label.en",
            "missing the 'en' text",
        ),
        (
            "reason: {ru: Крупный бюджет, en: Big budget}}",
            "reason: {en: Big budget}}",
            "questions[0].bands[2].reason.ru",
            "missing the 'ru' text",
        ),
        (
            "{id: boss, label: {ru: Начальник, en: My boss}, points: 4}",
            "{id: boss, label: {ru: Начальник, en: My boss}, points: 4, reason: {ru: Решает начальник}}",
            "questions[2].options[1].reason.en",
            "missing the 'en' text",
        ),
        (
            '    points: 0\n    text: {ru: "Компания?"',
            '    points: 0\n    reason: {en: Company}\n    text: {ru: "Компания?"',
            "questions[9].reason.ru",
            "missing the 'ru' text",
        ),
        (
            'text: {ru: "Что улучшить?", en: "What to improve?"}',
            'text: {ru: "Что улучшить?", en: "What to improve?", de: "Was verbessern?"}',
            "questions[3].text.de",
            "locale 'de' is not one of the flow's locales (ru, en)",
        ),
        ("greeting: {ru: Здравствуйте!, en: Hello!}", 'greeting: "  "', "greeting", "is blank"),
        ("locales: [ru, en]", 'locales: [ru, "*"]', "locales[1]", "String should match pattern"),
    ],
    ids=[
        "duplicate locale",
        "band label",
        "band reason",
        "option reason",
        "question reason",
        "unknown locale key",
        "blank plain text",
        "wildcard locale",
    ],
)
def test_texts_missing_or_wrong_in_a_locale_are_named(old: str, new: str, field: str, message: str) -> None:
    text = edit(old, new)
    found = [p for p in problems(text) if p.field == field]
    assert found, problems(text)
    assert message in found[0].message


# ----------------------------------------------------------------------------- currencies


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("currency: RUB", "currency: RUR", "currency", "'RUR' is not an ISO 4217 currency code"),
        ("currency: RUB", "currency: XXX", "currency", "'XXX' is not an ISO 4217 currency code"),
        (
            "exchange_rates: {USD: 100}",
            "exchange_rates: {USD: 100, BTC: 5000000}",
            "exchange_rates.BTC",
            "'BTC' is not an ISO 4217 currency code",
        ),
        (
            "exchange_rates: {USD: 100}",
            "exchange_rates: {USD: 100, RUB: 1}",
            "exchange_rates.RUB",
            "RUB is the flow's own currency",
        ),
        ("exchange_rates: {USD: 100}", "exchange_rates: {usd: 100}", "exchange_rates.usd", "ISO 4217"),
    ],
    ids=["old rouble code", "no currency", "not a currency", "own currency", "lower case"],
)
def test_currency_codes_are_iso_4217(old: str, new: str, field: str, message: str) -> None:
    text = edit(old, new)
    problem = only(text)
    assert (problem.field, problem.line) == (field, line_of(text, new))
    assert message in problem.message


# ----------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("{question: demo, equals: maybe}", "'maybe' is not an answer to the yes/no question 'demo'"),
        ('{question: demo, in: ["yes", perhaps]}', "'perhaps' is not an answer to the yes/no question"),
        ("{question: demo, equals: 1}", "1 is not an answer to the yes/no question"),
        ("{question: role, gte: 2}", "gte never holds on the choice question 'role'"),
        ("{question: need, lt: 5}", "lt never holds on the multi_choice question 'need'"),
        ("{question: role, equals: ceo}", "'role' has no option 'ceo'"),
        ("{question: need, not_in: [leads, calls]}", "'need' has no option 'calls'"),
        ("{question: role, equals: true}", "'role' has no option True"),
        ("{question: budget, equals: big}", "the money question 'budget' is never equal to 'big'"),
        ("{question: team, in: [10, lots]}", "the number question 'team' is never equal to 'lots'"),
        ("{question: comment, gte: 3}", "gte never holds on the text question 'comment'"),
        ("{question: email, lt: 3}", "lt never holds on the email question 'email'"),
        ("{question: timing, gte: 100, lt: 50}", "no number is both from 100 and up to 50"),
        ("{question: timing, gt: 50, lte: 50}", "no number is both from 50 and up to 50"),
        ("{question: timing, in: []}", "an empty list: in: [] never holds"),
        (
            "{question: role, answered: false, equals: owner}",
            "answered: false holds only when 'role' has no value",
        ),
        ("{fact: utm_source, answered: false, in: [google]}", "answered: false holds only when the fact"),
        ("{fact: hand_raise, equals: maybe}", "the fact 'hand_raise' is true or false, never 'maybe'"),
        ("{fact: answered_all, gte: 1}", "gte never holds on the fact 'answered_all'"),
        (
            "{any: [{question: team, gte: 5}, {not: {question: demo, equals: sure}}]}",
            "'sure' is not an answer to the yes/no question",
        ),
    ],
    ids=[
        "yes/no vs maybe",
        "yes/no in list",
        "yes/no vs number",
        "gte on choice",
        "lt on multi-choice",
        "unknown option",
        "unknown option in not_in",
        "boolean on choice",
        "money vs text",
        "number vs text",
        "gte on text",
        "lt on email",
        "empty range",
        "empty strict range",
        "empty in",
        "answered false with equals",
        "fact answered false with in",
        "boolean fact vs text",
        "boolean fact numeric",
        "nested",
    ],
)
def test_conditions_that_can_never_hold_are_named(condition: str, message: str) -> None:
    text = when(condition)
    problem = only(text)
    assert problem.field.startswith("knockouts[3].when"), problem
    assert problem.line == line_of(text, "reason: far_future")
    assert message in problem.message


@pytest.mark.parametrize(
    "condition",
    [
        '{question: demo, equals: "yes"}',
        "{question: demo, equals: false}",
        "{question: demo, gte: 1}",
        "{question: role, in: [owner, manager]}",
        "{question: team, equals: 10}",
        "{question: timing, gte: 50, lt: 100}",
        "{question: timing, gte: 50, lte: 50}",
        "{question: comment, equals: срочно}",
        "{question: role, answered: false}",
        "{fact: returning, equals: true}",
        "{fact: hand_raise, equals: true}",
    ],
)
def test_conditions_that_can_hold_pass(condition: str) -> None:
    assert parse_flow(when(condition), "mini.yaml").id == "mini"


# ----------------------------------------------------------------------------- typed phrases


@pytest.mark.parametrize(
    ("old", "new", "fragment", "message"),
    [
        (
            "synonyms: {ru: [я директор, гендиректор]",
            "synonyms: {ru: [я директор, менеджер]",
            "{id: manager,",
            "the label 'Менеджер' (ru) also stands for option 'owner'",
        ),
        (
            "{id: manager, label: {ru: Менеджер, en: Manager}, points: 8}",
            "{id: manager, label: {ru: Менеджер, en: Manager}, "
            'synonyms: {en: ["I\'m the  CEO", CEO!]}, points: 8}',
            "I'm the  CEO",
            "the synonym 'CEO!' (en) also stands for option 'owner'",
        ),
        (
            "{id: boss, label: {ru: Начальник, en: My boss}",
            "{id: boss, label: {ru: Я  сам, en: My boss}",
            "Я  сам",
            "the label 'Я  сам' (ru) also stands for option 'self'",
        ),
        (
            "synonyms: {ru: [я директор, гендиректор]",
            "synonyms: {ru: [я директор, назад]",
            "назад]",
            "the synonym 'назад' is the 'back' command when typed",
        ),
        (
            "en: [ceo, founder]",
            "en: [ceo, Start over!]",
            "Start over",
            "the synonym 'Start over!' is the 'restart' command",
        ),
        (
            "{id: student, label: {ru: Студент, en: Student}",
            "{id: student, label: {ru: Студент, en: Skip}",
            "en: Skip",
            "the label 'Skip' is the 'skip' command when typed",
        ),
        ("en: [ceo, founder]", 'en: [ceo, "..."]', '"..."', "the synonym '...' has no letters or digits"),
    ],
    ids=[
        "synonym is another option's label",
        "same synonym on two options",
        "same label twice",
        "synonym is back",
        "synonym is restart",
        "label is skip",
        "no letters",
    ],
)
def test_typed_phrases_that_cannot_choose_their_option_are_named(
    old: str, new: str, fragment: str, message: str
) -> None:
    text = edit(old, new)
    problem = only(text)
    assert problem.line == line_of(text, fragment)
    assert problem.field.startswith("questions[")
    assert message in problem.message


# ----------------------------------------------------------------------------- promises and budgets


def test_a_closing_may_promise_a_call_when_the_flow_asks_a_phone() -> None:
    text = edit(
        '  - {stage: sql, text: {ru: "Менеджер позвонит."',
        '  - {stage: sql, promises_call: true, text: {ru: "Менеджер позвонит."',
    )
    spec = parse_flow(text, "mini.yaml")
    assert [c.promises_call for c in spec.closings] == [False, False, False, True, False]


def test_a_closing_that_promises_a_call_in_a_flow_without_a_phone_is_named() -> None:
    text = edit(
        '  - {stage: sql, text: {ru: "Менеджер позвонит."',
        '  - {stage: sql, promises_call: true, text: {ru: "Менеджер позвонит."',
    )
    phone = '  - id: phone\n    kind: phone\n    required: false\n    text: {ru: "Телефон?", en: "Phone?"}\n'
    assert text.count(phone) == 1
    without = text.replace(phone, "")
    found = only(without)
    assert found.field == "closings[3].promises_call"
    assert found.message == "the flow asks no phone, so nobody who sees this closing can be called"
    assert found.line == line_of(without, "promises_call: true")


def test_a_money_question_may_say_it_is_not_a_budget() -> None:
    spec = parse_flow(edit("    kind: money\n", "    kind: money\n    budget: false\n"), "mini.yaml")
    assert not spec.questions[0].is_budget
    assert parse_flow(MINI, "mini.yaml").questions[0].is_budget


def test_only_a_money_question_can_be_a_budget() -> None:
    found = only(edit("    kind: phone\n", "    kind: phone\n    budget: true\n"))
    assert found.field == "questions[10].budget"
    assert found.message == "only a money question asks for a budget; this one is phone"
