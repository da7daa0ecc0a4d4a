"""Fixtures for the storage tests: the test flows, a ticking clock, services over the SQL stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.catalog import FlowCatalog
from flows.service import ConversationService
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader

FLOWS = Path(__file__).parent / "flows"


def _flow_source(version: int) -> str:
    return (FLOWS / f"demo_v{version}.yaml").read_text(encoding="utf-8")


class TickingClock:
    """A clock that moves one millisecond each time it is read, from a fixed start."""

    def __init__(self) -> None:
        self._at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self._at += timedelta(milliseconds=1)
        return self._at


@dataclass
class Stack:
    service: ConversationService
    store: SqlConversationStore
    flow_versions: SqlFlowVersionStore
    catalog: FlowCatalog


StackFactory = Callable[..., Stack]


@pytest.fixture
def flow_source() -> Callable[[int], str]:
    """The YAML of the test flow ``storage_demo`` at a version (1 or 2)."""
    return _flow_source


@pytest.fixture
async def make_stack() -> AsyncIterator[StackFactory]:
    """Build a service over the SQL stores of an engine, with the given flow versions loaded
    (as one process would); every stack built is closed at the end of the test."""
    built: list[Stack] = []

    def build(engine: AsyncEngine, *versions: int) -> Stack:
        catalog = FlowCatalog()
        for version in versions or (1,):
            catalog.add(_flow_source(version), f"demo_v{version}.yaml")
        store = SqlConversationStore(engine)
        flow_versions = SqlFlowVersionStore(engine)
        service = ConversationService(
            store, flow_versions, catalog, TickingClock(), leads=SqlLeadReader(engine)
        )
        stack = Stack(service, store, flow_versions, catalog)
        built.append(stack)
        return stack

    try:
        yield build
    finally:
        for stack in built:
            await stack.store.aclose()


@pytest.fixture
def stack(engine: AsyncEngine, make_stack: StackFactory) -> Stack:
    return make_stack(engine)
