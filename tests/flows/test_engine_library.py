"""Every shipped flow can be walked to the end, by buttons and by typing, in both languages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flows.spec
from flows.compiled import CompiledFlow, compile_flow
from flows.model import COMPLETED_STAGES, Inbound, Reply
from flows.scoring import score
from flows.spec import LIBRARY, FlowSpec, QuestionKind, load_flow

OpenChat = Callable[..., Any]

TYPED = {
    QuestionKind.NUMBER: "50",
    QuestionKind.MONEY: "2 млн",
    QuestionKind.TIMELINE: "через месяц",
    QuestionKind.EMAIL: "ivan@acme.ru",
    QuestionKind.PHONE: "+7 999 123-45-67",
    QuestionKind.NAME: "Иван",
    QuestionKind.COMPANY: "Acme",
    QuestionKind.TEXT: "Нужна CRM",
}


def shipped_path(flow_id: str) -> Path:
    """The shipped file, found next to ``flows.spec`` (under pytest the ``tests/flows`` folder can
    shadow the top-level package name that ``flows.spec.library_path`` resolves)."""
    return Path(flows.spec.__file__).parent / "library" / f"{flow_id}.yaml"


def shipped(flow_id: str) -> CompiledFlow:
    path = shipped_path(flow_id)
    if not path.exists():
        pytest.skip(f"flows/library/{flow_id}.yaml is not there yet")
    return compile_flow(load_flow(path))


def friendly_answer(spec: FlowSpec, reply: Reply) -> Inbound:
    """A tap on the first button that does not knock the lead out, else a typed answer."""
    question = spec.question_by_id[reply.question_id or ""]
    safe = {o.id for o in question.options if o.knockout is None}
    safe |= {f"band:{i}" for i, b in enumerate(question.bands) if b.knockout is None}
    if question.kind is QuestionKind.YES_NO and not question.options:
        safe |= {"yes", "no"}
    for button in reply.buttons:
        if button.id in safe:
            return Inbound.tap(button.id)
    return Inbound.typed(TYPED.get(question.kind, "да"))


def walk(chat: Any, answer: Callable[[FlowSpec, Reply], Inbound], limit: int) -> None:
    for _ in range(limit):
        if chat.state.completed:
            return
        chat.send(answer(chat.flow.spec, chat.reply))
    pytest.fail(f"{chat.flow.id}: not finished after {limit} turns")


@pytest.mark.parametrize("flow_id", LIBRARY)
@pytest.mark.parametrize("locale", ["ru", "en"])
def test_a_shipped_flow_walks_to_completion_by_buttons(
    flow_id: str, locale: str, open_chat: OpenChat
) -> None:
    spec = shipped(flow_id)
    chat = open_chat(spec, locale=locale)
    walk(chat, friendly_answer, limit=4 * len(spec.questions))
    assert chat.state.stage in COMPLETED_STAGES
    result = score(spec, chat.state)
    assert result.total == sum(line.points for line in result.breakdown)
    assert chat.state.score == result.total
    assert chat.reply.text.strip()
    assert all(r.text.strip() for t in chat.turns for r in t.replies)


@pytest.mark.parametrize("flow_id", LIBRARY)
def test_a_shipped_flow_ends_when_nothing_is_understood(flow_id: str, open_chat: OpenChat) -> None:
    spec = shipped(flow_id)
    chat = open_chat(spec)
    walk(chat, lambda _spec, _reply: Inbound.typed("ъъъ"), limit=3 * len(spec.questions))
    assert chat.state.stage in COMPLETED_STAGES
