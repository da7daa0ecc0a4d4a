"""Shared helpers for the pure-core tests: fixture flows, a fixed clock and a chat driver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.compiled import CompiledFlow, compile_flow
from flows.engine import step
from flows.model import ConversationState, Inbound, Reply, Turn
from flows.spec import load_flow

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def fixture_flow(name: str) -> CompiledFlow:
    return compile_flow(load_flow(FIXTURES / f"{name}.yaml"))


@dataclass
class Chat:
    """Drives one conversation through ``step`` and keeps everything that came out."""

    flow: CompiledFlow
    state: ConversationState
    turns: list[Turn] = field(default_factory=list)

    @classmethod
    def open(cls, flow: CompiledFlow, locale: str = "ru", **facts: Any) -> Chat:
        chat = cls(flow, ConversationState(flow.id, flow.version, locale, facts=dict(facts)))
        chat.send(Inbound(kind="start"))
        return chat

    def send(self, inbound: Inbound) -> Turn:
        turn = step(self.state, inbound, self.flow, NOW)
        self.state = turn.state
        self.turns.append(turn)
        return turn

    def say(self, text: str) -> Turn:
        return self.send(Inbound.typed(text))

    def tap(self, *ids: str) -> Turn:
        return self.send(Inbound.tap(*ids))

    def event(self, name: str, **data: Any) -> Turn:
        return self.send(Inbound(kind="event", name=name, data=data))

    @property
    def last(self) -> Turn:
        return self.turns[-1]

    @property
    def reply(self) -> Reply:
        return self.turns[-1].replies[-1]

    @property
    def events(self) -> list[Any]:
        return [e for t in self.turns for e in t.events]

    def event_types(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW


@pytest.fixture
def open_chat() -> Callable[..., Chat]:
    """``open_chat(flow, locale="ru", **facts)``: a started conversation."""
    return Chat.open


@pytest.fixture(scope="session")
def mini() -> CompiledFlow:
    return fixture_flow("mini")


@pytest.fixture(scope="session")
def puzzle() -> CompiledFlow:
    return fixture_flow("puzzle_mini")
