"""The README stays true: its flow example loads, and the commands it shows exist."""

from __future__ import annotations

import re
from pathlib import Path

from api.admin import router
from flows.spec import parse_flow
from qualibot.cli import COMMANDS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_flow_example_is_a_valid_flow() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    spec = parse_flow(blocks[0], "README.md")
    assert spec.locales == ["ru", "en"]


def test_every_command_shown_exists() -> None:
    text = README.read_text(encoding="utf-8")
    shown = set(re.findall(r"`qualibot ([a-z]+)", text))
    assert shown, "the README shows no qualibot command"
    assert shown <= set(COMMANDS)
    assert set(COMMANDS) <= shown


def test_the_two_commands_come_first() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split()[0:2] for line in first_block.splitlines()] == [["make", "run"], ["make", "test"]]


def test_every_admin_route_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    for route in router.routes:
        path = re.sub(r"\{[a-z_]+\}", "{id}", getattr(route, "path", ""))
        for method in getattr(route, "methods", ()):
            assert f"`{method} {path}" in text, f"{method} {path}"
