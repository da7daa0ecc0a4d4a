"""The flow's shared state machine: states, guarded ``next``, knock-out and jumps; one machine
per compiled flow, whatever the number of conversations."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from flows.compiled import CompiledFlow, compile_flow
from flows.engine import step
from flows.machine import DONE, NEW, Cursor, build_machine
from flows.model import Answer, ConversationState, Inbound
from flows.spec import FlowSpec, FlowSpecError, parse_flow


def cursor(state: str, **answers: Answer) -> Cursor:
    return Cursor(state, dict(answers), {})


def test_states_are_new_each_question_and_done(mini: CompiledFlow) -> None:
    assert list(mini.machine.machine.states) == [NEW, *(q.id for q in mini.spec.questions), DONE]


def test_next_walks_questions_in_order_and_skips_unmet_ask_if(mini: CompiledFlow) -> None:
    fm = mini.machine
    c = Cursor(NEW, {}, {})
    assert fm.next_state(c) == "budget"
    assert fm.next_state(c) == "role"
    c.answers = {"role": Answer("role", "Owner", ["owner"])}
    assert fm.next_state(c) == "need", "approver is asked only of managers"


def test_next_takes_the_branch_when_its_condition_holds(mini: CompiledFlow) -> None:
    c = cursor("role", role=Answer("role", "Manager", ["manager"]))
    assert mini.machine.next_state(c) == "approver"


def test_next_from_the_last_question_is_done(mini: CompiledFlow) -> None:
    assert mini.machine.next_state(cursor("comment")) == DONE


def test_knock_out_goes_to_done_from_anywhere(mini: CompiledFlow) -> None:
    for state in ("budget", "team", "comment"):
        assert mini.machine.knock_out(cursor(state)) == DONE


def test_jump_lands_on_any_state(mini: CompiledFlow) -> None:
    assert mini.machine.jump(cursor("email"), "role") == "role"
    assert mini.machine.jump(cursor(DONE), NEW) == NEW


def test_conversations_share_the_flow_machine_and_are_never_added_to_it(
    mini: CompiledFlow, now: datetime
) -> None:
    started = [step(ConversationState("mini", 1, "ru"), Inbound(kind="start"), mini, now) for _ in range(20)]
    moved = [step(turn.state, Inbound.tap("band:2"), mini, now) for turn in started]
    assert {turn.state.state for turn in moved} == {"role"}
    assert mini.machine.machine.models == []


def test_an_edited_spec_compiles_to_its_own_machine(mini: CompiledFlow, fixtures_dir: Path) -> None:
    text = (fixtures_dir / "mini.yaml").read_text(encoding="utf-8")
    edited = compile_flow(parse_flow(text.replace("equals: manager", "equals: owner")))
    assert edited.machine is not mini.machine
    c = cursor("role", role=Answer("role", "Owner", ["owner"]))
    assert edited.machine.next_state(c) == "approver"
    assert mini.machine.next_state(cursor("role", role=Answer("role", "Owner", ["owner"]))) == "need"


@pytest.mark.parametrize("reserved", ["new", "done"])
def test_question_ids_may_not_clash_with_machine_states(fixtures_dir: Path, reserved: str) -> None:
    text = (fixtures_dir / "puzzle_mini.yaml").read_text(encoding="utf-8")
    clashing = text.replace("id: money\n    dimension", f"id: {reserved}\n    dimension")
    with pytest.raises(FlowSpecError, match=f"questions\\[3\\].id: '{reserved}' is reserved"):
        parse_flow(clashing)
    unchecked = FlowSpec.model_validate(yaml.safe_load(clashing))
    with pytest.raises(ValueError, match=reserved):
        build_machine([q.id for q in unchecked.questions], {})
