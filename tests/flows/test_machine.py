"""The shared per-spec state machine: states, guarded ``next``, knock-out, jumps and the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows import machine as machine_module
from flows.machine import DONE, NEW, Cursor, build_machine, machine_for
from flows.model import Answer
from flows.spec import FlowSpec, FlowSpecError, parse_flow


def cursor(state: str, **answers: Answer) -> Cursor:
    return Cursor(state, dict(answers), {})


def test_states_are_new_each_question_and_done(mini: FlowSpec) -> None:
    fm = machine_for(mini)
    assert list(fm.machine.states) == [NEW, *(q.id for q in mini.questions), DONE]


def test_next_walks_questions_in_order_and_skips_unmet_ask_if(mini: FlowSpec) -> None:
    fm = machine_for(mini)
    c = cursor(NEW)
    assert fm.next_state(c) == "budget"
    assert fm.next_state(c) == "role"
    c.answers["role"] = Answer("role", "Owner", ["owner"])
    assert fm.next_state(c) == "need", "approver is asked only of managers"


def test_next_takes_the_branch_when_its_condition_holds(mini: FlowSpec) -> None:
    fm = machine_for(mini)
    c = cursor("role", role=Answer("role", "Manager", ["manager"]))
    assert fm.next_state(c) == "approver"


def test_next_from_the_last_question_is_done(mini: FlowSpec) -> None:
    assert machine_for(mini).next_state(cursor("comment")) == DONE


def test_knock_out_goes_to_done_from_anywhere(mini: FlowSpec) -> None:
    fm = machine_for(mini)
    for state in ("budget", "team", "comment"):
        assert fm.knock_out(cursor(state)) == DONE


def test_jump_lands_on_any_state(mini: FlowSpec) -> None:
    fm = machine_for(mini)
    assert fm.jump(cursor("email"), "role") == "role"
    assert fm.jump(cursor(DONE), NEW) == NEW


def test_one_machine_per_spec_object(mini: FlowSpec) -> None:
    assert machine_for(mini) is machine_for(mini)


def test_an_edited_spec_gets_its_own_machine(mini: FlowSpec, fixtures_dir: Path) -> None:
    text = (fixtures_dir / "mini.yaml").read_text(encoding="utf-8")
    edited = parse_flow(text.replace("equals: manager", "equals: owner"))
    fm = machine_for(edited)
    assert fm is not machine_for(mini)
    c = cursor("role", role=Answer("role", "Owner", ["owner"]))
    assert fm.next_state(c) == "approver"


def test_the_cache_is_bounded(fixtures_dir: Path) -> None:
    text = (fixtures_dir / "mini.yaml").read_text(encoding="utf-8")
    specs = [parse_flow(text) for _ in range(machine_module.CACHE_SIZE + 5)]
    for spec in specs:
        machine_for(spec)
    assert len(machine_module._cache) == machine_module.CACHE_SIZE
    assert machine_for(specs[-1]).spec is specs[-1]


@pytest.mark.parametrize("reserved", ["new", "done"])
def test_question_ids_may_not_clash_with_machine_states(fixtures_dir: Path, reserved: str) -> None:
    text = (fixtures_dir / "puzzle_mini.yaml").read_text(encoding="utf-8")
    clashing = text.replace("id: money\n    dimension", f"id: {reserved}\n    dimension")
    with pytest.raises(FlowSpecError, match=f"questions\\[3\\].id: '{reserved}' is reserved"):
        parse_flow(clashing)
    unchecked = FlowSpec.model_validate(yaml.safe_load(clashing))
    with pytest.raises(ValueError, match=reserved):
        build_machine(unchecked)
