"""What is worked out once and shared: the predicates and answer scores of a compiled flow, and
the strings of states loaded from JSON."""

from __future__ import annotations

import json
from typing import Any

from flows.compiled import CompiledFlow
from flows.conditions import matches
from flows.model import Answer, ConversationState
from flows.scoring import score, score_answers, scored


def loaded(state: ConversationState) -> ConversationState:
    return ConversationState.from_json(json.loads(json.dumps(state.to_json())))


def test_loaded_states_equal_the_original() -> None:
    original = ConversationState(
        "mini",
        1,
        "ru",
        state="role",
        answers={
            "budget": Answer("budget", "около 2 млн", {"min": 2e6, "max": 2e6, "currency": "RUB"}),
            "need": Answer("need", "лиды", ["leads", "reports"]),
        },
        path=("budget", "need", "role"),
        facts={"utm_source": "google"},
    )
    first, second = loaded(original), loaded(original)
    assert first == original
    assert second == original
    money: dict[str, Any] = first.answers["budget"].value
    assert list(money) == ["min", "max", "currency"]


def test_typed_text_of_a_loaded_state_is_kept_as_it_was() -> None:
    typed = "Хотим быстрее отвечать на заявки"
    state = ConversationState("mini", 1, "ru", answers={"comment": Answer("comment", typed, typed)})
    again = loaded(state)
    assert again.answers["comment"].raw == typed
    assert again.answers["comment"].value == typed


def test_a_compiled_question_keeps_the_predicate_of_its_ask_if(mini: CompiledFlow) -> None:
    asked = [q for q in mini.questions if q.spec.ask_if is not None]
    assert asked, "the fixture flow has an ask_if"
    manager = {"role": Answer("role", "Менеджер", ["manager"])}
    for question in asked:
        assert question.spec.ask_if is not None
        assert question.ask_if is not None
        assert question.ask_if(manager, {}) == matches(question.spec.ask_if, mini.spec, manager, {})
        assert question.ask_if({}, {}) == matches(question.spec.ask_if, mini.spec, {}, {})
    assert all(q.ask_if is None for q in mini.questions if q.spec.ask_if is None)


def test_scores_from_answers_scored_beforehand_equal_scores(mini: CompiledFlow) -> None:
    shared = Answer("role", "Менеджер", ["manager"])
    states = [
        ConversationState("mini", 1, "ru", state="done", answers={"role": shared}),
        ConversationState("mini", 1, "ru", state="done", answers={"role": shared}, facts={"returning": True}),
        ConversationState(
            "mini", 1, "en", state="done", answers={"role": shared, "name": Answer("name", "иван", "иван")}
        ),
    ]
    for state in states:
        texts = mini.texts(state.locale)
        answers = {qid: scored(mini, mini.question_by_id[qid], a, texts) for qid, a in state.answers.items()}
        assert score_answers(mini, state, answers, texts) == score(mini, state)
