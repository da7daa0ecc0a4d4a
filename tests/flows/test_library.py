"""Every shipped flow loads, speaks Russian and English everywhere, and every part of it is used.

The simulator walks each flow; its best and worst paths are then replayed through the real
engine, so the walk and the conversation agree on where a lead ends up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from flows.compiled import CompiledFlow, compile_flow
from flows.extract import match_choices
from flows.model import Stage
from flows.simulate import (
    FACTS_NODE,
    NOT_UNDERSTOOD,
    SKIPPED,
    PathResult,
    SimulationReport,
    profiles,
    simulate,
)
from flows.spec import LIBRARY, FlowSpec, QuestionKind, load_library_flow, parse_flow

LOCALES = ["ru", "en"]
DOC = Path(__file__).resolve().parents[2] / "docs" / "flow-format.md"
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
GREETING_RANGE = re.compile(r"(\d+)\s*(?:–|-|до|to)\s*(\d+)")
SAMPLE = 12000  # paths per flow: enough to reach every tier, closing and stage of the shipped flows

TYPED = {
    QuestionKind.NAME: "Maria Ivanova",
    QuestionKind.EMAIL: "maria.ivanova@acme-industries.ru",
    QuestionKind.PHONE: "+7 495 123-45-67",
    QuestionKind.COMPANY: "Acme Industries",
    QuestionKind.TEXT: "We keep our leads in spreadsheets",
}


@cache
def flow(flow_id: str) -> FlowSpec:
    return load_library_flow(flow_id)


@cache
def compiled(flow_id: str) -> CompiledFlow:
    return compile_flow(flow(flow_id))


@cache
def report(flow_id: str) -> SimulationReport:
    return simulate(compiled(flow_id), limit=SAMPLE)


def texts(spec: FlowSpec) -> Iterator[tuple[str, Mapping[str, str]]]:
    """Every localized text of a flow, with where it is."""
    yield "title", spec.title
    yield "greeting", spec.greeting
    for d in spec.dimensions:
        yield f"dimensions.{d.id}.title", d.title
    for q in spec.questions:
        yield f"{q.id}.text", q.text
        if q.hint is not None:
            yield f"{q.id}.hint", q.hint
        for o in q.options:
            yield f"{q.id}.{o.id}.label", o.label
        for i, b in enumerate(q.bands):
            if b.label is not None:
                yield f"{q.id}.bands[{i}].label", b.label
    for k in spec.knockouts:
        yield f"knockouts.{k.reason}", k.text
    for s in spec.engagement:
        yield f"engagement.{s.id}", s.reason
    for i, c in enumerate(spec.closings):
        yield f"closings[{i}]", c.text


@pytest.mark.parametrize("flow_id", LIBRARY)
def test_the_flow_loads_in_russian_and_english(flow_id: str) -> None:
    spec = flow(flow_id)
    assert spec.id == flow_id
    assert spec.locales == LOCALES
    assert spec.currency == "RUB"
    assert set(spec.exchange_rates) >= {"USD", "EUR"}
    for where, text in texts(spec):
        assert set(text) == set(LOCALES), where
        assert all(text[loc].strip() for loc in LOCALES), where
    sentences = [spec.greeting, *(q.text for q in spec.questions), *(k.text for k in spec.knockouts)]
    sentences += [c.text for c in spec.closings]
    for text in sentences:
        assert CYRILLIC.search(text["ru"]), text
        assert not CYRILLIC.search(text["en"]), text


@pytest.mark.parametrize("flow_id", LIBRARY)
def test_every_option_has_synonyms_in_both_languages(flow_id: str) -> None:
    for q in flow(flow_id).questions:
        for o in q.options:
            assert set(o.synonyms) == set(LOCALES), (q.id, o.id)
            assert all(o.synonyms[loc] for loc in LOCALES), (q.id, o.id)


@pytest.mark.parametrize("flow_id", LIBRARY)
def test_the_flow_has_the_parts_a_good_qualification_needs(flow_id: str) -> None:
    spec = flow(flow_id)
    scored = [q for q in spec.questions if not q.is_contact]
    assert 6 <= len(scored) <= 11  # the greeting says how many a lead answers (see below)
    assert any(q.ask_if is not None for q in scored), "no branch among the qualifying questions"
    assert any(q.kind in (QuestionKind.EMAIL, QuestionKind.PHONE) for q in spec.questions)
    assert {k.reason for k in spec.knockouts} >= {"student", "competitor"}
    assert [t.tier for t in spec.scoring.tiers] == ["A", "B", "C"]
    assert {c.tier for c in spec.closings if c.tier} == {"A", "B", "C"}
    assert any(c.stage == "nurture" for c in spec.closings)
    assert spec.engagement
    assert re.search(r"\d", spec.greeting["ru"]), "say how long it takes"
    assert re.search(r"\d", spec.greeting["en"]), "say how long it takes"


@pytest.mark.parametrize("flow_id", ["bant", "champ", "anum"])
def test_the_flow_offers_an_explicit_hand_raise(flow_id: str) -> None:
    raised = [o.id for q in flow(flow_id).questions for o in q.options if o.hand_raise]
    assert raised


def test_the_puzzle_is_qualified_by_five_and_seven_of_seven() -> None:
    spec = flow("puzzle")
    assert len(spec.dimensions) == 7
    assert spec.scoring.confirmed is not None
    assert spec.scoring.confirmed.need == 5
    assert spec.scoring.sql.confirmed == 7


@pytest.mark.parametrize("flow_id", LIBRARY)
def test_every_part_of_the_flow_is_reachable_and_nothing_contradicts(flow_id: str) -> None:
    found = report(flow_id)
    assert found.questions_never_asked == ()
    assert found.tiers_never_reached == ()
    assert found.closings_never_shown == ()
    # The rules contradict nothing, and no walked path shows a problem (a raised hand in nurture,
    # an MQL or SQL with no contact, a call promised without a phone, tier A on a small budget).
    assert found.findings == ()
    assert set(found.stages) == {"disqualified", "nurture", "mql", "sql"}
    assert set(found.knockouts) == {k.reason for k in flow(flow_id).knockouts}
    assert found.min_score == 0
    assert found.max_score >= 95
    # The greeting says how many questions there are ("от 7 до 11", "7–11"), and it is true for
    # every lead that is not knocked out (as far as the sample shows): 6 at least, 14 at most.
    for locale in LOCALES:
        low, high = map(int, GREETING_RANGE.findall(flow(flow_id).greeting[locale])[0])
        assert 6 <= low <= found.shortest <= found.longest <= high <= 14, (
            locale,
            found.shortest,
            found.longest,
        )


OpenChat = Callable[..., Any]


def replay(open_chat: OpenChat, walked: CompiledFlow, path: PathResult, locale: str) -> Any:
    """Have the conversation the path describes, through the engine (a ``conftest.Chat``)."""
    spec = walked.spec
    steps = dict(path.steps)
    facts = dict(profiles(spec))[steps.pop(FACTS_NODE)]
    chat = open_chat(walked, locale, **facts)
    for qid, key in steps.items():
        assert chat.state.state == qid, (qid, chat.state.state)
        question = spec.question_by_id[qid]
        if key == NOT_UNDERSTOOD:
            while chat.state.state == qid:
                chat.say("???")
        elif key == SKIPPED:
            chat.tap("cmd:skip")
        elif key == "answer":
            chat.say(TYPED[question.kind])
        else:
            chat.tap(*key.split("+"))
    assert chat.state.completed
    return chat


@pytest.mark.parametrize("flow_id", LIBRARY)
@pytest.mark.parametrize("locale", LOCALES)
def test_the_best_path_completes_as_a_qualified_lead_in_the_engine(
    open_chat: OpenChat, flow_id: str, locale: str
) -> None:
    best = report(flow_id).best
    spec = flow(flow_id)
    reached = any(
        key == "answer" and spec.question_by_id[node].kind in (QuestionKind.EMAIL, QuestionKind.PHONE)
        for node, key in best.steps
        if node in spec.question_by_id
    )
    # The highest total is qualified, unless it gave no e-mail or phone: then sales could not call.
    assert best.stage in (("mql", "sql") if reached else ("nurture",))
    chat = replay(open_chat, compiled(flow_id), best, locale)
    assert chat.state.stage == Stage(best.stage)
    assert chat.state.tier == best.tier
    assert chat.state.score == best.total


@pytest.mark.parametrize("flow_id", LIBRARY)
@pytest.mark.parametrize("locale", LOCALES)
def test_the_worst_path_completes_as_disqualified_in_the_engine(
    open_chat: OpenChat, flow_id: str, locale: str
) -> None:
    spec = flow(flow_id)
    worst = report(flow_id).worst
    assert worst.stage == "disqualified"
    assert worst.knockout is not None
    chat = replay(open_chat, compiled(flow_id), worst, locale)
    assert chat.state.stage is Stage.DISQUALIFIED
    assert chat.state.knockout == worst.knockout
    knockout_text = spec.knockout_by_reason[worst.knockout].text[locale]
    assert chat.reply.text == knockout_text


# Answers people give that must never knock a lead out, whatever the question.
INNOCENT = {
    "ru": [
        "я директор",
        "сам решаю",
        "хочу демо",
        "позвоните мне",
        "просто смотрю",
        "теряем заявки и нет отчётов",
        "руководитель отдела продаж",
        "маркетолог",
        "да",
        "нет",
        "не знаю",
        "в следующем квартале",
        "продажи",
        "ведём всё в экселе",
        "сравниваем несколько вариантов",
    ],
    "en": [
        "I'm the CEO",
        "I decide",
        "book a demo",
        "a demo please",
        "talk to sales",
        "call me",
        "just looking",
        "we lose leads and have no reports",
        "head of sales",
        "I'm a manager",
        "yes",
        "no",
        "not sure",
        "next quarter",
        "we use spreadsheets",
        "comparing a few options",
        "looking for a CRM",
    ],
}
# And answers that must.
KNOCKING = {
    "student": {"ru": "я студент", "en": "I'm a student"},
    "job_seeker": {"ru": "ищу работу", "en": "looking for a job"},
    "competitor": {"ru": "мы конкуренты", "en": "we are a competitor"},
    "vendor_chosen": {"ru": "уже выбрали подрядчика", "en": "we already chose a vendor"},
}


@pytest.mark.parametrize("flow_id", LIBRARY)
@pytest.mark.parametrize("locale", LOCALES)
def test_typed_answers_knock_out_only_when_they_should(flow_id: str, locale: str) -> None:
    checked = 0
    for q in flow(flow_id).questions:
        knockouts = {o.id: o.knockout for o in q.options if o.knockout}
        if not knockouts:
            continue
        candidates = [(o.id, [o.label[locale], *o.synonyms[locale]]) for o in q.options]
        multi = q.kind is QuestionKind.MULTI_CHOICE
        for text in INNOCENT[locale]:
            assert not set(match_choices(text, candidates, locale, multi=multi)) & set(knockouts), (
                q.id,
                text,
            )
        for option_id, reason in knockouts.items():
            if reason in KNOCKING:
                said = KNOCKING[reason][locale]
                assert match_choices(said, candidates, locale, multi=multi) == (option_id,), (q.id, said)
                checked += 1
    assert checked


BANT_TYPED = {
    "ru": [
        "да, бюджет уже выделен",
        "около 2 млн руб",
        "я директор",
        "теряем заявки",
        "через пару месяцев",
        "никого, только вас",
        "хочу демо",
        "Мария",
        "+7 916 123-45-67",
        "maria@acme-industries.ru",
    ],
    "en": [
        "yes, we have it",
        "$20k",
        "I'm the CEO",
        "leads get lost",
        "next quarter",
        "nobody else",
        "talk to sales",
        "Maria",
        "+1 415 555 0100",
        "maria@acme-industries.com",
    ],
}


@pytest.mark.parametrize("locale", LOCALES)
def test_bant_understands_typed_answers_in_both_languages(open_chat: OpenChat, locale: str) -> None:
    chat = open_chat(compiled("bant"), locale)
    for text in BANT_TYPED[locale]:
        chat.say(text)
    assert chat.state.completed
    answers = chat.state.answers
    assert all(a.understood for a in answers.values()), {
        q: a.raw for q, a in answers.items() if not a.understood
    }
    assert answers["budget_status"].value == ["approved"]
    assert answers["role"].value == ["owner"]
    assert answers["next_step"].value == ["demo"]
    assert answers["alternatives"].value == ["only_us"]
    assert "decision" not in answers  # the owner is not asked who decides
    assert chat.state.stage is Stage.SQL


def test_the_annotated_example_in_the_docs_is_a_valid_flow() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    spec = parse_flow(blocks[-1], str(DOC))
    assert spec.id == "bant_mini"
    found = simulate(compile_flow(spec))
    assert found.exhaustive
    assert found.findings == ()
    assert found.questions_never_asked == ()
    assert found.tiers_never_reached == ()
    assert found.closings_never_shown == ()
