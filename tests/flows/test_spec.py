"""The flow loader's errors: each mistake is reported with the line and the field it is on."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.spec import FlowSpecError, Problem, load_flow, parse_flow

VALID = (Path(__file__).parent / "fixtures" / "demo.yaml").read_text(encoding="utf-8")


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the only line containing ``fragment``."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(found) == 1, (fragment, found)
    return found[0]


def problems(text: str) -> tuple[Problem, ...]:
    with pytest.raises(FlowSpecError) as caught:
        parse_flow(text, "demo.yaml")
    return caught.value.problems


def edit(old: str, new: str) -> str:
    assert VALID.count(old) == 1, old
    return VALID.replace(old, new)


def test_the_base_flow_is_valid() -> None:
    spec = parse_flow(VALID, "demo.yaml")
    assert spec.id == "demo"
    assert [q.id for q in spec.questions] == ["budget", "role"]


def test_bad_yaml_names_the_line() -> None:
    text = edit("    kind: choice\n", "    kind: [choice\n")
    (problem,) = problems(text)
    assert problem.file == "demo.yaml"
    assert problem.message.startswith("not valid YAML")
    assert problem.line is not None
    # The unclosed bracket is noticed where the next key begins, a line or two further on.
    assert line_of(text, "kind: [choice") <= problem.line <= line_of(text, "kind: [choice") + 2


def test_an_unknown_field_is_named_with_its_line() -> None:
    text = edit("    kind: choice\n", "    kind: choice\n    colour: red\n")
    (problem,) = problems(text)
    assert problem.field == "questions[1].colour"
    assert problem.line == line_of(text, "colour: red")
    assert "Extra inputs are not permitted" in problem.message


def test_a_missing_locale_is_named_with_its_line() -> None:
    text = edit('text: {ru: "Кто вы?", en: "Who are you?"}', 'text: {ru: "Кто вы?"}')
    (problem,) = problems(text)
    assert problem.field == "questions[1].text.en"
    assert problem.line == line_of(text, 'text: {ru: "Кто вы?"}')
    assert "'en'" in problem.message


def test_a_wrong_dimension_is_named_with_its_line() -> None:
    text = edit("    dimension: authority\n", "    dimension: authorty\n")
    (problem,) = problems(text)
    assert problem.field == "questions[1].dimension"
    assert problem.line == line_of(text, "dimension: authorty")
    assert "no dimension 'authorty'" in problem.message


def test_overlapping_bands_are_named_with_their_line() -> None:
    text = edit("{min: 100000, points: 40}", "{min: 50000, points: 40}")
    (problem,) = problems(text)
    assert problem.field == "questions[0].bands[2]"
    assert problem.line == line_of(text, "{min: 50000, points: 40}")
    assert "overlaps" in problem.message


def test_ask_if_on_a_later_question_is_named_with_its_line() -> None:
    text = edit("ask_if: {question: budget, gte: 1}", "ask_if: {question: role, equals: ceo}")
    (problem,) = problems(text)
    assert problem.field == "questions[1].ask_if.question"
    assert problem.line == line_of(text, "ask_if: {question: role")
    assert "not asked before" in problem.message


def test_weights_not_adding_up_to_fit_are_named_with_their_line() -> None:
    text = edit("Budget}, weight: 40}", "Budget}, weight: 50}")
    (problem,) = problems(text)
    assert problem.field == "dimensions"
    assert problem.line == line_of(text, "dimensions:")
    assert "add up to 90" in problem.message
    assert "scoring.fit is 80" in problem.message


def test_every_problem_is_reported_at_once() -> None:
    text = edit("    dimension: authority\n", "    dimension: authorty\n").replace(
        "{min: 100000, points: 40}", "{min: 50000, points: 40}"
    )
    found = {p.field for p in problems(text)}
    assert found == {"questions[1].dimension", "questions[0].bands[2]"}


def test_problems_print_as_file_line_field_message(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(edit("    dimension: authority\n", "    dimension: authorty\n"), encoding="utf-8")
    with pytest.raises(FlowSpecError) as caught:
        load_flow(path)
    line = line_of(path.read_text(encoding="utf-8"), "authorty")
    assert str(caught.value) == (
        f"{path}:{line}: questions[1].dimension: no dimension 'authorty' (have: budget, authority)"
    )
