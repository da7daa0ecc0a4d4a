"""Answers that say what they answer: the conversation version, the question an inbound was made
for, and what the engine does with an answer to a question that is no longer waiting."""

from __future__ import annotations

from collections.abc import Callable

from flows.compiled import CompiledFlow
from flows.engine import step
from flows.model import Inbound
from tests.flows.conftest import NOW, Chat

OpenChat = Callable[..., Chat]


def test_every_change_is_one_version_and_a_new_question_records_when_it_was_put(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    assert (chat.state.version, chat.state.asked_at, chat.state.state) == (1, 1, "budget")
    chat.say("непонятно")  # a miss: the same question, asked at the same version
    assert (chat.state.version, chat.state.asked_at) == (2, 1)
    chat.tap("band:1")
    assert (chat.state.version, chat.state.asked_at, chat.state.state) == (3, 3, "role")
    chat.event("page_view", path="/pricing")  # facts change, the question stays
    assert (chat.state.version, chat.state.asked_at) == (4, 3)


def test_showing_the_question_again_changes_nothing(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    before = chat.state
    turn = step(before, Inbound(kind="start"), mini, NOW)
    assert turn.state is before
    assert turn.replies[-1].question_id == "budget"


def test_a_tap_for_another_question_is_stale(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    answered = chat.send(Inbound.tap("band:1", question_id="budget", version=1))
    assert not answered.stale
    assert chat.state.state == "role"
    before = chat.state
    again = step(before, Inbound.tap("band:0", question_id="budget", version=1), mini, NOW)
    assert again.stale
    assert again.state is before
    assert again.events == ()
    assert [r.question_id for r in again.replies] == [None, "role"]
    assert again.replies[0].text.startswith("На этот вопрос уже есть ответ")


def test_a_typed_answer_or_a_command_for_an_old_question_is_stale(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    chat.tap("band:1")
    for stale in (Inbound.typed("назад", question_id="budget"), Inbound.typed("2 млн", question_id="budget")):
        turn = step(chat.state, stale, mini, NOW)
        assert turn.stale
        assert turn.state is chat.state


def test_an_answer_made_before_the_question_was_put_again_is_stale(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    first = chat.state.version
    chat.tap("band:1")
    chat.say("назад")  # the budget question is put again, at a new version
    assert chat.state.state == "budget"
    assert chat.state.asked_at == chat.state.version
    old = step(chat.state, Inbound.tap("band:0", question_id="budget", version=first), mini, NOW)
    assert old.stale
    fresh = step(
        chat.state, Inbound.tap("band:2", question_id="budget", version=chat.state.version), mini, NOW
    )
    assert not fresh.stale
    assert fresh.state.state == "role"


def test_a_button_from_before_a_miss_still_answers(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    shown = chat.state.version
    chat.say("что-то непонятное")
    turn = chat.send(Inbound.tap("band:1", question_id="budget", version=shown))
    assert not turn.stale
    assert chat.state.state == "role"


def test_after_the_end_an_answer_to_a_question_is_stale_and_the_closing_is_shown(
    mini: CompiledFlow, open_chat: OpenChat
) -> None:
    chat = open_chat(mini)
    chat.tap("band:0")  # no budget: knocked out
    assert chat.state.completed
    turn = step(chat.state, Inbound.tap("owner", question_id="role"), mini, NOW)
    assert turn.stale
    assert turn.state is chat.state
    assert turn.replies[-1].text == "Увы, без бюджета никак."


def test_replies_carry_a_placeholder_for_the_input(mini: CompiledFlow, open_chat: OpenChat) -> None:
    chat = open_chat(mini)
    assert chat.reply.input == "money"
    assert chat.reply.placeholder == "Например, 500 тысяч"
    english = open_chat(mini, locale="en")
    assert english.reply.placeholder == "e.g. $20,000"
