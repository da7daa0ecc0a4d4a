"""engine.step on the fixture flow: starting, every question kind, re-asks, commands,
branches, knock-outs, completion and engagement events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from flows.compiled import CompiledFlow
from flows.engine import step
from flows.events import (
    AnswerNotUnderstood,
    AnswerRecorded,
    ConversationCompleted,
    ConversationRestarted,
    ConversationStarted,
    LeadKnockedOut,
    LeadStageChanged,
)
from flows.model import ConversationState, Inbound, Stage

OpenChat = Callable[..., Any]


def answer_up_to_name(chat: Any) -> None:
    """Budget, role, need, team, timing, demo: a strong lead, now at the name question."""
    chat.say("2 млн")
    chat.tap("owner")
    chat.tap("leads", "speed")
    chat.say("12")
    chat.tap("band:0")
    chat.tap("yes")
    assert chat.state.state == "name"


def finish_contacts(chat: Any) -> None:
    chat.say("Иван Петров")
    chat.say("ivan@acme.ru")
    chat.tap("cmd:skip")
    chat.tap("cmd:skip")
    chat.tap("cmd:skip")


# --------------------------------------------------------------------------- start and resume


def test_start_greets_and_asks_the_first_question(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    turn = chat.last
    assert [r.text for r in turn.replies] == ["Здравствуйте!", "Какой бюджет?"]
    assert turn.state.stage is Stage.IN_PROGRESS
    assert turn.state.state == "budget"
    assert turn.state.path == ("budget",)
    assert turn.events == (ConversationStarted("mini", 1, "ru"),)
    question = turn.replies[1]
    assert question.question_id == "budget"
    assert question.input == "money"
    assert [b.id for b in question.buttons] == ["band:0", "band:1", "band:2"]
    assert [b.label for b in question.buttons] == ["Нет бюджета", "до 1 млн", "от 1 млн"]


def test_start_on_a_started_conversation_resends_the_question_and_changes_nothing(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    before = chat.state
    turn = chat.send(Inbound(kind="start"))
    assert turn.state == before
    assert turn.events == ()
    assert [r.text for r in turn.replies] == ["Кто вы?"]
    assert turn.replies[0].progress == (2, 11)


def test_start_on_a_finished_conversation_resends_the_closing(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    finish_contacts(chat)
    done = chat.state
    turn = chat.send(Inbound(kind="start"))
    assert turn.state == done
    assert turn.events == ()
    assert turn.replies[0].text == chat.turns[-2].replies[-1].text


@pytest.mark.parametrize(
    ("stage", "tier", "closing"),
    [
        (Stage.SQL, "A", "Старший менеджер позвонит сегодня."),
        (Stage.SQL, "B", "Менеджер позвонит."),
        (Stage.MQL, "A", "Скоро свяжемся."),
        (Stage.NURTURE, None, "Пришлём материалы."),
        (Stage.IN_PROGRESS, None, "Пришлём материалы."),
    ],
)
def test_a_finished_conversation_closes_by_its_stage_and_tier(
    mini: CompiledFlow, now: datetime, stage: Stage, tier: str | None, closing: str
) -> None:
    # The closing for the stage and tier, else the stage's own; a stage without one gets nurture's.
    state = ConversationState("mini", 1, "ru", state="done", stage=stage, tier=tier)
    turn = step(state, Inbound(kind="start"), mini, now)
    assert [r.text for r in turn.replies] == [closing]
    assert turn.state == state


def test_a_message_before_start_starts_the_conversation(mini: CompiledFlow, now: datetime) -> None:
    state = ConversationState("mini", 1, "ru")
    turn = step(state, Inbound.typed("привет"), mini, now)
    assert turn.state.state == "budget"
    assert turn.events == (ConversationStarted("mini", 1, "ru"),)
    assert [r.text for r in turn.replies] == ["Здравствуйте!", "Какой бюджет?"]


def test_english_conversation_speaks_english(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini, locale="en")
    assert [r.text for r in chat.last.replies] == ["Hello!", "What budget?"]
    assert [b.label for b in chat.reply.buttons] == ["No budget", "under 1M", "1M or more"]


def test_unknown_locale_falls_back_to_a_flow_text(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini, locale="de")
    assert chat.reply.text in ("Какой бюджет?", "What budget?")


# --------------------------------------------------------------------------- answering each kind


def test_money_typed_is_parsed_into_a_range_value(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    turn = chat.say("2 млн")
    answer = chat.state.answers["budget"]
    assert answer.raw == "2 млн"
    assert answer.value == {"min": 2_000_000, "max": 2_000_000, "currency": None}
    assert answer.understood
    assert turn.events == (AnswerRecorded("budget", True),)
    assert chat.state.state == "role"


def test_a_band_tap_records_the_band_range_and_its_label(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.tap("band:2")
    answer = chat.state.answers["budget"]
    assert answer.raw == "от 1 млн"
    assert answer.value == {"min": 1_000_000, "max": None, "currency": "RUB"}


def test_a_tap_on_an_open_lower_band_records_a_range_inside_it(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.tap("owner")
    chat.tap("leads")
    chat.say("3")
    chat.tap("band:0")
    assert chat.state.answers["timing"].value == {"min": 0.0, "max": 31}
    assert chat.state.answers["timing"].raw == "В этом месяце"


def test_choice_by_tap_and_by_typed_synonym(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    assert [b.id for b in chat.reply.buttons] == ["owner", "manager", "student"]
    chat.say("я директор")
    assert chat.state.answers["role"].value == ["owner"]
    assert chat.state.answers["role"].raw == "я директор"

    other = open_chat(mini)
    other.say("2 млн")
    other.tap("manager")
    assert other.state.answers["role"].value == ["manager"]
    assert other.state.answers["role"].raw == "Менеджер"


def test_typed_choice_falls_back_to_the_other_locale(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.say("CEO")
    assert chat.state.answers["role"].value == ["owner"]


def test_multi_choice_by_taps_keeps_option_order(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.tap("owner")
    assert chat.reply.multi
    chat.tap("reports", "leads")
    answer = chat.state.answers["need"]
    assert answer.value == ["leads", "reports"]
    assert answer.raw == "Заявки, Отчёты"


def test_multi_choice_typed(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.tap("owner")
    chat.say("заявки и отчёты")
    assert chat.state.answers["need"].value == ["leads", "reports"]


def test_number_typed(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.tap("owner")
    chat.tap("leads")
    assert chat.reply.input == "number"
    chat.say("12")
    assert chat.state.answers["team"].value == 12


def test_timeline_typed_is_days(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.tap("owner")
    chat.tap("leads")
    chat.say("12")
    assert chat.reply.input == "date"
    chat.say("через 2 месяца")
    days = chat.state.answers["timing"].value
    assert isinstance(days, int)
    assert 55 <= days <= 65


def test_yes_no_buttons_use_option_labels_and_typed_words(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    assert chat.state.answers["demo"].value is True
    assert chat.state.answers["demo"].raw == "Да, покажите"
    chat.say("назад")
    assert chat.state.state == "demo"
    assert [(b.id, b.label) for b in chat.reply.buttons] == [("yes", "Да, покажите"), ("no", "Нет")]
    chat.say("нет")
    assert chat.state.answers["demo"].value is False


def test_yes_no_without_options_has_default_buttons(puzzle: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(puzzle, locale="en")
    chat.tap("lots")
    assert [(b.id, b.label) for b in chat.reply.buttons] == [("yes", "Yes"), ("no", "No")]
    chat.say("yes")
    assert chat.state.answers["pain_cost"].value is True


def test_name_email_and_contacts(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    assert chat.reply.input == "name"
    chat.say("  Иван Петров ")
    assert chat.state.answers["name"].value == "Иван Петров"
    assert chat.reply.input == "email"
    chat.say("мой адрес Ivan@Acme.ru")
    assert chat.state.answers["email"].value == "ivan@acme.ru"
    chat.say("ООО Ромашка")
    assert chat.state.answers["company"].value == "ООО Ромашка"
    assert chat.reply.input == "tel"
    chat.send(Inbound(kind="contact", text="+7 999 123-45-67"))
    assert chat.state.answers["phone"].value == "+79991234567"
    chat.say("Позвоните после обеда")
    assert chat.state.answers["comment"].value == "Позвоните после обеда"
    assert chat.state.completed


def test_phone_typed(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    chat.say("Иван")
    chat.say("ivan@acme.ru")
    chat.tap("cmd:skip")
    chat.say("8 (999) 123-45-67")
    assert chat.state.answers["phone"].value == "+79991234567"


def test_markup_is_stored_as_plain_text(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    chat.say("Иван")
    chat.say("ivan@acme.ru")
    chat.say("<b>Acme</b><script>alert(1)</script>")
    stored = chat.state.answers["company"]
    assert "<" not in stored.raw
    assert "<" not in stored.value
    assert "Acme" in stored.value


# --------------------------------------------------------------------------- not understood


def test_a_miss_is_reasked_with_the_hint_twice_then_recorded_unknown(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    first = chat.say("понятия не имею")
    assert first.state.state == "budget"
    assert first.state.attempts == 1
    assert first.events == (AnswerNotUnderstood("budget", 1),)
    assert first.replies[0].text == "Напишите сумму в рублях\nКакой бюджет?"
    assert first.replies[0].question_id == "budget"
    assert [b.id for b in first.replies[0].buttons] == ["band:0", "band:1", "band:2"]
    second = chat.say("не скажу")
    assert second.events == (AnswerNotUnderstood("budget", 2),)
    assert second.state.attempts == 2
    third = chat.say("секрет")
    assert third.events == (AnswerNotUnderstood("budget", 3), AnswerRecorded("budget", False))
    answer = third.state.answers["budget"]
    assert (answer.raw, answer.value, answer.understood) == ("секрет", None, False)
    assert third.state.state == "role"
    assert third.state.attempts == 0


def test_default_hint_per_kind_and_locale(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.tap("owner")
    chat.tap("leads")
    chat.say("много")
    assert chat.reply.text.startswith("Напишите число")
    english = open_chat(mini, locale="en")
    english.say("2M")
    english.say("???")
    assert english.reply.text.startswith("Pick an option")


def test_unknown_button_ids_count_as_not_understood(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    for taps in (("nope",), ("owner", "manager"), ("band:1",), ()):
        chat.state = replace(chat.state, attempts=0)
        turn = chat.tap(*taps)
        assert turn.events == (AnswerNotUnderstood("role", 1),), taps


def test_band_ids_out_of_range_or_unlabelled_are_not_understood(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    for tap in ("band:9", "band:-1", "band:x", "band:"):
        chat.state = replace(chat.state, attempts=0)
        assert chat.tap(tap).events == (AnswerNotUnderstood("budget", 1),), tap
    chat.say("2 млн")
    chat.tap("owner")
    chat.tap("leads")
    assert chat.tap("band:1").events == (AnswerNotUnderstood("team", 1),), "team bands have no labels"


def test_an_empty_or_gibberish_name_is_not_understood(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    assert chat.say("   ").events == (AnswerNotUnderstood("name", 1),)
    assert chat.say("\x00\x01\x02").events == (AnswerNotUnderstood("name", 2),)


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize("word", ["назад", "Назад!", "back", "/back", "cmd:back"])
def test_back_returns_to_the_previous_question_and_drops_its_answer(
    mini: CompiledFlow, open_chat: OpenChat, word: str
) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.tap("owner")
    assert chat.state.state == "need"
    turn = chat.tap(word) if word.startswith("cmd:") else chat.say(word)
    assert turn.state.state == "role"
    assert "role" not in turn.state.answers
    assert "budget" in turn.state.answers
    assert turn.state.path == ("budget", "role")
    assert turn.replies[0].text == "Кто вы?"
    assert turn.replies[0].progress == (2, 11)


def test_back_on_the_first_question_says_so(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    turn = chat.say("back")
    assert turn.state.state == "budget"
    assert turn.replies[0].text == "Это первый вопрос.\nКакой бюджет?"


def test_back_then_a_different_branch(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.tap("owner")
    chat.say("назад")
    chat.tap("manager")
    assert chat.state.state == "approver"
    assert chat.state.path == ("budget", "role", "approver")


@pytest.mark.parametrize(
    "word", ["заново", "Начать сначала", "restart", "start over", "/restart", "cmd:restart"]
)
def test_restart_clears_answers_and_starts_again(mini: CompiledFlow, open_chat: OpenChat, word: str) -> None:
    chat = open_chat(mini, utm_source="google")
    chat.say("2 млн")
    chat.tap("owner")
    turn = chat.tap(word) if word.startswith("cmd:") else chat.say(word)
    assert turn.state.state == "budget"
    assert turn.state.answers == {}
    assert turn.state.path == ("budget",)
    assert turn.state.facts == {"utm_source": "google"}
    assert turn.events == (ConversationRestarted(),)
    assert [r.text for r in turn.replies] == ["Какой бюджет?"]


def test_restart_after_a_knockout(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.tap("band:0")
    assert chat.state.stage is Stage.DISQUALIFIED
    turn = chat.say("заново")
    assert turn.state.knockout is None
    assert turn.state.stage is Stage.IN_PROGRESS
    assert turn.state.tier is None
    assert turn.state.score is None
    assert turn.state.state == "budget"


def test_skip_an_optional_question(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    chat.say("Иван")
    chat.say("ivan@acme.ru")
    assert chat.reply.buttons[-1].id == "cmd:skip"
    assert chat.reply.buttons[-1].label == "Пропустить"
    turn = chat.say("пропустить")
    skipped = turn.state.answers["company"]
    assert skipped.skipped
    assert skipped.value is None
    assert turn.events == (AnswerRecorded("company", True, True),)
    assert turn.state.state == "phone"


def test_a_required_question_cannot_be_skipped(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    before = chat.state
    turn = chat.say("skip")
    assert turn.state == before
    assert turn.events == ()
    assert turn.replies[0].text.startswith("Этот вопрос пропустить нельзя")
    assert turn.replies[0].question_id == "budget"
    assert all(b.id != "cmd:skip" for b in turn.replies[0].buttons)


def test_a_command_inside_a_sentence_is_an_answer(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    chat.say("Иван")
    chat.say("ivan@acme.ru")
    chat.tap("cmd:skip")
    chat.tap("cmd:skip")
    chat.say("назад в будущее")
    assert chat.state.answers["comment"].value == "назад в будущее"


# --------------------------------------------------------------------------- branches and progress


def test_progress_counts_only_the_askable_path(mini: CompiledFlow, open_chat: OpenChat) -> None:
    owner = open_chat(mini)
    owner.say("2 млн")
    owner.tap("owner")
    assert owner.reply.progress == (3, 11)
    manager = open_chat(mini)
    manager.say("2 млн")
    manager.tap("manager")
    assert manager.reply.question_id == "approver"
    assert manager.reply.progress == (3, 12)


def test_skipped_branch_questions_are_never_asked(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    finish_contacts(chat)
    asked = {r.question_id for t in chat.turns for r in t.replies if r.question_id}
    assert "approver" not in asked
    assert "approver" not in chat.state.answers


# --------------------------------------------------------------------------- knock-outs


def test_a_band_knockout_ends_the_conversation_at_once(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    turn = chat.tap("band:0")
    assert turn.state.completed
    assert turn.state.stage is Stage.DISQUALIFIED
    assert turn.state.knockout == "no_budget"
    assert turn.state.tier is None
    assert [r.text for r in turn.replies] == ["Увы, без бюджета никак."]
    assert turn.replies[0].input == "none"
    assert turn.events == (
        AnswerRecorded("budget", True),
        LeadKnockedOut("budget", "no_budget"),
        LeadStageChanged(Stage.IN_PROGRESS, Stage.DISQUALIFIED, turn.state.score or 0, None),
        ConversationCompleted(Stage.DISQUALIFIED, None, turn.state.score or 0, "no_budget"),
    )
    assert turn.score is not None
    assert turn.score.stage is Stage.DISQUALIFIED


def test_a_typed_zero_budget_hits_the_band_knockout(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("0 руб")
    assert chat.state.knockout == "no_budget"


def test_an_option_knockout(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini, locale="en")
    chat.say("2M")
    turn = chat.tap("student")
    assert turn.state.knockout == "student"
    assert turn.replies[0].text == "We work with companies."


def test_a_question_knockout_fires_when_the_answer_stays_unknown(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    chat.say("Иван")
    for _ in range(3):
        chat.say("не дам")
    assert chat.state.knockout == "no_contact"
    assert chat.reply.text == "Без почты не сможем связаться."
    assert LeadKnockedOut("email", "no_contact") in chat.events


def test_a_flow_knockout_when_matches_after_an_answer(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.tap("owner")
    chat.tap("leads")
    chat.say("12")
    chat.say("через 3 года")
    assert chat.state.knockout == "far_future"
    assert chat.reply.text == "Вернитесь позже."


def test_after_a_knockout_text_resends_the_knockout(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.tap("band:0")
    done = chat.state
    turn = chat.say("ну пожалуйста")
    # Nothing about the conversation changes, but the words are kept: a new version to save.
    assert turn.state == replace(done, version=done.version + 1)
    assert [r.text for r in turn.replies] == ["Увы, без бюджета никак."]


# --------------------------------------------------------------------------- completion and events


def test_completion_scores_sets_stage_and_tier_and_closes(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini, utm_source="google")
    answer_up_to_name(chat)
    finish_contacts(chat)
    turn = chat.last
    state = turn.state
    assert state.completed
    assert turn.score is not None
    assert (state.stage, state.tier, state.score) == (turn.score.stage, turn.score.tier, turn.score.total)
    assert state.stage is Stage.SQL
    assert state.tier == "A"
    assert turn.replies[-1].text == "Старший менеджер позвонит сегодня."
    assert turn.events[-2:] == (
        LeadStageChanged(Stage.IN_PROGRESS, Stage.SQL, state.score, "A"),
        ConversationCompleted(Stage.SQL, "A", state.score, None),
    )


def weak_lead(chat: Any) -> None:
    chat.tap("band:1")
    chat.tap("manager")
    chat.tap("boss")
    chat.tap("reports")
    chat.say("3")
    chat.say("через год")
    chat.tap("no")
    chat.say("Иван")
    chat.say("ivan@acme.ru")
    chat.say("Acme")
    chat.say("+7 999 123-45-67")
    chat.say("Пока всё")


def test_engagement_after_completion_can_raise_the_stage(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    weak_lead(chat)
    # fit 10 + (8 + 4) + 3 + 2 = 27, answered all +5
    assert (chat.state.stage, chat.state.score, chat.state.tier) == (Stage.NURTURE, 32, "C")
    assert chat.event("page_view", path="/pricing").events == ()
    chat.event("page_view", path="/cases")
    turn = chat.event("page_view", path="/contacts")
    assert turn.replies == ()
    assert turn.events == ()
    assert turn.state.facts["pages_seen"] == 3
    assert turn.state.facts["last_page"] == "/contacts"
    assert turn.score is not None
    assert (turn.state.stage, turn.state.score) == (Stage.NURTURE, 37)
    later = chat.event("utm", utm_source="yandex")
    assert later.state.facts["utm_source"] == "yandex"
    assert (later.state.stage, later.state.score, later.state.tier) == (Stage.MQL, 47, "B")
    assert later.events == (LeadStageChanged(Stage.NURTURE, Stage.MQL, 47, "B"),)
    assert later.score is not None
    assert later.score.stage is Stage.MQL


def test_the_stage_never_moves_down_after_completion(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini, utm_source="google")
    answer_up_to_name(chat)
    finish_contacts(chat)
    assert chat.state.stage is Stage.SQL
    turn = chat.event("utm", utm_source="facebook")
    assert turn.state.stage is Stage.SQL
    assert turn.events == ()


def test_events_before_completion_only_update_facts(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    before = chat.state
    turn = chat.event("page_view", path="/a")
    assert turn.replies == ()
    assert turn.events == ()
    assert turn.score is None
    assert turn.state == replace(
        before, facts={"pages_seen": 1, "last_page": "/a"}, version=before.version + 1
    )


def test_events_with_odd_data_are_ignored_or_cleaned(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    facts = chat.state.facts
    odd: list[tuple[str, dict[str, Any]]] = [
        ("Page View", {"x": 1}),
        ("", {}),
        ("x" * 500, {}),
        ("page_view", {"path": ["not", "text"]}),
    ]
    for name, data in odd:
        chat.send(Inbound(kind="event", name=name, data=data))
    assert chat.state.facts == {**facts, "pages_seen": 1}
    chat.send(
        Inbound(
            kind="event",
            name="utm",
            data={
                "utm_source": "<b>x</b>" * 1000,
                "Bad Key": 1,
                "nested": {"a": 1},
                "hand_raise": True,
                "n": float("nan"),
                "ok": 3,
            },
        )
    )
    assert "Bad Key" not in chat.state.facts
    assert "nested" not in chat.state.facts
    assert "n" not in chat.state.facts
    assert "hand_raise" not in chat.state.facts
    assert chat.state.facts["ok"] == 3
    assert len(chat.state.facts["utm_source"]) <= 300
    assert "<" not in chat.state.facts["utm_source"]


def test_facts_are_bounded(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    for i in range(200):
        chat.send(Inbound(kind="event", name=f"signal_{i}"))
    assert len(chat.state.facts) == 64


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "inbound",
    [
        Inbound.typed("я" * 100_000),
        Inbound.typed("\x00\x1b\u202e\ufeff\x07"),
        Inbound.typed("🔥💰🚀" * 50),
        Inbound.tap("owner"),
        Inbound.tap(*(str(i) for i in range(1000))),
        Inbound(kind="contact", text="not a phone"),
        Inbound(kind="contact", data={"phone": 123}),
        Inbound(kind="choice", choices=("band:99999999999999999999",)),
        Inbound(kind="choice", choices=(["owner"], None, 3)),  # type: ignore[arg-type]
        Inbound(kind="choice", choices=None),  # type: ignore[arg-type]
        Inbound(kind="text", text=None),  # type: ignore[arg-type]
        Inbound(kind="unknown"),  # type: ignore[arg-type]
    ],
)
def test_hostile_input_is_a_polite_reask(mini: CompiledFlow, open_chat: OpenChat, inbound: Inbound) -> None:
    chat = open_chat(mini)
    turn = chat.send(inbound)
    assert turn.state.state == "budget"
    assert turn.events == (AnswerNotUnderstood("budget", 1),)
    assert turn.replies[0].question_id == "budget"


def test_a_huge_text_answer_is_stored_capped(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    chat.say("Иван")
    chat.say("ivan@acme.ru")
    chat.tap("cmd:skip")
    chat.tap("cmd:skip")
    chat.say("слово " * 20_000)
    answer = chat.state.answers["comment"]
    assert len(answer.raw) <= 500
    assert len(answer.value) <= 2000


def test_a_state_on_a_question_the_flow_no_longer_has_starts_over(mini: CompiledFlow, now: datetime) -> None:
    state = ConversationState("mini", 1, "ru", state="gone", stage=Stage.IN_PROGRESS, path=("gone",))
    turn = step(state, Inbound.typed("да"), mini, now)
    assert turn.state.state == "budget"
    assert turn.events == (ConversationRestarted(),)


def test_the_turn_state_round_trips_through_json(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini, utm_source="google")
    answer_up_to_name(chat)
    finish_contacts(chat)
    for turn in chat.turns:
        assert ConversationState.from_json(turn.state.to_json(), turn.state.version) == turn.state


def test_a_shared_contact_answers_the_phone_question(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answer_up_to_name(chat)
    chat.say("Иван")
    chat.say("ivan@acme.ru")
    chat.tap("cmd:skip")
    chat.send(Inbound(kind="contact", data={"phone": "+7 999 123-45-67"}))
    assert chat.state.answers["phone"].value == "+79991234567"


def test_a_shared_contact_on_another_question_is_not_an_answer(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    turn = chat.send(Inbound(kind="contact", text="+7 999 123-45-67"))
    assert turn.events == (AnswerNotUnderstood("budget", 1),)


def test_yes_no_typed_in_the_other_language(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.say("2 млн")
    chat.tap("owner")
    chat.tap("leads")
    chat.say("12")
    chat.tap("band:1")
    chat.say("yes")
    assert chat.state.answers["demo"].value is True


def test_events_after_a_knockout_only_update_facts(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini, utm_source="google")
    chat.tap("band:0")
    before = chat.state
    turn = chat.event("page_view", path="/pricing")
    assert turn.events == ()
    assert turn.score is None
    assert turn.state.stage is Stage.DISQUALIFIED
    assert turn.state.score == before.score
    assert turn.state.facts["pages_seen"] == 1


def test_other_events_set_a_fact(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    chat.event("returning")
    assert chat.state.facts["returning"] is True


def test_restart_after_completion_starts_a_new_run(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini, utm_source="google")
    answer_up_to_name(chat)
    finish_contacts(chat)
    assert chat.state.stage is Stage.SQL
    turn = chat.tap("cmd:restart")
    assert turn.events == (ConversationRestarted(),)
    assert (turn.state.state, turn.state.stage, turn.state.answers) == ("budget", Stage.IN_PROGRESS, {})
    assert turn.replies[0].progress == (1, 11)
