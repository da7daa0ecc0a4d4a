"""A flow's ``transitions`` state machine: one per loaded flow, shared by all its conversations.

States are ``new``, every question id in spec order, and ``done``. Triggers:

- ``next``: from ``new`` or a question to the next askable question. The candidate transitions
  are listed in spec order, each guarded by the target's ``ask_if``; the last one goes to
  ``done`` unconditionally, so the first question whose condition holds wins;
- ``knock_out``: from anywhere to ``done``;
- ``to_<state>`` (the library's auto transitions): jump to a state, used by "back" and "restart".

The machine is built with ``model=None`` and ``send_event=True``: guards read the cursor from
the event data, so one machine serves every conversation and no ``add_model`` is needed per
turn. ``flows.compiled.compile_flow`` builds it once per loaded flow version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine

from flows.conditions import Predicate
from flows.model import Answer

NEW = "new"
DONE = "done"
RESERVED_STATES = frozenset({NEW, DONE})


class Cursor:
    """The per-turn model the shared machine moves: the state name plus what guards read."""

    __slots__ = ("answers", "facts", "state")

    def __init__(self, state: str, answers: Mapping[str, Answer], facts: Mapping[str, Any]) -> None:
        self.state = state
        self.answers = answers
        self.facts = facts


@dataclass(frozen=True, slots=True)
class FlowMachine:
    """The machine of one flow and the three moves the engine makes with it."""

    machine: Machine

    def fire(self, trigger: str, cursor: Cursor) -> str:
        """Fire ``trigger`` for ``cursor`` and return the state it lands in."""
        self.machine.events[trigger].trigger(cursor)
        return cursor.state

    def next_state(self, cursor: Cursor) -> str:
        return self.fire("next", cursor)

    def jump(self, cursor: Cursor, state: str) -> str:
        return self.fire(f"to_{state}", cursor)

    def knock_out(self, cursor: Cursor) -> str:
        return self.fire("knock_out", cursor)


def _askable(holds: Predicate) -> Callable[[EventData], bool]:
    def guard(event: EventData) -> bool:
        cursor = event.model
        assert isinstance(cursor, Cursor)
        return holds(cursor.answers, cursor.facts)

    return guard


def build_machine(question_ids: Sequence[str], ask_if: Mapping[str, Predicate]) -> FlowMachine:
    """The machine of a flow with these questions (in order), each question id in ``ask_if``
    asked only when its predicate holds."""
    clash = RESERVED_STATES.intersection(question_ids)
    if clash:
        raise ValueError(f"question ids {sorted(clash)} clash with the machine's own states")
    machine = Machine(
        model=None,
        states=[NEW, *question_ids, DONE],
        initial=NEW,
        send_event=True,
        auto_transitions=True,
    )
    guards = {qid: _askable(holds) for qid, holds in ask_if.items()}
    for position, source in enumerate([NEW, *question_ids]):
        for target in question_ids[position:]:
            guard = guards.get(target)
            machine.add_transition("next", source, target, conditions=[guard] if guard else None)
        machine.add_transition("next", source, DONE)
    machine.add_transition("knock_out", "*", DONE)
    return FlowMachine(machine)
