"""One shared ``transitions`` state machine per flow spec; conversations are tiny cursors.

States are ``new``, every question id in spec order, and ``done``. Triggers:

- ``next``: from ``new`` or a question to the next askable question. The candidate transitions
  are listed in spec order, each guarded by the target's ``ask_if``; the last one goes to
  ``done`` unconditionally, so the first question whose condition holds wins;
- ``knock_out``: from anywhere to ``done``;
- ``to_<state>`` (the library's auto transitions): jump to a state, used by "back" and "restart".

The machine is built with ``model=None`` and ``send_event=True``: guards read the cursor from
the event data, so one machine serves every conversation and no ``add_model`` is needed per
turn. Building a machine costs about as much as a few hundred turns, so machines are cached per
spec object (an edited spec is a new object and gets its own machine) in a small LRU.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from transitions import EventData, Machine

from flows.conditions import Predicate, predicate
from flows.model import Answer
from flows.spec import Condition, FlowSpec

NEW = "new"
DONE = "done"
RESERVED_STATES = frozenset({NEW, DONE})
CACHE_SIZE = 64
MAX_PREDICATES = 1024
MEMO_SIZE = 4096

T = TypeVar("T")


class Cursor:
    """The per-turn model the shared machine moves: the state name plus what guards read."""

    __slots__ = ("answers", "facts", "state")

    def __init__(self, state: str, answers: dict[str, Answer], facts: dict[str, Any]) -> None:
        self.state = state
        self.answers = answers
        self.facts = facts


@dataclass(frozen=True, slots=True)
class FlowMachine:
    """A spec's machine plus what is derived from the spec once: for each state, how many later
    questions are always asked and the ``ask_if`` predicates of the others (for progress), the
    predicate of each condition (see :meth:`when`), and a memo the engine and scoring fill with
    per-spec values such as buttons per question and locale."""

    spec: FlowSpec
    machine: Machine
    always_after: dict[str, int] = field(default_factory=dict)
    maybe_after: dict[str, tuple[Predicate, ...]] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)
    predicates: dict[int, tuple[Condition, Predicate]] = field(default_factory=dict)

    def remember(self, key: Any, build: Callable[[], T]) -> T:
        """The memo's value for ``key``, built by ``build`` the first time (kept while the memo
        holds fewer than ``MEMO_SIZE`` values)."""
        found: T | None = self.memo.get(key)
        if found is None:
            found = build()
            if len(self.memo) < MEMO_SIZE:
                self.memo[key] = found
        return found

    def when(self, cond: Condition) -> Predicate:
        """The predicate of ``cond`` (a condition of this spec), built once."""
        found = self.predicates.get(id(cond))
        if found is not None and found[0] is cond:
            return found[1]
        built = predicate(cond, self.spec)
        if len(self.predicates) < MAX_PREDICATES:
            self.predicates[id(cond)] = (cond, built)
        return built

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


def build_machine(spec: FlowSpec) -> FlowMachine:
    """A fresh machine for ``spec`` (prefer :func:`machine_for`, which caches)."""
    ids = [q.id for q in spec.questions]
    clash = RESERVED_STATES.intersection(ids)
    if clash:
        raise ValueError(f"question ids {sorted(clash)} clash with the machine's own states")
    machine = Machine(
        model=None,
        states=[NEW, *ids, DONE],
        initial=NEW,
        send_event=True,
        auto_transitions=True,
    )
    built = FlowMachine(spec, machine)
    asks = {q.id: built.when(q.ask_if) for q in spec.questions if q.ask_if is not None}
    guards = {qid: _askable(holds) for qid, holds in asks.items()}
    sources = [NEW, *ids]
    for position, source in enumerate(sources):
        for target in spec.questions[position:]:
            guard = guards.get(target.id)
            machine.add_transition("next", source, target.id, conditions=[guard] if guard else None)
        machine.add_transition("next", source, DONE)
    machine.add_transition("knock_out", "*", DONE)
    for position, source in enumerate(sources):
        later = spec.questions[position:]
        built.always_after[source] = sum(1 for q in later if q.ask_if is None)
        built.maybe_after[source] = tuple(asks[q.id] for q in later if q.ask_if is not None)
    return built


_cache: OrderedDict[int, FlowMachine] = OrderedDict()


def machine_for(spec: FlowSpec) -> FlowMachine:
    """The shared machine of ``spec``, built once per spec object (LRU of ``CACHE_SIZE``).

    The cache holds the spec itself, so its ``id`` cannot be reused by another object while the
    entry lives."""
    key = id(spec)
    found = _cache.get(key)
    if found is not None and found.spec is spec:
        _cache.move_to_end(key)
        return found
    built = build_machine(spec)
    _cache[key] = built
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return built
