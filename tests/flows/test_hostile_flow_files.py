"""Hostile flow files: each ends in one clear ``file:line: field: message``, never a traceback,
and none costs more than the limits allow (the alias bomb is refused as soon as it expands
past the limit, long before it is built)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.safeyaml import LIMITS, Limits, YamlProblem, read_yaml
from flows.spec import FlowSpecError, Problem, load_flow, parse_flow

DEMO = (Path(__file__).parent / "fixtures" / "demo.yaml").read_text(encoding="utf-8")

# Nine levels of nine aliases: 342 bytes that expand to 387 million strings.
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
)


def edit(old: str, new: str) -> str:
    assert DEMO.count(old) == 1, old
    return DEMO.replace(old, new)


def only_problem(text: str) -> Problem:
    with pytest.raises(FlowSpecError) as caught:
        parse_flow(text, "hostile.yaml")
    problems = caught.value.problems
    assert len(problems) == 1, problems
    return problems[0]


# name, file text, expected line, expected field, a fragment of the message
TEXT_CASES = [
    ("alias bomb", ALIAS_BOMB, 6, "f[0]", "the alias *e repeats"),
    (
        "unhashable block key",
        edit("    kind: choice\n", "    kind: choice\n    ? [a, b]\n    : c\n"),
        22,
        "questions[1]",
        "a key must be a plain word",
    ),
    (
        "unhashable flow key",
        edit("title: {ru: Демо, en: Demo}", "title: {[ru]: Демо}"),
        4,
        "title",
        "a key must be a plain word",
    ),
    ("alias of a list as a key", "a: &x [1]\n*x : 2\n", 2, "", "a key must be a plain word"),
    ("merge key", edit("  - id: role\n", "  - <<: {id: role}\n"), 19, "questions[1]", "merge keys (<<)"),
    (
        "python tag",
        edit("id: demo", "id: !!python/object/apply:os.system [echo hi]"),
        1,
        "id",
        "the tag !!python/object/apply:os.system is not allowed",
    ),
    (
        "unknown local tag",
        edit("framework: BANT", "framework: !secret BANT"),
        3,
        "framework",
        "the tag !secret is not allowed",
    ),
    (
        "binary tag",
        edit("framework: BANT", "framework: !!binary QkFOVA=="),
        3,
        "framework",
        "the tag !!binary",
    ),
    ("set tag", edit("locales: [ru, en]", "locales: !!set {ru, en}"), 5, "locales", "the tag !!set"),
    (
        "a standard tag that does not fit",
        edit("version: 1", "version: !!int one"),
        2,
        "version",
        "'one' is not a valid !!int",
    ),
    ("deep flow nesting", "id: " + "[" * 5000 + "]" * 5000 + "\n", 1, None, "nest"),
    (
        "deep block nesting",
        "".join("  " * i + f"k{i}:\n" for i in range(100)),
        33,
        None,
        "nested more than 32 levels deep",
    ),
    (
        "huge scalar",
        edit("framework: BANT", "framework: " + "x" * 100_000),
        3,
        "framework",
        "a value of 100,000 characters; at most 4,096",
    ),
    ("huge file", "# " + "x" * (LIMITS.max_bytes + 1) + "\n", None, "", "larger than 256 KB"),
    ("NUL byte", edit("framework: BANT", "framework: BA\x00NT"), 3, "", "the character U+0000"),
    ("control character", edit("framework: BANT", "framework: BA\x07NT"), 3, "", "U+0007"),
    ("a list", "- id: demo\n- version: 1\n", 1, "", "is a list; a flow file is a mapping"),
    ("a single value", "just some text\n", 1, "", "is the single value 'just some text'"),
    ("empty", "", 1, "", "the file is empty"),
    ("only comments", "# id: demo\n", 1, "", "the file is empty"),
    ("null document", "~\n", 1, "", "the file is empty"),
    ("two documents", DEMO + "---\nid: other\n", 37, "", "more than one YAML document"),
    (
        "recursive alias",
        edit("locales: [ru, en]", "locales: &l [ru, *l]"),
        5,
        "locales[1]",
        "inside its own anchor",
    ),
    ("undefined alias", edit("locales: [ru, en]", "locales: *nowhere"), 5, "locales", "no anchor &nowhere"),
    ("duplicate key", edit("version: 1\n", "version: 1\nversion: 2\n"), 3, "version", "duplicate key"),
    ("unclosed bracket", edit("locales: [ru, en]", "locales: [ru, en"), 6, "", "not valid YAML"),
    ("tab indentation", edit("  - id: role\n", "  - id: role\n\tcolour: red\n"), 20, "", "not valid YAML"),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES]
)
def test_a_hostile_file_is_one_clear_problem(
    text: str, line: int | None, field: str | None, fragment: str
) -> None:
    problem = only_problem(text)
    assert problem.file == "hostile.yaml"
    assert problem.line == line
    if field is not None:
        assert problem.field == field
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("data", "line", "fragment"),
    [
        (b"\xff\xfe" + DEMO.encode("utf-16-le"), 1, "is UTF-16 text; save it as UTF-8"),
        (b"\xfe\xff" + DEMO.encode("utf-16-be"), 1, "is UTF-16 text"),
        (b"\xff\xfe\x00\x00" + DEMO.encode("utf-32-le"), 1, "is UTF-32 text"),
        (DEMO.replace("Демо", "Демо").encode("cp1251"), 4, "not UTF-8 text (byte 0xc4)"),
        (b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 4, 2, "not UTF-8 text (byte 0x80)"),
        (b"PK\x03\x04\x14\x00\x00\x00", 1, "the character U+0003"),
    ],
    ids=["utf-16-le", "utf-16-be", "utf-32", "cp1251", "elf binary", "zip header"],
)
def test_bytes_that_are_not_utf8_text_are_one_clear_problem(
    tmp_path: Path, data: bytes, line: int, fragment: str
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(data)
    with pytest.raises(FlowSpecError) as caught:
        load_flow(path)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == (str(path), line)
    assert fragment in problem.message


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + DEMO.encode("utf-8"))
    assert load_flow(path).id == "demo"


def test_a_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as out:
        out.truncate(4 * 1024**3)  # 4 GB, sparse
    with pytest.raises(FlowSpecError) as caught:
        load_flow(path)
    assert str(caught.value) == f"{path}: larger than 256 KB"


def test_a_folder_is_not_a_flow_file(tmp_path: Path) -> None:
    with pytest.raises(FlowSpecError) as caught:
        load_flow(tmp_path)
    assert str(caught.value) == f"{tmp_path}: cannot read the file: Is a directory"


def test_dates_stay_text_and_yes_stays_a_boolean() -> None:
    data, _ = read_yaml("a: 2024-01-01\nb: yes\nc: '1'\nd: 1_000\ne: !!str 5\n")
    assert data == {"a": "2024-01-01", "b": True, "c": "1", "d": 1000, "e": "5"}


def test_aliases_within_the_limits_still_work() -> None:
    text = edit("greeting: {ru: Привет, en: Hi}", "greeting: &bye {ru: Привет, en: Hi}").replace(
        "  - {stage: nurture, text: {ru: Пока, en: Bye}}", "  - {stage: nurture, text: *bye}"
    )
    spec = parse_flow(text, "aliases.yaml")
    nurture = next(c for c in spec.closings if c.stage == "nurture")
    assert nurture.text == {"ru": "Привет", "en": "Hi"}


def test_too_many_aliases() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    with pytest.raises(YamlProblem) as caught:
        read_yaml(text)
    assert (caught.value.line, caught.value.message) == (2, "more than 100 aliases (*name)")


def test_the_limits_can_be_set_lower() -> None:
    with pytest.raises(YamlProblem) as caught:
        read_yaml("a: [1, [2, [3]]]\n", Limits(max_depth=2))
    assert caught.value.message == "nested more than 2 levels deep"
    assert caught.value.path == ("a", 1)


def test_the_line_of_every_path_is_known() -> None:
    _, lines = read_yaml(DEMO)
    assert (
        lines[("questions", 1, "options", 1, "knockout")]
        == DEMO.splitlines().index(
            "      - {id: student, label: {ru: Студент, en: Student}, knockout: no_budget}"
        )
        + 1
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_else(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("bytes") / "random.yaml"
    path.write_bytes(data)
    with pytest.raises(FlowSpecError) as caught:
        load_flow(path)
    assert all(p.file == str(path) and p.message for p in caught.value.problems)


YAML_BITS = st.sampled_from(
    [
        "a",
        ":",
        " ",
        "\n",
        "  ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&x ",
        "*x",
        "? ",
        "!!str ",
        "!t ",
        "<<",
        "'",
        '"',
        "#",
        "---",
        "1",
        "yes",
        "~",
        ".inf",
        "|",
        ">",
        "\t",
        "\ufeff",
        "é",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(YAML_BITS, max_size=60).map("".join))
def test_random_yaml_like_text_never_raises_anything_else(text: str) -> None:
    with pytest.raises(FlowSpecError) as caught:
        parse_flow(text, "random.yaml")
    assert all(p.file == "random.yaml" and p.message for p in caught.value.problems)
