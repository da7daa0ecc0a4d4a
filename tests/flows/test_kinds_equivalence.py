"""One table of kinds: every corpus phrasing is understood in a conversation exactly when
``qualibot parse`` understands it, with the same value.

Each phrasing is typed into a one-question flow of its kind (in its locale, with its options for
a choice), whose exchange rates cover every currency the reader knows, so that a named currency
is not refused for want of a rate. A choice the reader cannot settle between two options is a
clarifying question in the conversation.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from bench.corpus import NOW, load, parse_kind, read
from flows.commands import command_of
from flows.compiled import CompiledFlow, compile_flow
from flows.engine import step
from flows.extract.currency import CURRENCY_BY_WORD
from flows.model import ConversationState, Inbound
from flows.spec import FlowSpec

CORPUS = [case for case in load() if command_of(Inbound.typed(case["text"])) is None]
RATES = {code: 1.0 for code in set(CURRENCY_BY_WORD.values()) if code != "RUB"}


@cache
def _flow(
    kind: str, locale: str, options: tuple[tuple[str, tuple[str, ...], bool, bool], ...]
) -> CompiledFlow:
    question: dict[str, Any] = {"id": "q", "kind": kind, "dimension": "d", "text": {locale: "?"}}
    knockouts = []
    if options:
        question["options"] = [
            {
                "id": option_id,
                "label": {locale: phrases[0]},
                "synonyms": {locale: list(phrases[1:])},
                **({"knockout": "out"} if knockout else {}),
                "hand_raise": hand_raise,
            }
            for option_id, phrases, knockout, hand_raise in options
        ]
        if any(knockout for _, _, knockout, _ in options):
            knockouts.append({"reason": "out", "text": {locale: "."}})
    spec = FlowSpec.model_validate(
        {
            "id": "equivalence",
            "version": 1,
            "framework": "custom",
            "title": {locale: "."},
            "locales": [locale],
            "greeting": {locale: "."},
            "currency": "RUB",
            "exchange_rates": RATES,
            "dimensions": [{"id": "d", "title": {locale: "."}, "weight": 100}],
            "questions": [question],
            "knockouts": knockouts,
            "scoring": {"fit": 100, "engagement": 0, "mql": 50, "tiers": [{"tier": "C"}]},
            "closings": [
                {"stage": stage, "text": {locale: "."}} for stage in ("disqualified", "nurture", "mql", "sql")
            ],
        }
    )
    return compile_flow(spec)


def _conversation(case: dict[str, Any]) -> ConversationState:
    options = tuple(
        (o["id"], tuple(o["phrases"]), bool(o.get("knockout")), bool(o.get("hand_raise")))
        for o in case.get("options", ())
    )
    spec = _flow(parse_kind(case), case["locale"], options)
    state = step(
        ConversationState(spec.id, spec.version, case["locale"]), Inbound(kind="start"), spec, NOW
    ).state
    return step(state, Inbound.typed(case["text"]), spec, NOW).state


def _id(case: dict[str, Any]) -> str:
    return f"{case['kind']}-{case['locale']}-{case['text'][:40]}"


@pytest.mark.parametrize("case", CORPUS, ids=[_id(c) for c in CORPUS])
def test_a_conversation_understands_what_parse_understands(case: dict[str, Any]) -> None:
    parsed = read(case)
    state = _conversation(case)
    answer = state.answers.get("q")
    understood = answer is not None and answer.understood
    assert understood is parsed["understood"], (parsed, state)
    if case["kind"] == "choice":
        assert list(state.clarify) == parsed["clarify"]
        assert (answer.value if answer else None) == (parsed["ids"] or None)
        return
    if not understood or answer is None:
        return
    if case["kind"] == "money":
        expected = {key: parsed[key] for key in ("min", "max", "currency")}
        if parsed["unlimited"]:
            expected = {"min": None, "max": None, "currency": "RUB", "unlimited": True}
        assert answer.value == expected
    elif case["kind"] == "timeline":
        assert answer.value == parsed["days"]
    else:
        assert answer.value == parsed["value"]


def test_the_corpus_is_checked_here_almost_whole() -> None:
    assert len(CORPUS) >= len(load()) - 5
