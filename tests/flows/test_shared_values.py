"""What is worked out once and shared: predicates and memo values per spec, and the strings of
states loaded from JSON."""

from __future__ import annotations

import json
from typing import Any

from flows.conditions import matches
from flows.machine import MEMO_SIZE, build_machine, machine_for
from flows.model import Answer, ConversationState
from flows.scoring import FitMemo, score
from flows.spec import Condition, FlowSpec


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


def test_one_predicate_per_condition_of_a_spec(mini: FlowSpec) -> None:
    machine = machine_for(mini)
    asked = [q.ask_if for q in mini.questions if q.ask_if is not None]
    assert asked, "the fixture flow has an ask_if"
    for cond in asked:
        assert machine.when(cond) is machine.when(cond)
    manager = {"role": Answer("role", "Менеджер", ["manager"])}
    for cond in asked:
        assert machine.when(cond)(manager, {}) == matches(cond, mini, manager, {})


def test_a_condition_from_elsewhere_gets_its_own_predicate(mini: FlowSpec) -> None:
    machine = machine_for(mini)
    first = Condition.model_validate({"fact": "returning", "equals": True})
    second = Condition.model_validate({"fact": "returning", "equals": False})
    assert machine.when(first)({}, {"returning": True}) is True
    assert machine.when(second)({}, {"returning": True}) is False


def test_remember_builds_once_and_stops_keeping_when_full(mini: FlowSpec) -> None:
    machine = build_machine(mini)
    built: list[int] = []

    def build() -> list[int]:
        built.append(1)
        return [len(built)]

    assert machine.remember("key", build) is machine.remember("key", build)
    assert len(built) == 1
    machine.memo.update({("filler", i): i for i in range(MEMO_SIZE)})
    assert machine.remember("late", build) == [2]
    assert machine.remember("late", build) == [3], "a full memo builds every time instead of growing"


def test_scores_with_a_fit_line_memo_equal_scores_without(mini: FlowSpec) -> None:
    shared = Answer("role", "Менеджер", ["manager"])
    states = [
        ConversationState("mini", 1, "ru", state="done", answers={"role": shared}),
        ConversationState("mini", 1, "ru", state="done", answers={"role": shared}, facts={"returning": True}),
        ConversationState("mini", 1, "en", state="done", answers={"role": shared}),
    ]
    memo: FitMemo = {}
    for state in states:
        assert score(mini, state, memo=memo) == score(mini, state)
    assert len(memo) == 2, "one line per answer and locale"
    again = score(mini, states[0], memo=memo)
    assert again.breakdown[0] is score(mini, states[1], memo=memo).breakdown[0]
