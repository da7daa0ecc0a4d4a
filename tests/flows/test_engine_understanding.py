"""How a conversation reads typed answers: echoes and corrections, clarifying questions, clear
matches before a knock-out or a hand-raise, currencies the flow cannot convert, open budgets."""

from __future__ import annotations

import pytest

from flows.compiled import CompiledFlow
from flows.events import AnswerNotUnderstood
from flows.model import Inbound, Stage
from tests.flows.conftest import Chat, fixture_flow

FLOW = fixture_flow("understanding")


def _text(flow: CompiledFlow, question_id: str, locale: str = "ru") -> str:
    return flow.texts(locale).questions[question_id].text


# One plain answer to every question: taps where there are buttons.
ANSWERS = {
    "budget": Inbound.tap("band:2"),
    "role": Inbound.tap("owner"),
    "timing": Inbound.tap("band:0"),
    "demo": Inbound.tap("no"),
    "next_step": Inbound.tap("materials"),
    "team": Inbound.typed("12"),
    "phone": Inbound.tap("cmd:skip"),
    "name": Inbound.typed("Анна"),
    "email": Inbound.typed("anna@acme.ru"),
}


def _at(question_id: str, locale: str = "ru") -> Chat:
    """A conversation waiting at ``question_id``, every earlier question answered plainly."""
    chat = Chat.open(FLOW, locale)
    while chat.state.state != question_id:
        chat.send(ANSWERS[chat.state.state])
    return chat


def _answer_the_rest(chat: Chat) -> None:
    while not chat.state.completed:
        chat.send(ANSWERS[chat.state.state])


# --------------------------------------------------------------------------- echo and correction


def test_a_typed_amount_is_repeated_back_in_one_line_before_the_next_question() -> None:
    chat = _at("budget")
    chat.say("ну тыщ 300")
    assert chat.reply.text == "Записал: около 300 000 ₽\n" + _text(FLOW, "role")
    assert chat.state.answers["budget"].value == {"min": 300_000, "max": 300_000, "currency": None}
    assert chat.state.confirm == "budget"


@pytest.mark.parametrize(
    ("locale", "said", "echo"),
    [
        ("ru", "от 1 до 2 млн", "Записал: от 1 000 000 до 2 000 000 ₽"),
        ("ru", "$20k", "Записал: 20 000 $"),
        ("en", "about $20,000", "Noted: about $20,000"),
        ("en", "north of 2M", "Noted: from 2,000,000 RUB"),
        ("en", "no limit, whatever it takes", "Noted: a budget with no upper limit"),
    ],
)
def test_echo_lines_in_both_languages(locale: str, said: str, echo: str) -> None:
    chat = _at("budget", locale)
    chat.say(said)
    assert chat.reply.text.split("\n")[0] == echo


def test_timelines_and_numbers_are_repeated_back_too() -> None:
    chat = _at("timing")
    chat.say("недели через три")
    assert chat.reply.text.split("\n")[0] == "Записал: к 23 марта"  # now is 2 March 2026
    chat = _at("team")
    chat.say("человек 15")
    assert chat.reply.text.split("\n")[0] == "Записал: 15"


def test_a_tapped_band_or_its_label_typed_is_not_repeated_back() -> None:
    chat = _at("budget")
    chat.tap("band:1")
    assert chat.reply.text == _text(FLOW, "role")
    assert chat.state.confirm is None
    chat = _at("timing")
    chat.say("пока не определились")  # a band's label, typed: what the button says needs no echo
    assert chat.state.answers["timing"].value == {"min": 31, "max": None}
    assert chat.reply.text == _text(FLOW, "demo")
    chat = _at("budget")
    chat.say("до 1 млн")  # the label, but also an amount: "up to 1 000 000"
    assert chat.reply.text.startswith("Записал: до 1 000 000 ₽\n")


@pytest.mark.parametrize("said", ["нет", "Нет!", "не так", "неправильно", "no", "that's wrong"])
def test_no_right_after_an_echo_goes_back_to_that_question(said: str) -> None:
    chat = _at("budget")
    chat.say("тыщ 300")
    chat.say(said)
    assert chat.state.state == "budget"
    assert "budget" not in chat.state.answers
    assert chat.reply.text == "Хорошо, давайте поправим.\n" + _text(FLOW, "budget")
    chat.say("3 млн")
    assert chat.reply.text.startswith("Записал: 3 000 000 ₽\n")
    assert chat.state.answers["budget"].value["min"] == 3_000_000


def test_no_after_an_echo_answers_a_yes_no_question() -> None:
    chat = _at("timing")
    chat.say("через неделю")
    assert chat.state.state == "demo"
    chat.say("нет")
    assert chat.state.answers["demo"].value is False
    assert chat.state.state == "next_step"


def test_no_after_an_echo_is_a_refusal_at_a_contact_question_but_wrong_still_goes_back() -> None:
    chat = _at("team")
    chat.say("15")
    assert chat.state.state == "phone"
    chat.say("нет")
    assert chat.state.state == "phone"  # "no" to "your phone?" is not a correction of the 15
    assert chat.state.attempts == 1
    chat = _at("team")
    chat.say("15")
    chat.say("не так")
    assert chat.state.state == "team"


def test_no_goes_back_only_right_after_the_echo() -> None:
    chat = _at("budget")
    chat.say("тыщ 300")
    chat.say("абырвалг")  # a miss first
    chat.say("нет")
    assert chat.state.state == "role"
    assert chat.state.attempts == 2
    chat = _at("budget")
    chat.tap("band:2")
    chat.say("нет")  # no echo was shown: nothing to correct
    assert chat.state.state == "role"


def test_an_echo_before_the_closing_is_not_shown() -> None:
    chat = _at("budget")
    chat.say("0")
    assert chat.state.knockout == "no_budget"
    assert chat.reply.text == FLOW.texts("ru").knockouts["no_budget"]


# ----------------------------------------------------------- money the flow cannot convert, open budgets


def test_a_currency_the_flow_has_no_rate_for_is_named_and_asked_again() -> None:
    chat = _at("budget")
    chat.say("5 млн тенге")
    assert chat.state.state == "budget"
    assert "budget" not in chat.state.answers
    assert chat.reply.text.split("\n")[0] == "Не могу пересчитать KZT: напишите, пожалуйста, сумму в рублях."
    chat = _at("budget", "en")
    chat.say("5 million tenge")
    assert chat.reply.text.split("\n")[0] == "I can't convert KZT here: please give the amount in roubles."


@pytest.mark.parametrize("said", ["без ограничений", "нет ограничений", "бюджет не ограничен"])
def test_an_open_budget_is_the_strongest_band_never_zero_or_a_knock_out(said: str) -> None:
    chat = _at("budget")
    chat.say(said)
    assert chat.state.knockout is None
    assert chat.state.answers["budget"].value == {
        "min": 1_000_000,
        "max": None,
        "currency": "RUB",
        "unlimited": True,
    }
    assert chat.reply.text.startswith("Записал: бюджет без ограничений\n")
    _answer_the_rest(chat)
    line = next(line for line in chat.last.score.breakdown if line.source == "budget")  # type: ignore[union-attr]
    assert line.points == 30


# --------------------------------------------------------------------------- clarifying questions


def test_two_close_options_get_a_clarifying_question_with_those_two_buttons() -> None:
    chat = _at("role")
    turn = chat.say("директор")
    assert chat.state.state == "role"
    assert chat.state.clarify == ("owner", "head")
    assert [type(e) for e in turn.events] == [AnswerNotUnderstood]
    assert chat.reply.text == "Уточните, пожалуйста: «Собственник / CEO» или «Руководитель направления»?"
    assert [(b.id, b.label) for b in chat.reply.buttons] == [
        ("owner", "Собственник / CEO"),
        ("head", "Руководитель направления"),
    ]
    assert chat.reply.question_id == "role"
    chat.tap("head")
    assert chat.state.answers["role"].value == ["head"]
    assert not chat.state.clarify


def test_first_or_second_after_a_clarifying_question_means_one_of_its_two_buttons() -> None:
    chat = _at("role")
    chat.say("менеджер и руководитель отдела")
    assert chat.state.clarify == ("head", "specialist")
    chat.say("первый")  # the first of the two, not the first option of the question
    assert chat.state.answers["role"].value == ["head"]


def test_a_clarifying_question_answered_in_words_or_with_nonsense() -> None:
    chat = _at("role")
    chat.say("директор")
    chat.say("я владелец")
    assert chat.state.answers["role"].value == ["owner"]
    chat = _at("role")
    chat.say("директор")
    chat.say("абырвалг")
    assert chat.state.clarify == ()
    assert chat.state.attempts == 2
    assert chat.reply.text.endswith(_text(FLOW, "role"))


@pytest.mark.parametrize(
    ("said", "role"),
    [
        ("директор по маркетингу", "head"),
        ("я директор по маркетингу", "head"),
        ("IT-директор", "head"),
        ("учредитель", "owner"),
        ("предприниматель", "owner"),
        ("закупщик", "specialist"),
        ("ЛПР", "owner"),
    ],
)
def test_job_titles_by_head_word_and_seniority(said: str, role: str) -> None:
    chat = _at("role")
    chat.say(said)
    assert chat.state.answers["role"].value == [role]


# ------------------------------------------------------ clear matches before knock-outs and hand-raises


@pytest.mark.parametrize(
    "said",
    [
        "изучаю рынок",
        "ищу работающее решение",
        "я не студент",
        "не конкурент, просто интересно",
        "а" * 30,
        "<b>" * 60,
        "студнт",
    ],
)
def test_no_knock_out_without_a_clear_match(said: str) -> None:
    chat = _at("role")
    chat.say(said)
    assert chat.state.knockout is None
    assert chat.state.state == "role"


def test_a_clear_knock_out_still_knocks_out() -> None:
    chat = _at("role")
    chat.say("я студент, пишу диплом")
    assert chat.state.knockout == "student"
    assert chat.state.stage is Stage.DISQUALIFIED


@pytest.mark.parametrize("said", ["не надо демо", "демо не нужно", "не звоните", "не надо звонить"])
def test_no_hand_raise_from_a_negated_request(said: str) -> None:
    chat = _at("next_step")
    chat.say(said)
    assert "next_step" not in chat.state.answers
    assert chat.state.state == "next_step"


def test_dont_call_me_in_english_and_a_negated_call_with_another_choice() -> None:
    chat = _at("next_step", "en")
    chat.say("don't call me")
    assert chat.state.state == "next_step"
    chat = _at("next_step")
    chat.say("звонить не надо, пришлите цены")
    assert chat.state.answers["next_step"].value == ["materials"]


def test_a_hedged_yes_does_not_raise_a_hand_but_a_clear_one_does() -> None:
    chat = _at("demo")
    chat.say("наверное да")
    assert chat.state.state == "demo"
    chat.say("да, давайте")
    assert chat.state.answers["demo"].value is True
    chat = _at("demo")
    chat.say("вряд ли")  # a hedged no is fine: "no" raises nothing
    assert chat.state.answers["demo"].value is False


# --------------------------------------------------------------------------- contacts


def test_phone_among_words_and_a_truncated_phone() -> None:
    chat = _at("phone")
    chat.say("+7 903 12-34-5")
    assert chat.state.state == "phone"
    chat.say("+7 903 123-45-67, лучше вечером")
    assert chat.state.answers["phone"].value == "+79031234567"


@pytest.mark.parametrize("said", [".", "123", "anna@acme.ru"])
def test_a_name_question_takes_no_dot_number_or_email(said: str) -> None:
    chat = _at("name")
    chat.say(said)
    assert chat.state.state == "name"
    chat.say("меня зовут Анна")
    assert chat.state.answers["name"].value == "Анна"


def test_a_past_moment_is_not_a_timeline() -> None:
    chat = _at("timing")
    chat.say("год назад")
    assert chat.state.state == "timing"
