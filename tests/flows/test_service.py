"""The conversation service over in-memory ports: what a turn saves, retries, locking, errors."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flows.catalog import FlowCatalog
from flows.errors import ConcurrentUpdate, ConversationNotFound, FlowNotFound, FlowVersionConflict
from flows.model import Inbound, Stage
from flows.ports import (
    ConversationView,
    Identity,
    MessageRecord,
    NewConversation,
    StoredConversation,
    StoredMessage,
    TurnWrite,
)
from flows.service import ConversationService, split_context

FLOW = Path(__file__).parent.parent / "storage" / "flows" / "demo_v1.yaml"
FLOW_ID = "storage_demo"


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


@dataclass
class FakeConversationStore:
    """The ``ConversationStore`` contract in memory: versions checked, a turn applied whole."""

    conversations: dict[uuid.UUID, StoredConversation] = field(default_factory=dict)
    transcripts: dict[uuid.UUID, list[StoredMessage]] = field(default_factory=dict)
    turns: list[TurnWrite] = field(default_factory=list)
    owners: dict[Identity, uuid.UUID] = field(default_factory=dict)
    save_delay: float = 0.0
    saves: int = 0

    async def find_lead(self, identities: Sequence[Identity]) -> uuid.UUID | None:
        return next((self.owners[i] for i in identities if i in self.owners), None)

    async def create(self, new: NewConversation) -> StoredConversation:
        lead = await self.find_lead(new.identities) or uuid.uuid4()
        for ident in new.identities:
            self.owners.setdefault(ident, lead)
        stored = StoredConversation(
            new.id, lead, new.channel, new.state.flow_id, new.state.flow_version, 1, new.state, new.at, new.at
        )
        self.conversations[new.id] = stored
        self.transcripts[new.id] = []
        self._append(new.id, new.messages, new.at)
        return stored

    async def load(self, conversation_id: uuid.UUID) -> StoredConversation | None:
        return self.conversations.get(conversation_id)

    async def save_turn(self, turn: TurnWrite) -> StoredConversation:
        await asyncio.sleep(self.save_delay)
        self.saves += 1
        stored = self.conversations.get(turn.conversation_id)
        if stored is None:
            raise ConversationNotFound(turn.conversation_id)
        if stored.version != turn.expected_version:
            raise ConcurrentUpdate(turn.conversation_id, turn.expected_version)
        lead = stored.lead_id
        for ident in turn.identities:
            lead = self.owners.setdefault(ident, lead)
        saved = replace(
            stored, version=stored.version + 1, state=turn.state, updated_at=turn.at, lead_id=lead
        )
        self.conversations[stored.id] = saved
        self.turns.append(copy.deepcopy(turn))
        self._append(stored.id, turn.messages, turn.at)
        return saved

    async def view(self, conversation_id: uuid.UUID) -> ConversationView | None:
        stored = self.conversations.get(conversation_id)
        if stored is None:
            return None
        scores = [t.score for t in self.turns if t.conversation_id == conversation_id and t.score]
        return ConversationView(
            stored, tuple(self.transcripts[conversation_id]), scores[-1] if scores else None
        )

    def _append(self, cid: uuid.UUID, messages: Sequence[MessageRecord], at: datetime) -> None:
        lines = self.transcripts[cid]
        for m in messages:
            lines.append(StoredMessage(len(lines) + 1, m.direction, m.kind, m.text, m.payload, at))


@dataclass
class FakeFlowVersionStore:
    sources: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)

    async def record(self, flow_id: str, version: int, sha256: str, source: str) -> None:
        kept = self.sources.setdefault((flow_id, version), (sha256, source))
        if kept[0] != sha256:
            raise FlowVersionConflict(flow_id, version)

    async def source(self, flow_id: str, version: int) -> str | None:
        kept = self.sources.get((flow_id, version))
        return kept[1] if kept else None


@dataclass
class World:
    service: ConversationService
    store: FakeConversationStore
    flows: FakeFlowVersionStore
    catalog: FlowCatalog


def make_world(
    store: FakeConversationStore | None = None, flows: FakeFlowVersionStore | None = None
) -> World:
    catalog = FlowCatalog()
    catalog.add(FLOW.read_text(encoding="utf-8"))
    store = store or FakeConversationStore()
    flows = flows or FakeFlowVersionStore()
    return World(ConversationService(store, flows, catalog, FakeClock()), store, flows, catalog)


async def _to_the_end(world: World, cid: uuid.UUID) -> None:
    for tap in ("large", "ceo", "soon"):
        await world.service.handle_message(cid, Inbound.tap(tap))
    await world.service.handle_message(cid, Inbound.typed("ivan@example.com"))


def test_context_gives_identities_and_clean_facts() -> None:
    identities, facts = split_context(
        {
            "telegram_user_id": 42,
            "visitor_id": " ",
            "utm_source": "<b>google</b>",
            "pages_seen": 3,
            "nested": {"a": 1},
            "Bad Key": "x",
            "ratio": float("nan"),
        }
    )
    assert identities == (Identity("telegram", "42"),)
    assert facts == {"utm_source": "google", "pages_seen": 3}


async def test_start_records_the_flow_version_and_the_first_exchange() -> None:
    world = make_world()
    started = await world.service.start_conversation(FLOW_ID, "web", "en", {"utm_source": "google"})
    assert [r.text for r in started.replies] == ["Hello!", "What is your budget?"]
    assert set(world.flows.sources) == {(FLOW_ID, 1)}
    view = await world.service.get_conversation(started.conversation_id)
    assert [(m.direction, m.kind) for m in view.transcript] == [
        ("in", "start"),
        ("out", "reply"),
        ("out", "reply"),
    ]
    assert view.conversation.state.facts == {"utm_source": "google", "channel": "web", "returning": False}


async def test_a_completed_turn_saves_score_contact_and_one_handoff() -> None:
    world = make_world()
    started = await world.service.start_conversation(FLOW_ID, "telegram", "en", {"telegram_user_id": 7})
    await _to_the_end(world, started.conversation_id)

    last = world.store.turns[-1]
    assert last.state.stage is Stage.MQL
    assert last.score is not None
    assert last.score.total == 80
    assert last.score.stage is Stage.MQL
    assert [o.type for o in last.outbox] == ["lead.mql"]
    payload = last.outbox[0].payload
    assert payload["answers"]["timing"]["value"] == ["soon"]
    assert payload["source"]["channel"] == "telegram"
    assert last.identities == (Identity("email", "ivan@example.com"),)
    assert last.contact is not None
    assert last.contact.email == "ivan@example.com"
    assert [m.direction for m in last.messages] == ["in", "out"]
    # No other turn handed anything off or carried a score.
    assert all(not t.outbox and t.score is None for t in world.store.turns[:-1])


async def test_a_turn_lost_to_another_writer_is_recomputed_not_overwritten() -> None:
    world = make_world()
    cid = (await world.service.start_conversation(FLOW_ID, "web", "en")).conversation_id
    original_save = world.store.save_turn
    raced = False

    async def racing_save(turn: TurnWrite) -> StoredConversation:
        nonlocal raced
        if not raced:
            raced = True
            # Another process answers the budget question first.
            other = world.store.conversations[cid]
            answered = await world.service.handle_message(cid, Inbound.tap("small"))
            assert answered
            assert world.store.conversations[cid].version == other.version + 1
        return await original_save(turn)

    world.store.save_turn = racing_save  # type: ignore[method-assign]
    other_service = ConversationService(world.store, world.flows, world.catalog, FakeClock())
    await other_service.handle_message(cid, Inbound(kind="event", name="page_view", data={"path": "/x"}))

    saved = world.store.conversations[cid]
    assert other_service.retries == 1
    assert saved.version == 3
    assert saved.state.answers["budget"].value == ["small"]  # the first writer's answer stands
    assert saved.state.state == "role"
    assert saved.state.facts["pages_seen"] == 1  # and the second turn was applied on top of it


async def test_it_gives_up_after_the_last_attempt() -> None:
    world = make_world()
    cid = (await world.service.start_conversation(FLOW_ID, "web", "en")).conversation_id

    async def always_stale(turn: TurnWrite) -> StoredConversation:
        raise ConcurrentUpdate(turn.conversation_id, turn.expected_version)

    world.store.save_turn = always_stale  # type: ignore[method-assign]
    service = ConversationService(world.store, world.flows, world.catalog, FakeClock(), max_attempts=3)
    with pytest.raises(ConcurrentUpdate):
        await service.handle_message(cid, Inbound.tap("large"))
    assert service.retries == 3


async def test_turns_of_one_conversation_queue_in_process() -> None:
    world = make_world(FakeConversationStore(save_delay=0.001))
    cid = (await world.service.start_conversation(FLOW_ID, "web", "en")).conversation_id
    events = [Inbound(kind="event", name="page_view", data={"path": f"/{i}"}) for i in range(20)]
    await asyncio.gather(*(world.service.handle_message(cid, e) for e in events))
    assert world.service.retries == 0
    assert world.store.saves == 20
    assert world.store.conversations[cid].state.facts["pages_seen"] == 20
    assert world.service._locks._locks == {}


async def test_a_pinned_version_is_read_back_from_the_flow_store() -> None:
    flows = FakeFlowVersionStore()
    first = make_world(flows=flows)
    cid = (await first.service.start_conversation(FLOW_ID, "web", "en")).conversation_id
    # A process with an empty catalog for this id still continues on the stored source.
    empty = ConversationService(first.store, flows, FlowCatalog(), FakeClock())
    replies = await empty.handle_message(cid, Inbound.tap("large"))
    assert replies[-1].text == "Who decides?"
    flows.sources.clear()
    forgetful = ConversationService(first.store, flows, FlowCatalog(), FakeClock())
    with pytest.raises(FlowNotFound):
        await forgetful.handle_message(cid, Inbound.tap("ceo"))


async def test_unknown_conversation() -> None:
    world = make_world()
    with pytest.raises(ConversationNotFound):
        await world.service.handle_message(uuid.uuid4(), Inbound.typed("hi"))
    with pytest.raises(ConversationNotFound):
        await world.service.get_conversation("nope")
