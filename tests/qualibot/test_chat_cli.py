"""`qualibot chat` end to end: a real process, a real SQLite file migrated by `qualibot migrate`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# A BANT conversation of an owner with an approved budget who wants a demo: typed answers,
# button taps (#N) and a fuzzy-typed choice.
SQL_ANSWERS = [
    "#1",  # budget: approved
    "около 2 млн руб",  # amount, typed
    "я владелец",  # role, typed
    "#1 #3",  # needs: two taps at once
    "через пару недель",  # timing
    "только вас",  # alternatives: nobody else
    "#1",  # next step: demo (hand-raise)
    "Иван Петров",
    "8 (916) 123-45-67",
    "ivan.petrov@romashka.ru",
]


def _env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {"QUALIBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"}


def _qualibot(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qualibot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
        check=False,
    )


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    result = _qualibot(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    return tmp_path


def _conversation_id(stdout: str) -> str:
    first = stdout.splitlines()[0]
    assert first.startswith("conversation "), stdout
    return first.removeprefix("conversation ").strip()


def test_chat_to_the_end_shows_an_explained_score(migrated: Path) -> None:
    result = _qualibot(
        migrated, "chat", "--flow", "bant", "--locale", "ru", stdin="\n".join(SQL_ANSWERS) + "\n"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    score_line = next(line for line in out.splitlines() if line.startswith("score "))
    assert ": sql" in score_line, out
    total = int(score_line.split()[1].split("/")[0])
    summary, *breakdown = out[out.index(score_line) :].splitlines()[1:]
    # The leading line says why: the stage, the tier, the points, the answers; then one line
    # per source of points, each ending with its points.
    assert summary.startswith(f"  SQL, {score_line.split('tier ')[1]} ({total} балл"), out
    assert "Бюджет: " in summary
    assert breakdown, out
    points = [re.search(r"([+-]\d+)(?: из \d+)?$", line) for line in breakdown]
    assert sum(int(found[1]) for found in points if found is not None) == total
    assert None not in points, breakdown
    assert not [line for line in breakdown if line.endswith("+0 из 0")]


def test_chat_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = _qualibot(tmp_path, "chat", "--flow", "bant", stdin="")
    assert result.returncode == 1
    assert "qualibot migrate" in result.stderr


def test_chat_resumes_where_it_stopped(migrated: Path) -> None:
    first = _qualibot(migrated, "chat", "--flow", "bant", stdin="\n".join(SQL_ANSWERS[:3]) + "\n")
    assert first.returncode == 0, first.stderr
    conversation_id = _conversation_id(first.stdout)
    assert f"qualibot chat --resume {conversation_id}" in first.stdout

    rest = _qualibot(migrated, "chat", "--resume", conversation_id, stdin="\n".join(SQL_ANSWERS[3:]) + "\n")
    assert rest.returncode == 0, rest.stderr
    assert _conversation_id(rest.stdout) == conversation_id
    assert any(line.startswith("score ") and ": sql" in line for line in rest.stdout.splitlines()), (
        rest.stdout
    )


def test_chat_reports_an_unknown_flow(migrated: Path) -> None:
    result = _qualibot(migrated, "chat", "--flow", "nope", stdin="")
    assert result.returncode == 1
    assert result.stderr == "qualibot chat: no flow 'nope'\n"
