"""Real-sounding answers, ru and en, with what a sales person would write down for them.

The corpus (``corpus.jsonl``, option sets in ``options.json``) is read through ``qualibot
parse``'s own entry point, ``flows.extract.parse``, and judged by ``bench.corpus`` (which prints
the same figures as a table): every phrasing must be read right, and none may be misread. A few
phrasings are marked ``known_miss``: the reader does not understand them yet, and the safe
answer, asking again, is what happens.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from bench.corpus import judge, load, read

CORPUS = load()


def _id(case: dict[str, Any]) -> str:
    return f"{case['kind']}-{case['locale']}-{case['text'][:40]}"


def test_corpus_is_large_and_covers_every_kind_in_both_languages() -> None:
    assert len(CORPUS) >= 700
    kinds = Counter(case["kind"] for case in CORPUS)
    assert set(kinds) >= {
        "money",
        "number",
        "timeline",
        "yes_no",
        "email",
        "phone",
        "name",
        "company",
        "text",
    }
    assert kinds["choice"] >= 100
    assert {(case["kind"], case["locale"]) for case in CORPUS} >= {
        (kind, locale) for kind in kinds for locale in ("ru", "en")
    }
    must_not = [c for c in CORPUS if c["expect"].get("understood") is False or c["expect"].get("ids") == []]
    assert len(must_not) >= 100


def test_known_misses_are_few_and_say_why() -> None:
    misses = [case for case in CORPUS if "known_miss" in case]
    assert len(misses) <= 10
    assert all(isinstance(case["known_miss"], str) and case["known_miss"] for case in misses)


@pytest.mark.parametrize("case", CORPUS, ids=[_id(c) for c in CORPUS])
def test_corpus(case: dict[str, Any]) -> None:
    result = read(case)
    json.dumps(result, allow_nan=False)
    verdict = judge(case, result)
    expected = "missed" if "known_miss" in case else "right"
    assert verdict == expected, (case["expect"], result)
