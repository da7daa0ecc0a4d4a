"""The conversation service over in-memory ports: what a turn saves, retries, locking, errors."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flows.catalog import FlowCatalog
from flows.errors import ConcurrentUpdate, ConversationNotFound, FlowNotFound
from flows.model import Channel, Inbound, Source, Stage
from flows.ports import TELEGRAM, Identity, StoredConversation, TurnWrite
from flows.service import ConversationService
from tests.fakes import FakeClock, FakeFlowVersionStore, MemoryStore

FLOW = Path(__file__).parent.parent / "storage" / "flows" / "demo_v1.yaml"
FLOW_ID = "storage_demo"


WEB = Source(channel=Channel.WEB)


@dataclass
class World:
    service: ConversationService
    store: MemoryStore
    flows: FakeFlowVersionStore
    catalog: FlowCatalog


def service_over(
    store: MemoryStore, flows: FakeFlowVersionStore, catalog: FlowCatalog, **kw: Any
) -> ConversationService:
    return ConversationService(store, flows, catalog, FakeClock(), leads=store, **kw)


def make_world(store: MemoryStore | None = None, flows: FakeFlowVersionStore | None = None) -> World:
    catalog = FlowCatalog()
    catalog.add(FLOW.read_text(encoding="utf-8"))
    store = store or MemoryStore()
    flows = flows or FakeFlowVersionStore()
    return World(service_over(store, flows, catalog), store, flows, catalog)


async def _to_the_end(world: World, cid: uuid.UUID) -> None:
    for tap in ("large", "ceo", "soon"):
        await world.service.handle_message(cid, Inbound.tap(tap))
    await world.service.handle_message(cid, Inbound.typed("ivan@example.com"))


async def test_start_records_the_flow_version_and_the_first_exchange() -> None:
    world = make_world()
    source = Source(channel=Channel.WEB, utm={"source": "<b>google</b>"}, referrer="  ")
    started = await world.service.start_conversation(FLOW_ID, "en", source)
    assert [r.text for r in started.replies] == ["Hello!", "What is your budget?"]
    assert started.question_id == "budget"
    assert (started.progress.answered, started.done, started.version) == (0, False, 1)
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
    started = await world.service.start_conversation(
        FLOW_ID, "en", Source(channel=Channel.TELEGRAM), identity=Identity(TELEGRAM, "7")
    )
    await _to_the_end(world, started.conversation_id)

    last = world.store.turns[-1]
    assert last.state.stage is Stage.MQL
    assert last.score is not None
    assert last.score.total == 80
    assert last.score.stage is Stage.MQL
    assert last.claim.completed
    assert [o.type for o in world.store.outbox] == ["lead.mql"]
    payload = world.store.outbox[0].payload
    assert payload["answers"]["timing"]["value"] == ["soon"]
    assert payload["source"]["channel"] == "telegram"
    assert payload["lead"]["stage"] == "mql"
    assert last.identities == (Identity("email", "ivan@example.com"),)
    assert last.claim.contact is not None
    assert last.claim.contact.email == "ivan@example.com"
    assert [m.direction for m in last.messages] == ["in", "out"]
    # No other turn claimed a completion or carried a score.
    assert all(not t.claim.completed and t.score is None for t in world.store.turns[:-1])


async def test_a_turn_lost_to_another_writer_is_recomputed_not_overwritten() -> None:
    world = make_world()
    cid = (await world.service.start_conversation(FLOW_ID, "en", WEB)).conversation_id
    original_save = world.store.save_turn
    raced = False

    async def racing_save(turn: TurnWrite) -> StoredConversation:
        nonlocal raced
        if not raced:
            raced = True
            # Another process answers the budget question first.
            other = world.store.conversations[cid]
            answered = await world.service.handle_message(cid, Inbound.tap("small"))
            assert answered.question_id == "role"
            assert world.store.conversations[cid].version == other.version + 1
        return await original_save(turn)

    world.store.save_turn = racing_save  # type: ignore[method-assign]
    other_service = service_over(world.store, world.flows, world.catalog)
    await other_service.handle_message(cid, Inbound(kind="event", name="page_view", data={"path": "/x"}))

    saved = world.store.conversations[cid]
    assert other_service.retries == 1
    assert saved.version == 3
    assert saved.state.answers["budget"].value == ["small"]  # the first writer's answer stands
    assert saved.state.state == "role"
    assert saved.state.facts["pages_seen"] == 1  # and the second turn was applied on top of it


async def test_it_gives_up_after_the_last_attempt() -> None:
    world = make_world()
    cid = (await world.service.start_conversation(FLOW_ID, "en", WEB)).conversation_id

    async def always_stale(turn: TurnWrite) -> StoredConversation:
        raise ConcurrentUpdate(turn.conversation_id, turn.expected_version)

    world.store.save_turn = always_stale  # type: ignore[method-assign]
    service = service_over(world.store, world.flows, world.catalog, max_attempts=3)
    with pytest.raises(ConcurrentUpdate):
        await service.handle_message(cid, Inbound.tap("large"))
    assert service.retries == 3


async def test_turns_of_one_conversation_queue_in_process() -> None:
    world = make_world(MemoryStore(save_delay=0.001))
    cid = (await world.service.start_conversation(FLOW_ID, "en", WEB)).conversation_id
    events = [Inbound(kind="event", name="page_view", data={"path": f"/{i}"}) for i in range(20)]
    await asyncio.gather(*(world.service.handle_message(cid, e) for e in events))
    assert world.service.retries == 0
    assert world.store.saves == 20
    assert world.store.conversations[cid].state.facts["pages_seen"] == 20
    assert world.service._locks._locks == {}


async def test_a_pinned_version_is_read_back_from_the_flow_store() -> None:
    flows = FakeFlowVersionStore()
    first = make_world(flows=flows)
    cid = (await first.service.start_conversation(FLOW_ID, "en", WEB)).conversation_id
    # A process with an empty catalog for this id still continues on the stored source.
    empty = service_over(first.store, flows, FlowCatalog())
    result = await empty.handle_message(cid, Inbound.tap("large"))
    assert result.replies[-1].text == "Who decides?"
    flows.sources.clear()
    forgetful = service_over(first.store, flows, FlowCatalog())
    with pytest.raises(FlowNotFound):
        await forgetful.handle_message(cid, Inbound.tap("ceo"))


async def test_unknown_conversation() -> None:
    world = make_world()
    with pytest.raises(ConversationNotFound):
        await world.service.handle_message(uuid.uuid4(), Inbound.typed("hi"))
    with pytest.raises(ConversationNotFound):
        await world.service.get_conversation("nope")
