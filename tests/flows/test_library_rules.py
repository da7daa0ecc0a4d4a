"""The rules the shipped flows keep, each checked on every flow and locale through the engine:
a raised hand is always worth a call, no qualified lead without a way back to them, a closing
that promises a call only after a phone, knock-out answers that are understood typed but never
shown, a small budget that is never tier A, no budget yet that is no knock-out in the need-first
frameworks, students filtered by the first question that can tell, the consent notice, and
goodbyes that make sense; and what each framework must ask (seeds 000, 001, 003)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import pytest

from flows.compiled import CompiledFlow, compile_flow
from flows.model import Stage
from flows.spec import LIBRARY, REACH_KINDS, Question, QuestionKind, load_library_flow

OpenChat = Callable[..., Any]
LOCALES = ("ru", "en")
NEED_FIRST = ("gpctba", "champ", "anum", "puzzle")
WITH_AMOUNT = ("bant", "gpctba", "champ", "anum", "puzzle")
FILTERED = ("student", "job_seeker", "competitor")
CALL = {"ru": "позвонит", "en": "call you"}
HOUR = {"ru": "в течение часа", "en": "within the hour"}
TYPED = {
    QuestionKind.NAME: "Maria Ivanova",
    QuestionKind.EMAIL: "maria@acme-industries.ru",
    QuestionKind.PHONE: "+7 916 123-45-67",
    QuestionKind.COMPANY: "Acme",
    QuestionKind.TEXT: "conversion 2% -> 4%",
}
Answer = tuple[str, ...] | str  # taps, or typed text ("skip" taps the skip button)


@cache
def compiled(flow_id: str) -> CompiledFlow:
    return compile_flow(load_library_flow(flow_id))


def best(question: Question) -> Answer:
    """What the strongest lead answers: the option or band with the most points (never a
    knock-out or a hidden one), every scoring option of a multi-choice, a contact typed."""
    if question.kind in TYPED:
        return TYPED[question.kind]
    if question.kind is QuestionKind.MULTI_CHOICE:
        return tuple(o.id for o in question.options if o.points > 0 and not o.hidden and not o.knockout)
    if question.options:
        shown = [o for o in question.options if not o.hidden and o.knockout is None]
        return (max(shown, key=lambda o: o.points).id,)
    bands = [i for i, b in enumerate(question.bands) if b.knockout is None and b.label is not None]
    return (f"band:{max(bands, key=lambda i: question.bands[i].points)}",)


def play(open_chat: OpenChat, flow_id: str, locale: str, **given: Answer) -> Any:
    """A conversation where every question gets its ``best`` answer unless ``given`` says
    otherwise (by question id)."""
    flow = compiled(flow_id)
    chat = open_chat(flow, locale)
    for _ in range(3 * len(flow.questions)):
        if chat.state.completed:
            return chat
        question = flow.spec.question_by_id[chat.state.state]
        answer = given.get(question.id, best(question))
        if answer == "skip":
            chat.tap("cmd:skip")
        elif isinstance(answer, str):
            chat.say(answer)
        else:
            chat.tap(*answer)
    assert chat.state.completed
    return chat


def hand_raise_of(flow_id: str) -> tuple[str, str]:
    """The next-step question and its first hand-raise option."""
    for question in compiled(flow_id).spec.questions:
        for option in question.options:
            if option.hand_raise and question.id == "next_step":
                return question.id, option.id
    raise AssertionError(f"{flow_id}: no next_step question with a hand-raise")


def weakest(flow_id: str) -> dict[str, Answer]:
    """The weakest answers that keep a lead in: the option or band with the fewest points."""
    found: dict[str, Answer] = {}
    for question in compiled(flow_id).spec.questions:
        if question.kind is QuestionKind.MULTI_CHOICE or (
            question.options and question.kind is not QuestionKind.YES_NO
        ):
            shown = [o for o in question.options if not o.hidden and o.knockout is None and not o.hand_raise]
            found[question.id] = (min(shown, key=lambda o: o.points).id,)
        elif question.kind is QuestionKind.YES_NO:
            found[question.id] = ("no",)
        elif question.bands:
            bands = [i for i, b in enumerate(question.bands) if b.knockout is None and b.label is not None]
            found[question.id] = (f"band:{min(bands, key=lambda i: question.bands[i].points)}",)
    return found


# --------------------------------------------------------------------------- a raised hand


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("flow_id", LIBRARY)
def test_a_weak_lead_who_asks_for_a_call_is_an_mql_and_gets_the_call(
    open_chat: OpenChat, flow_id: str, locale: str
) -> None:
    qid, option = hand_raise_of(flow_id)
    answers = weakest(flow_id) | {qid: (option,)}
    chat = play(open_chat, flow_id, locale, **answers)
    assert chat.state.knockout is None
    assert chat.state.stage in (Stage.MQL, Stage.SQL), chat.state.score
    assert chat.last.score.hand_raise
    assert CALL[locale] in chat.reply.text
    by_mail = play(open_chat, flow_id, locale, **answers, phone="skip")
    assert by_mail.state.stage in (Stage.MQL, Stage.SQL)
    assert CALL[locale] not in by_mail.reply.text, "no phone, no call promised"
    assert ("почт" if locale == "ru" else "e-mail") in by_mail.reply.text


@pytest.mark.parametrize("flow_id", LIBRARY)
def test_no_qualified_lead_without_an_email_or_phone(open_chat: OpenChat, flow_id: str) -> None:
    spec = compiled(flow_id).spec
    assert spec.scoring.contact_required
    reach = {q.id: "skip" if not q.required else "не скажу" for q in spec.questions if q.kind in REACH_KINDS}
    chat = play(open_chat, flow_id, "ru", **reach)
    assert chat.state.score is not None
    assert chat.state.score >= spec.scoring.mql, "the strongest lead, but no way to reach them"
    assert chat.state.stage is Stage.NURTURE
    assert CALL["ru"] not in chat.reply.text
    assert "почт" not in chat.reply.text, "no e-mail was understood, so nothing is sent by e-mail"


# --------------------------------------------------------------------------- tiers by budget


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("flow_id", WITH_AMOUNT)
def test_the_smallest_budget_is_never_tier_a(open_chat: OpenChat, flow_id: str, locale: str) -> None:
    strongest = play(open_chat, flow_id, locale)
    assert (strongest.state.stage, strongest.state.tier) == (Stage.SQL, "A")
    small = play(open_chat, flow_id, locale, budget_amount="150 000 руб" if locale == "ru" else "150k RUB")
    assert small.state.answers["budget_amount"].value["min"] == 150_000
    assert small.state.tier == "C", "seeds 000/003: a small budget is a C client"
    assert HOUR[locale] not in small.reply.text
    assert small.state.score is not None
    assert small.state.score >= compiled(flow_id).spec.scoring.tiers[0].min, "tier A by score alone"


# --------------------------------------------------------------------------- no budget yet


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("flow_id", NEED_FIRST)
def test_no_budget_yet_is_nurtured_with_an_roi_offer_and_only_free_knocks_out(
    open_chat: OpenChat, flow_id: str, locale: str
) -> None:
    not_yet = {"ru": "бюджета пока нет", "en": "no budget yet"}[locale]
    chat = play(open_chat, flow_id, locale, budget_status=not_yet, next_step=("materials",))
    assert chat.state.knockout is None
    assert chat.state.stage is Stage.NURTURE
    assert chat.state.tier == "C"
    assert "ROI" in chat.reply.text
    qid, option = hand_raise_of(flow_id)
    raised = play(open_chat, flow_id, locale, budget_status=not_yet, **{qid: (option,)})
    assert raised.state.stage is Stage.MQL, "a raised hand is a call, but not an SQL without a budget"
    free = play(
        open_chat, flow_id, locale, budget_status="ищем бесплатное" if locale == "ru" else "something free"
    )
    assert free.state.knockout == "free_only"
    assert free.reply.text == compiled(flow_id).texts(locale).knockouts["free_only"]


@pytest.mark.parametrize("locale", LOCALES)
def test_bant_keeps_budget_first_and_knocks_out_no_budget_at_all(open_chat: OpenChat, locale: str) -> None:
    spec = compiled("bant").spec
    assert spec.questions[0].id == "budget_status"
    chat = play(open_chat, "bant", locale, budget_status=("none",))
    assert (chat.state.stage, chat.state.knockout) == (Stage.DISQUALIFIED, "no_budget")


def test_the_puzzle_counts_how_long_the_budget_takes_and_keeps_six_of_seven(open_chat: OpenChat) -> None:
    forming = play(open_chat, "puzzle", "ru", budget_status=("within_quarter",), budget_amount=("band:1",))
    assert forming.last.score.confirmed == tuple(d.id for d in compiled("puzzle").spec.dimensions)
    assert forming.state.stage is Stage.SQL, "7 of 7: the budget comes within a quarter"
    unformed = play(open_chat, "puzzle", "ru", budget_status=("not_formed",), next_step=("materials",))
    assert len(unformed.last.score.confirmed) == 6
    assert "budget" not in unformed.last.score.confirmed
    assert unformed.state.knockout is None
    assert unformed.state.stage is Stage.NURTURE
    assert "ROI" in unformed.reply.text


# --------------------------------------------------------------------------- filtered visitors


@pytest.mark.parametrize("flow_id", LIBRARY)
def test_job_seekers_students_and_competitors_are_never_buttons(flow_id: str) -> None:
    flow = compiled(flow_id)
    filtered = 0
    for question in flow.spec.questions:
        hidden = {o.id for o in question.options if o.hidden}
        for option in question.options:
            if option.knockout in FILTERED:
                assert option.hidden, (question.id, option.id)
                filtered += 1
        for locale in LOCALES:
            shown = {b.id for b in flow.texts(locale).questions[question.id].buttons}
            assert not shown & hidden, (question.id, locale)
            labels = " ".join(b.label for b in flow.texts(locale).questions[question.id].buttons)
            assert not re.search(r"работ[уы] у вас|похожий продукт|job seeker|competing", labels, re.I)
    assert filtered >= 3


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("flow_id", LIBRARY)
@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("student", {"ru": "я студент, пишу диплом", "en": "I'm a student, writing my thesis"}),
        ("job_seeker", {"ru": "ищу работу", "en": "looking for a job"}),
        ("competitor", {"ru": "мы конкуренты", "en": "competitor"}),
    ],
)
def test_a_filtered_visitor_is_told_apart_by_the_first_question_that_can_tell(
    open_chat: OpenChat, flow_id: str, locale: str, reason: str, said: Mapping[str, str]
) -> None:
    spec = compiled(flow_id).spec
    first = next(q for q in spec.questions if any(o.knockout == reason for o in q.options))
    assert spec.question_index[first.id] <= 2, f"{reason} filtered only at question {first.id}"
    chat = play(open_chat, flow_id, locale, **{first.id: said[locale]})
    assert chat.state.knockout == reason
    assert len(chat.state.path) <= 3


@pytest.mark.parametrize("flow_id", LIBRARY)
def test_knockout_goodbyes_promise_nothing_that_needs_a_contact(flow_id: str) -> None:
    for knockout in compiled(flow_id).spec.knockouts:
        for locale in LOCALES:
            text = knockout.text[locale]
            assert "@" not in text, (knockout.reason, text)
            assert not re.search(
                r"пришл[её]м|напиш[уе]м|позвоним|we'll (send|e-mail|call|write)", text, re.I
            ), (
                knockout.reason,
                text,
            )


# --------------------------------------------------------------------------- consent


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("flow_id", LIBRARY)
def test_the_consent_notice_comes_before_the_first_contact_question(
    open_chat: OpenChat, flow_id: str, locale: str
) -> None:
    flow = compiled(flow_id)
    consent = flow.spec.consent
    assert consent is not None
    law = "152-ФЗ" if locale == "ru" else "GDPR"
    chat = play(open_chat, flow_id, locale)
    contacts = [q.id for q in flow.spec.questions if q.is_contact]
    shown = [
        (turn.state.state, reply.text)
        for turn in chat.turns
        for reply in turn.replies
        if law in reply.text and consent.link in reply.text
    ]
    assert len(shown) == 1
    qid, text = shown[0]
    assert qid == next(q for q in chat.state.path if q in contacts)
    assert text.splitlines()[0].endswith(consent.link)


# --------------------------------------------------------------------------- what each framework asks


def test_every_flow_asks_for_a_next_step() -> None:
    for flow_id in LIBRARY:
        assert hand_raise_of(flow_id)


def test_bant_and_champ_ask_what_else_is_considered_and_champ_when() -> None:
    assert "alternatives" in compiled("bant").spec.question_by_id
    champ = compiled("champ").spec.question_by_id
    assert {"alternatives", "timeline"} <= set(champ)
    assert champ["timeline"].kind is QuestionKind.TIMELINE


def test_meddic_asks_the_economic_buyers_budget_a_quantified_metric_and_a_timeline() -> None:
    spec = compiled("meddic").spec
    by_id = spec.question_by_id
    assert by_id["eb_budget"].dimension == "economic_buyer"
    assert by_id["metric_values"].dimension == "metrics"
    assert "→" in by_id["metric_values"].text["ru"]
    assert by_id["timeline"].kind is QuestionKind.TIMELINE
    assert by_id["company_size"].dimension != "metrics", "company size is who they are, not a metric"


@pytest.mark.parametrize("locale", LOCALES)
def test_a_meddic_ceo_of_a_big_company_scores_no_lower_than_a_head_and_can_raise_a_hand(
    open_chat: OpenChat, locale: str
) -> None:
    ceo = play(open_chat, "meddic", locale, role=("executive",), company_size=("band:3",))
    head = play(open_chat, "meddic", locale, role=("head",), company_size=("band:3",))
    assert "next_step" in ceo.state.path
    assert ceo.last.score.hand_raise
    assert ceo.state.score >= head.state.score
    assert (ceo.state.stage, ceo.state.tier) == (Stage.SQL, "A")
