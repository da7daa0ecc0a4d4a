"""Scripted conversations whose every turn is recorded: what the engine says, the state it
leaves, the events and the score; and the simulator's reports. ``test_golden.py`` records them
again and compares a digest of each with ``fixtures/golden.json``, so a change of the engine's
inner workings that changes anything it does is caught, on the fixture flows.

    python -m tests.flows.golden --show mini 17   # conversation 17 of mini, as JSON
    python -m tests.flows.golden --write          # after an intended change of behaviour

(To see what an intended change changed: ``--show`` the item before and after the change.)

The conversations are random but seeded: button taps (knock-outs, skips and invalid ids among
them), labels and synonyms typed in either language, typed values of every kind (some that
cannot be understood), misses, back, restart, skip, engagement events, a repeated start, and
after the end events, another start and a restart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import asdict, is_dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from itertools import islice
from pathlib import Path
from typing import Any

from flows.compiled import CompiledFlow, compile_flow
from flows.engine import step
from flows.model import ConversationState, Inbound, Reply
from flows.scoring import score
from flows.simulate import simulate
from flows.spec import FlowSpec, QuestionKind, load_flow, tr

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = FIXTURES / "golden.json"
FLOWS = ("mini", "puzzle_mini", "demo")
CONVERSATIONS = 300
SIMULATIONS = (3000, 50)
MAX_TURNS = 60
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

TYPED: dict[QuestionKind, tuple[str, ...]] = {
    QuestionKind.NUMBER: ("50", "около 200", "человек 12", "five", "много", "3", "-4", "1e400"),
    QuestionKind.MONEY: (
        "около 2 млн руб",
        "$15k",
        "от 500 тыс до 1 млн",
        "500 тысяч",
        "нет бюджета",
        "0",
        "100 EUR",
        "не знаю",
        "€2,000,000",
    ),
    QuestionKind.TIMELINE: (
        "через пару месяцев",
        "next quarter",
        "завтра",
        "через 3 года",
        "in 2 weeks",
        "не знаю",
        "just researching",
    ),
    QuestionKind.EMAIL: ("ivan.petrov@acme.ru", " Ivan@GMAIL.com", "x@mailinator.com", "не скажу"),
    QuestionKind.PHONE: ("+7 999 123-45-67", "8 (916) 123-45-67", "+1 415 555 0100", "12"),
    QuestionKind.NAME: ("Иван Петров", "иван", "Maria", "asdfghjkl", "123"),
    QuestionKind.COMPANY: ("ООО Ромашка", "Acme", "qwrtpsdfg"),
    QuestionKind.TEXT: ("Хотим быстрее отвечать на заявки", "we keep leads in spreadsheets", "ззззззз"),
    QuestionKind.YES_NO: ("да", "нет", "yes", "nope", "ага", "наверное"),
}
MISSES = ("???", "не знаю, сложно сказать", "", "   ", "<b>" * 5, "a" * 30)
COMMANDS = ("назад", "back", "пропустить", "skip", "заново", "start over")
PROFILES: tuple[dict[str, Any], ...] = (
    {},
    {"utm_source": "google"},
    {"utm_source": "yandex", "utm_medium": "cpc", "pages_seen": 4},
    {"returning": True, "channel": "web"},
)


def _plain(value: Any) -> Any:
    """``value`` as JSON data: dataclasses (with their type), enums, tuples."""
    if is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__name__, **{k: _plain(v) for k, v in asdict(value).items()}}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _typed_choice(spec: FlowSpec, reply: Reply, locale: str, rng: random.Random) -> str:
    question = spec.question_by_id[reply.question_id or ""]
    phrases: list[str] = []
    for option in question.options:
        phrases.append(tr(option.label, locale))
        phrases.extend(option.synonyms.get(locale, ()))
    phrases.extend(tr(b.label, locale) for b in question.bands if b.label is not None)
    phrases.extend(TYPED.get(question.kind, ()))
    if question.kind is QuestionKind.MULTI_CHOICE and len(question.options) > 1:
        two = rng.sample(question.options, 2)
        phrases.append(f"{tr(two[0].label, locale)} и {tr(two[1].label, locale)}")
    return rng.choice(phrases) if phrases else "да"


def _inbound(spec: FlowSpec, state: ConversationState, reply: Reply, rng: random.Random) -> Inbound:
    """What a visitor does next, given the last reply: mostly without saying what it answers, at
    times saying it, and at times answering an earlier question (a stale tap)."""
    inbound = _action(spec, reply, state.locale, rng)
    if inbound.kind not in ("text", "choice", "contact"):
        return inbound
    roll = rng.random()
    if roll < 0.15:
        return replace(inbound, question_id=reply.question_id, version=state.version)
    if roll < 0.18 and state.path[:-1]:
        return replace(inbound, question_id=rng.choice(state.path[:-1]), version=state.version)
    if roll < 0.21 and state.asked_at > 0:
        return replace(inbound, question_id=reply.question_id, version=state.asked_at - 1)
    return inbound


def _action(spec: FlowSpec, reply: Reply, locale: str, rng: random.Random) -> Inbound:
    roll = rng.random()
    if reply.question_id is None:
        return Inbound(kind="start") if roll < 0.5 else Inbound.typed("назад")
    question = spec.question_by_id[reply.question_id]
    if roll < 0.42 and reply.buttons:
        if reply.multi and len(reply.buttons) > 1 and rng.random() < 0.5:
            ids = [b.id for b in rng.sample(reply.buttons, rng.randint(2, len(reply.buttons)))]
            return Inbound.tap(*ids)
        return Inbound.tap(rng.choice(reply.buttons).id)
    if roll < 0.72:
        return Inbound.typed(_typed_choice(spec, reply, locale, rng))
    if roll < 0.80:
        return Inbound.typed(rng.choice(MISSES))
    if roll < 0.86:
        return Inbound.typed(rng.choice(COMMANDS[:2]))
    if roll < 0.89:
        return Inbound.tap(rng.choice(("cmd:skip", "cmd:back", "nonsense", "band:99", "band:x")))
    if roll < 0.91:
        return Inbound.typed(rng.choice(COMMANDS[2:]))
    if roll < 0.93 and question.kind is QuestionKind.PHONE:
        return Inbound(kind="contact", data={"phone": "+79991234567"})
    if roll < 0.94:
        return Inbound(kind="contact", data={"phone": "+79991234567"})
    if roll < 0.98:
        name = rng.choice(("page_view", "returning", "pricing_viewed", "BAD NAME"))
        return Inbound(kind="event", name=name, data={"path": "/pricing", "utm_source": "google"})
    return Inbound(kind="start")


def conversation(flow: CompiledFlow, number: int) -> dict[str, Any]:
    """One scripted conversation (seeded by the flow id and ``number``) and every turn's outcome."""
    spec = flow.spec
    rng = random.Random(f"{spec.id}:{number}")
    locale = rng.choice(spec.locales)
    facts = dict(rng.choice(PROFILES))
    state = ConversationState(spec.id, spec.version, locale, facts=facts)
    inbound = Inbound(kind="start")
    turns = []
    after_end = 0
    for _ in range(MAX_TURNS):
        turn = step(state, inbound, flow, NOW)
        turns.append(
            {
                "in": inbound.to_json(),
                "replies": [r.to_json() for r in turn.replies],
                "state": turn.state.to_json(),
                "version": turn.state.version,
                "stale": turn.stale,
                "events": _plain(turn.events),
                "score": turn.score.to_json() if turn.score is not None else None,
            }
        )
        state = turn.state
        if state.completed:
            after_end += 1
            if after_end > 3:
                break
            inbound = rng.choice(
                (
                    Inbound(kind="event", name="page_view", data={"path": "/demo"}),
                    Inbound(kind="event", name="returning"),
                    Inbound(kind="start"),
                    Inbound.typed("заново"),
                    Inbound.tap("whatever"),
                )
            )
            continue
        last = turn.replies[-1] if turn.replies else None
        inbound = _inbound(spec, state, last, rng) if last is not None else Inbound(kind="start")
    other = next((loc for loc in spec.locales if loc != locale), locale)
    return {
        "locale": locale,
        "facts": facts,
        "turns": turns,
        "score_other_locale": score(flow, state, other).to_json(),
    }


def record(
    flow: CompiledFlow, count: int = CONVERSATIONS, limits: tuple[int, ...] = SIMULATIONS
) -> Iterator[dict[str, Any]]:
    """The scripted conversations of a flow, then its simulation reports (seeded)."""
    for number in range(count):
        yield conversation(flow, number)
    for limit in limits:
        yield {"simulate": limit, "report": simulate(flow, limit=limit, seed=3).to_json()}


def canonical(item: dict[str, Any]) -> str:
    return json.dumps(item, ensure_ascii=False, sort_keys=True)


def digests(flow: CompiledFlow) -> list[str]:
    """A short digest of each recorded item, in order."""
    return [hashlib.sha256(canonical(item).encode()).hexdigest()[:16] for item in record(flow)]


def fixture_flows() -> dict[str, CompiledFlow]:
    return {name: compile_flow(load_flow(FIXTURES / f"{name}.yaml")) for name in FLOWS}


def expected() -> dict[str, list[str]]:
    found: dict[str, list[str]] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help=f"write {GOLDEN.name} from the engine as it is")
    parser.add_argument(
        "--show", nargs=2, metavar=("FLOW", "N"), help="print recorded item N of a fixture flow as JSON"
    )
    args = parser.parse_args(argv)
    flows = fixture_flows()
    if args.write:
        found = {flow_id: digests(flow) for flow_id, flow in flows.items()}
        GOLDEN.write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
    if args.show:
        flow_id, number = args.show
        item = next(islice(record(flows[flow_id]), int(number), None))
        sys.stdout.write(json.dumps(item, ensure_ascii=False, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
