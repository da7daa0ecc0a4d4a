"""Real-sounding answers, ru and en, with what they must be understood as (corpus.jsonl).

Each line has kind, text, locale and the expected fields of ``parse(kind, text, locale, now)``;
kind "choice" lines carry candidates and multi and expect the ids ``match_choices`` returns.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.extract import match_choices, parse

NOW = datetime(2026, 11, 23, tzinfo=UTC)
CORPUS = [
    json.loads(line)
    for line in (Path(__file__).parent / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def _id(case: dict[str, Any]) -> str:
    return f"{case['kind']}-{case['locale']}-{case['text'][:40]}"


def test_corpus_is_large_and_covers_every_kind() -> None:
    assert len(CORPUS) >= 170
    kinds = {case["kind"] for case in CORPUS}
    assert kinds >= {"money", "number", "timeline", "yes_no", "email", "phone", "name", "company", "text"}
    assert "choice" in kinds
    assert {case["locale"] for case in CORPUS} == {"ru", "en"}


@pytest.mark.parametrize("case", CORPUS, ids=[_id(c) for c in CORPUS])
def test_corpus(case: dict[str, Any]) -> None:
    if case["kind"] == "choice":
        candidates = [(option_id, phrases) for option_id, phrases in case["candidates"]]
        got = match_choices(case["text"], candidates, case["locale"], multi=case["multi"])
        assert list(got) == case["expect"]["ids"]
        return
    result = parse(case["kind"], case["text"], case["locale"], NOW)
    assert {key: result[key] for key in case["expect"]} == case["expect"]
    json.dumps(result)
