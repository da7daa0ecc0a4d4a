"""How a test visitor answers a question of a shipped flow: a button that keeps the lead in, or
the words a person would type for the question's kind. Shared by the API and the browser tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.spec import FlowSpec

TYPED = {
    "money": "около 2 млн руб",
    "number": "120",
    "date": "через пару месяцев",
    "name": "Иван Петров",
    "email": "ivan.petrov@acme.ru",
    "tel": "+7 916 123-45-67",
    "text": "Хотим быстрее отвечать на заявки с сайта",
}


@dataclass(frozen=True, slots=True)
class Answer:
    tap: str | None  # a button id
    label: str  # what the visitor sees: the button's label or the typed text

    @property
    def body(self) -> dict[str, Any]:
        return {"choice": self.tap} if self.tap is not None else {"text": self.label}


def safe_buttons(spec: FlowSpec, question_id: str, buttons: list[dict[str, str]]) -> list[dict[str, str]]:
    """The buttons of a question that do not knock the lead out (and are not commands)."""
    question = spec.question_by_id[question_id]
    knocked = {o.id for o in question.options if o.knockout is not None}
    knocked |= {f"band:{i}" for i, b in enumerate(question.bands) if b.knockout is not None}
    return [b for b in buttons if not b["id"].startswith("cmd:") and b["id"] not in knocked]


def answer(spec: FlowSpec, question_id: str, reply: dict[str, Any], turn: int) -> Answer:
    """Taps on even turns, typing on odd ones (the label of a safe button, or words for the kind)."""
    safe = safe_buttons(spec, question_id, reply["buttons"])
    if safe:
        pick = safe[-1] if spec.question_by_id[question_id].bands else safe[0]
        return Answer(pick["id"], pick["label"]) if turn % 2 == 0 else Answer(None, pick["label"])
    return Answer(None, TYPED[reply["input"]["kind"]])
