"""What ``flows check`` accepts, the service can run: random edits of a valid flow are either
refused by the loader as problems, or the flow compiles, simulates and carries conversations to
their end without an exception. A failure here is a check that is missing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.compiled import compile_flow
from flows.engine import step
from flows.model import ConversationState, Inbound
from flows.simulate import simulate
from flows.spec import FlowSpec, FlowSpecError, parse_flow
from tests.flows.conftest import NOW

MINI = yaml.safe_load((Path(__file__).parent / "fixtures" / "mini.yaml").read_text(encoding="utf-8"))

NUMBERS = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([0, 1, -1, 100, 101, -101, 2**31 - 1, 2**31, 10**15, 10**16]),
    st.floats(allow_nan=True, allow_infinity=True),
)
TEXTS = st.sampled_from(
    [
        "",
        " ",
        "yes",
        "no",
        "owner",
        "manager",
        "budget",
        "timing",
        "назад",
        "skip",
        "ru",
        "en",
        "*",
        "RUB",
        "USD",
        "XXX",
        "new",
        "done",
        "A",
        "Z",
        "far_future",
        "student",
        "x" * 65,
    ]
)
VALUES = st.one_of(NUMBERS, TEXTS, st.booleans(), st.none(), st.just([]), st.just({}))


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def edited(draw: st.DrawFn) -> dict[str, Any]:
    """The mini flow with a few random edits: a value replaced, a key or item removed, an item
    doubled."""
    data: dict[str, Any] = copy.deepcopy(MINI)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        action = draw(st.sampled_from(["replace", "remove", "double"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "remove":
            del parent[path[-1]]
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
    return data


def _talk(flow: Any, answers: list[str], locale: str) -> None:
    state = ConversationState(flow.id, flow.version, locale)
    turn = step(state, Inbound(kind="start"), flow, NOW)
    for text in answers:
        if turn.state.completed:
            return
        question = turn.replies[-1] if turn.replies else None
        buttons = question.buttons if question is not None else ()
        inbound = Inbound.tap(buttons[0].id) if text == "#1" and buttons else Inbound.typed(text)
        turn = step(turn.state, inbound, flow, NOW)


def _load(text: str) -> FlowSpec | FlowSpecError:
    try:
        return parse_flow(text, "edited.yaml")
    except FlowSpecError as exc:
        return exc


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edited(),
    st.lists(
        st.sampled_from(["#1", "да", "2 млн", "через месяц", "10", "ivan@example.com", "назад", "?", "Иван"]),
        min_size=20,
        max_size=40,
    ),
)
def test_a_flow_that_loads_also_runs(data: dict[str, Any], answers: list[str]) -> None:
    loaded = _load(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    if isinstance(loaded, FlowSpecError):
        assert loaded.problems
        assert all(p.message for p in loaded.problems)
        return
    spec = loaded
    flow = compile_flow(spec)
    simulate(flow, limit=40)
    for locale in spec.locales:
        _talk(flow, answers, locale)
