"""The simulator on a small flow whose every path is known by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.compiled import CompiledFlow, compile_flow
from flows.scoring import highest_total
from flows.simulate import Finding, band_value, simulate
from flows.spec import Band, load_flow, parse_flow

# Paths per visitor profile (cold, warm): budget "no budget" knocks out (1); a small or a big
# budget asks the role: student knocks out, ceo/staff/not understood go on to the e-mail (answer,
# or not understood, which knocks out): 1 + 3 * 2 = 7 each; a budget not understood skips the
# role and goes to the e-mail: 2. So 17 per profile, 34 in all.
SMALL = """\
id: small
version: 2
framework: BANT
title: {ru: Малый, en: Small}
locales: [ru, en]
greeting: {ru: Привет, en: Hi}
dimensions:
  - {id: budget, title: {ru: Бюджет, en: Budget}, weight: 40}
  - {id: authority, title: {ru: Полномочия, en: Authority}, weight: 40}
questions:
  - id: budget
    dimension: budget
    kind: money
    text: {ru: "Бюджет?", en: "Budget?"}
    bands:
      - {max: 1, knockout: no_budget}
      - {min: 1, max: 100000, points: 10}
      - {min: 100000, points: 40}
  - id: role
    dimension: authority
    kind: choice
    ask_if: {question: budget, gte: 1}
    text: {ru: "Кто вы?", en: "Who are you?"}
    options:
      - {id: ceo, label: {ru: Директор, en: CEO}, points: 40, hand_raise: true}
      - {id: staff, label: {ru: Сотрудник, en: Staff}, points: 10}
      - {id: student, label: {ru: Студент, en: Student}, knockout: student}
  - id: email
    kind: email
    knockout: no_email
    text: {ru: "Почта?", en: "E-mail?"}
knockouts:
  - {reason: no_budget, text: {ru: Жаль, en: Sorry}}
  - {reason: student, text: {ru: Удачи, en: Good luck}}
  - {reason: no_email, text: {ru: "Без почты не сможем ответить", en: "Without an e-mail we cannot reply"}}
engagement:
  - {id: ads, when: {fact: utm_source, in: [google]}, points: 20, reason: {ru: Реклама, en: Ads}}
scoring:
  mql: 50
  sql: {score: 90}
  tiers:
    - {tier: A, min: 80, when: {question: role, equals: staff}}
    - {tier: B, min: 50}
    - {tier: C}
closings:
  - {stage: mql, tier: B, text: {ru: Менеджер, en: Manager}}
  - {stage: disqualified, text: {ru: Пока, en: Bye}}
  - {stage: nurture, text: {ru: Пока, en: Bye}}
  - {stage: mql, text: {ru: Пока, en: Bye}}
  - {stage: sql, text: {ru: Пока, en: Bye}}
"""


def edited(pairs: list[tuple[str, str]]) -> CompiledFlow:
    text = SMALL
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return compile_flow(parse_flow(text, "small.yaml"))


def test_every_path_is_walked_when_there_are_few() -> None:
    report = simulate(edited([]))
    assert report.exhaustive
    assert report.paths == 34
    assert (report.flow_id, report.version, report.questions) == ("small", 2, 3)


def test_min_and_max_score_are_the_known_ones() -> None:
    report = simulate(edited([]))
    assert report.min_score == 0
    # A big budget (40), the CEO (40) and a visitor from Google ads (20).
    assert report.max_score == 100
    assert report.best.steps == (
        ("facts", "warm"),
        ("budget", "band:2"),
        ("role", "ceo"),
        ("email", "answer"),
    )
    assert report.best.stage == "sql"
    assert report.best.tier == "B"
    assert report.upper_bound == 100
    # Not knocked out: the e-mail alone (budget not understood) up to budget, role and e-mail.
    assert (report.shortest, report.longest) == (2, 3)


def test_stages_and_knockouts_are_counted_per_path() -> None:
    report = simulate(edited([]))
    # Per profile: no budget (1), the student after either budget (2) and an e-mail not
    # understood after each of the 7 ways to reach it are knocked out.
    assert report.knockouts == {"no_budget": 2, "student": 4, "no_email": 14}
    assert report.stages["disqualified"] == 20
    assert sum(report.stages.values()) == report.paths
    # The CEO raises a hand: an MQL with the CEO is an SQL (40 + 40 = 80 cold, 100 warm; a small
    # budget gives 10 + 40 = 50 cold, an MQL and a hand raise: SQL too), once per profile and budget.
    assert report.stages["sql"] == 2 * 2


def test_a_tier_that_can_never_be_reached_is_reported() -> None:
    # Tier A needs 80 points *and* the staff role, which gives at most 40 + 10 + 20 = 70.
    report = simulate(edited([]))
    assert report.tiers_never_reached == ("A",)
    assert "A" not in report.tiers
    assert set(report.tiers) == {"B", "C"}


def test_closings_never_shown_and_questions_never_asked_are_reported() -> None:
    spec = edited(
        [
            ("  - {stage: mql, tier: B,", "  - {stage: nurture, tier: B,"),
            ("    ask_if: {question: budget, gte: 1}\n", "    ask_if: {question: budget, gte: 1000000000}\n"),
        ]
    )
    report = simulate(spec)
    # Nobody in tier B is a nurture lead (B starts at the MQL threshold); without the role
    # question nobody raises a hand or gets near 90, so the SQL fallback is never needed either.
    assert report.closings_never_shown == ("closings[0] (nurture/B)", "closings[4] (sql)")
    assert report.questions_never_asked == ("role",)
    assert not report.clean


def test_a_knockout_answer_with_points_is_reported() -> None:
    spec = edited(
        [
            (
                "{id: student, label: {ru: Студент, en: Student}, knockout: student}",
                "{id: student, label: {ru: Студент, en: Student}, points: 5, knockout: student}",
            )
        ]
    )
    codes = [(f.code, f.message) for f in simulate(spec).findings]
    assert codes == [
        ("knockout_with_points", "role: option 'student' knocks out (student) but also gives 5 points")
    ]


def test_a_knockout_that_can_never_fire_is_reported() -> None:
    spec = edited(
        [
            (
                "  - {reason: student, text: {ru: Удачи, en: Good luck}}\n",
                "  - {reason: student, text: {ru: Удачи, en: Good luck}}\n"
                "  - {reason: competitor, text: {ru: Пока, en: Bye}}\n",
            )
        ]
    )
    findings = simulate(spec).findings
    assert [f.code for f in findings] == ["knockout_never_fires"]
    assert "'competitor' can never fire" in findings[0].message


def test_an_mql_threshold_only_reachable_through_knockouts_is_reported() -> None:
    # The student option is the only way to many authority points; without it the most is
    # 40 (budget) + 10 (ceo) + 20 (engagement) = 70, below the MQL threshold of 75.
    spec = edited(
        [
            (
                "{id: ceo, label: {ru: Директор, en: CEO}, points: 40, hand_raise: true}",
                "{id: ceo, label: {ru: Директор, en: CEO}, points: 10, hand_raise: true}",
            ),
            (
                "{id: staff, label: {ru: Сотрудник, en: Staff}, points: 10}",
                "{id: staff, label: {ru: Сотрудник, en: Staff}, points: 5}",
            ),
            (
                "{id: student, label: {ru: Студент, en: Student}, knockout: student}",
                "{id: student, label: {ru: Студент, en: Student}, points: 40, knockout: student}",
            ),
            ("  mql: 50\n", "  mql: 75\n  hand_raise_mql: false\n"),
        ]
    )
    report = simulate(spec)
    assert highest_total(spec, with_knockouts=False) == 70
    assert highest_total(spec) == 100
    codes = [f.code for f in report.findings]
    assert "mql_only_through_knockout" in codes
    assert "knockout_with_points" in codes
    assert "mql" not in report.stages
    assert "sql" not in report.stages


def test_an_sql_threshold_above_the_max_score_is_reported() -> None:
    spec = edited(
        [
            (
                "{id: ceo, label: {ru: Директор, en: CEO}, points: 40, hand_raise: true}",
                "{id: ceo, label: {ru: Директор, en: CEO}, points: 30}",
            ),
            ("  sql: {score: 90}\n", "  sql: {score: 95, hand_raise: false}\n"),
        ]
    )
    report = simulate(spec)
    assert report.max_score == 90
    assert [(f.code, f.message) for f in report.findings] == [
        ("sql_above_max", "the SQL threshold 95 is above the highest possible score 90")
    ]
    assert "sql" not in report.stages


def test_a_clean_flow_has_no_findings() -> None:
    spec = edited(
        [("    - {tier: A, min: 80, when: {question: role, equals: staff}}\n", "    - {tier: A, min: 80}\n")]
    )
    report = simulate(spec)
    assert report.findings == ()
    assert report.tiers_never_reached == ()
    assert report.clean


def test_a_sample_is_deterministic_per_seed() -> None:
    spec = edited([])
    first = simulate(spec, limit=10, seed=7)
    again = simulate(spec, limit=10, seed=7)
    assert not first.exhaustive
    # The sample, plus the single-answer deviations from the best and worst paths.
    assert 10 <= first.paths <= 48
    assert json.dumps(first.to_json()) == json.dumps(again.to_json())


def test_deviations_from_the_best_path_find_the_true_maximum() -> None:
    # Two paths are sampled; hill-climbing by one answer at a time must still reach 100.
    report = simulate(edited([]), limit=2, seed=1)
    assert report.max_score == 100
    assert report.min_score == 0


@pytest.mark.parametrize(
    ("band", "inside"),
    [
        (Band(min=1, max=3), 2.0),
        (Band(min=100), 200.0),
        (Band(min=0), 1.0),
        (Band(max=1), 0.5),
        (Band(max=0), -1.0),
        (Band(), 0.0),
    ],
)
def test_band_values_fall_inside_their_band(band: Band, inside: float) -> None:
    assert band_value(band) == inside
    assert band.contains(band_value(band))


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        simulate(edited([]), limit=0)


# --------------------------------------------------------------------------- problems paths show

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> CompiledFlow:
    return compile_flow(load_flow(FIXTURES / f"{name}.yaml"))


def only_problem(name: str) -> Finding:
    report = simulate(fixture(name))
    assert report.exhaustive
    assert len(report.findings) == 1, report.findings
    return report.findings[0]


def test_the_clean_fixture_has_no_problem() -> None:
    report = simulate(fixture("sim_clean"))
    assert report.exhaustive
    assert report.findings == ()
    assert report.clean
    # Every check had something to look at: a hand raised, tier A behind its closing that promises
    # a call, and the lowest budget band, all reached.
    assert report.tiers["A"] > 0
    assert report.stages["sql"] > 0
    assert report.closings_never_shown == ()


def test_a_raised_hand_that_ends_in_nurture_is_a_problem_with_its_path() -> None:
    found = only_problem("sim_hand_raise_nurture")
    assert found.code == "hand_raise_below_mql"
    # Cold, a budget under 500k or not understood (5 or 0) with a manager or a role not
    # understood (10 or 0), and "call me" (5): below 25, for each of the 3 phone answers.
    assert found.paths == 4 * 3
    assert found.path is not None
    assert found.path.steps == (
        ("facts", "cold"),
        ("budget", "band:1"),
        ("role", "manager"),
        ("next_step", "call"),
        ("phone", "answer"),
        ("email", "answer"),
    )
    assert (found.path.total, found.path.stage, found.path.knockout) == (20, "nurture", None)
    assert found.message == (
        "a hand raised ends as nurture (below MQL 25) on 12 paths: "
        "sales never calls back someone who asked for it"
    )


def test_an_mql_with_no_email_or_phone_is_a_problem_with_its_path() -> None:
    found = only_problem("sim_no_contact")
    assert found.code == "no_contact"
    assert found.path is not None
    assert found.path.stage in ("mql", "sql")
    given = dict(found.path.steps)
    assert given["email"] in ("not_understood", "skipped")
    assert given.get("phone", "skipped") in ("not_understood", "skipped")
    assert "(asked: phone, email)" in found.message


def test_a_flow_that_asks_no_contact_at_all_is_told_so() -> None:
    # The demo flow asks the budget and the role only.
    report = simulate(compile_flow(load_flow(FIXTURES / "demo.yaml")))
    no_contact = [f for f in report.findings if f.code == "no_contact"]
    assert len(no_contact) == 1
    assert "(the flow asks for neither)" in no_contact[0].message
    assert no_contact[0].paths == report.stages["mql"] + report.stages["sql"]


def test_a_closing_that_promises_a_call_without_a_phone_is_a_problem_with_its_path() -> None:
    found = only_problem("sim_call_without_phone")
    assert found.code == "call_without_phone"
    assert found.message.startswith("closings[0] (sql/A) promises a call, and ")
    assert found.path is not None
    assert (found.path.stage, found.path.tier) == ("sql", "A")
    assert dict(found.path.steps)["phone"] in ("not_understood", "skipped")


def test_tier_a_with_the_lowest_budget_band_is_a_problem_with_its_path() -> None:
    found = only_problem("sim_small_budget_tier_a")
    assert found.code == "top_tier_with_lowest_budget"
    assert "the lowest band of 'budget' (до 500 тыс ₽)" in found.message
    assert found.path is not None
    # A warm owner or manager who asks for a call and leaves a phone: 5 + 25 (10) + 25 + 20 = 75
    # (60), both 60 or more; the owner is walked first.
    assert found.path.steps == (
        ("facts", "warm"),
        ("budget", "band:1"),
        ("role", "owner"),
        ("next_step", "call"),
        ("phone", "answer"),
        ("email", "answer"),
    )
    assert (found.path.total, found.path.tier) == (75, "A")
    assert found.paths == 2


def test_a_money_question_that_is_not_a_budget_is_not_checked() -> None:
    text = (FIXTURES / "sim_small_budget_tier_a.yaml").read_text(encoding="utf-8")
    spec = parse_flow(text.replace("    kind: money\n", "    kind: money\n    budget: false\n"), "cost.yaml")
    assert simulate(compile_flow(spec)).findings == ()


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("sim_hand_raise_nurture", "hand_raise_below_mql"),
        ("sim_no_contact", "no_contact"),
        ("sim_call_without_phone", "call_without_phone"),
        ("sim_small_budget_tier_a", "top_tier_with_lowest_budget"),
    ],
)
def test_a_sample_climbs_to_a_problem_few_paths_show(name: str, code: str) -> None:
    # 20 of about 250 paths, most of which show nothing wrong: the climb from the nearest
    # sampled path still finds the problem.
    report = simulate(fixture(name), limit=20, seed=5)
    assert not report.exhaustive
    assert [f.code for f in report.findings] == [code]


def test_problems_in_json_carry_their_path() -> None:
    found = simulate(fixture("sim_hand_raise_nurture")).to_json()["findings"]
    assert found[0]["paths"] == 12
    assert found[0]["path"]["stage"] == "nurture"
    assert found[0]["path"]["steps"][0] == {"question": "facts", "answer": "cold"}
    threshold = simulate(
        edited([("  sql: {score: 90}\n", "  sql: {score: 95, hand_raise: false}\n")])
    ).to_json()["findings"]
    assert all("path" not in f for f in threshold)


def test_contact_required_keeps_leads_without_a_contact_out_of_mql_and_is_no_problem() -> None:
    # A raised hand with no e-mail or phone is held back as nurture: nobody could call back, so
    # that is no hand-raise problem either.
    text = (FIXTURES / "sim_no_contact.yaml").read_text(encoding="utf-8")
    assert text.count("  mql: 25\n") == 1
    spec = compile_flow(
        parse_flow(text.replace("  mql: 25\n", "  mql: 25\n  contact_required: true\n"), "x.yaml")
    )
    report = simulate(spec)
    assert report.findings == ()
    assert report.stages["nurture"] > 0
