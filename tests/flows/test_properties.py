"""Properties over random conversations: step never crashes, states survive JSON, scores add up,
the same inputs give the same outputs, and nonsense always ends within a bounded number of turns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flows.spec
from flows.compiled import CompiledFlow, compile_flow
from flows.engine import step
from flows.model import COMPLETED_STAGES, ConversationState, Inbound, Turn
from flows.scoring import score
from flows.spec import LIBRARY, load_flow

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures"


def all_specs() -> list[CompiledFlow]:
    specs = [load_flow(path) for path in sorted(FIXTURES.glob("*.yaml"))]
    library = Path(flows.spec.__file__).parent / "library"
    specs += [load_flow(library / f"{i}.yaml") for i in LIBRARY if (library / f"{i}.yaml").exists()]
    return [compile_flow(spec) for spec in specs]


SPECS = all_specs()


def button_ids(spec: CompiledFlow) -> list[str]:
    ids = {"yes", "no", "cmd:back", "cmd:restart", "cmd:skip", "band:0", "band:1", "band:99", "cmd:x", ""}
    for question in spec.spec.questions:
        ids.update(o.id for o in question.options)
    return sorted(ids)


WORDS = [
    "назад",
    "back",
    "заново",
    "start over",
    "пропустить",
    "skip",
    "да",
    "no",
    "2 млн",
    "$15k",
    "через месяц",
    "next quarter",
    "12",
    "ivan@gmail.com",
    "+7 999 123-45-67",
    "Иван",
    "CEO",
    "я директор",
    "<script>x</script>",
    "🔥",
    "\x00\x1b",
    "я" * 5000,
]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
event_data = st.dictionaries(
    st.text(max_size=12), json_scalars | st.lists(json_scalars, max_size=3), max_size=4
)


def inbounds(spec: CompiledFlow) -> st.SearchStrategy[Inbound]:
    ids = button_ids(spec)
    return st.one_of(
        st.sampled_from(WORDS).map(Inbound.typed),
        st.text(max_size=60).map(Inbound.typed),
        st.lists(st.sampled_from(ids) | st.text(max_size=8), max_size=4).map(lambda c: Inbound.tap(*c)),
        st.builds(
            lambda name, data: Inbound(kind="event", name=name, data=data),
            st.sampled_from(["page_view", "returning", "utm", "Bad Name", ""]) | st.text(max_size=10),
            event_data,
        ),
        st.just(Inbound(kind="start")),
        st.text(max_size=20).map(lambda t: Inbound(kind="contact", text=t)),
    )


def conversation(spec: CompiledFlow) -> st.SearchStrategy[tuple[CompiledFlow, str, list[Inbound]]]:
    return st.tuples(
        st.just(spec), st.sampled_from(["ru", "en", "de"]), st.lists(inbounds(spec), max_size=40)
    )


any_conversation = st.sampled_from(SPECS).flatmap(conversation)


def run(spec: CompiledFlow, locale: str, script: list[Inbound]) -> list[Turn]:
    state = ConversationState(spec.id, spec.version, locale, facts={"utm_source": "google"})
    turns = []
    for inbound in script:
        turn = step(state, inbound, spec, NOW)
        turns.append(turn)
        state = turn.state
    return turns


def check_score(spec: CompiledFlow, state: ConversationState) -> None:
    result = score(spec, state)
    assert result.total == sum(line.points for line in result.breakdown)
    assert 0 <= result.total <= 100
    assert 0 <= result.fit <= spec.spec.scoring.fit
    assert 0 <= result.engagement <= spec.spec.scoring.engagement


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_conversation)
def test_no_inbound_sequence_breaks_a_conversation(case: tuple[CompiledFlow, str, list[Inbound]]) -> None:
    spec, locale, script = case
    for turn in run(spec, locale, script):
        state = turn.state
        assert ConversationState.from_json(state.to_json(), version=state.version) == state
        assert state.state in {"new", "done", *spec.question_by_id}
        assert state.completed == (state.stage in COMPLETED_STAGES)
        assert state.attempts < 3
        if turn.score is not None:
            assert turn.score.total == sum(line.points for line in turn.score.breakdown)
        for reply in turn.replies:
            assert isinstance(reply.text, str)
            assert reply.text.strip()
            assert "<" not in reply.text
        check_score(spec, state)


@settings(max_examples=60, deadline=None)
@given(any_conversation)
def test_the_same_inputs_give_the_same_outputs(case: tuple[CompiledFlow, str, list[Inbound]]) -> None:
    spec, locale, script = case
    assert run(spec, locale, script) == run(spec, locale, script)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nonsense=st.lists(st.text(alphabet="ъьЪЬ#%&*~", min_size=1, max_size=12), min_size=1, max_size=5))
def test_nonsense_always_ends_within_three_misses_per_question(
    spec: CompiledFlow, nonsense: list[str]
) -> None:
    state = step(ConversationState(spec.id, spec.version, "ru"), Inbound(kind="start"), spec, NOW).state
    limit = 3 * len(spec.questions)
    for turn_number in range(limit):
        if state.completed:
            break
        state = step(state, Inbound.typed(nonsense[turn_number % len(nonsense)]), spec, NOW).state
    assert state.completed, f"still at {state.state} after {limit} nonsense turns"
    check_score(spec, state)
