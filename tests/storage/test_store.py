"""The SQL stores on their own: group commit, version checks, the read cache, flow versions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.catalog import source_sha256
from flows.errors import ConcurrentUpdate, ConversationNotFound, FlowVersionConflict
from flows.model import Answer, ConversationState, Stage
from flows.ports import (
    Identity,
    LeadClaim,
    MessageRecord,
    NewConversation,
    RandomIds,
    StoredConversation,
    TurnWrite,
)
from storage.db import make_engine
from storage.repositories import SqlConversationStore, SqlFlowVersionStore
from storage.tokens import SqlTokenStore

FLOW_ID = "storage_demo"
AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def _record_flow(engine: AsyncEngine) -> None:
    source = (Path(__file__).parent / "flows" / "demo_v1.yaml").read_text(encoding="utf-8")
    await SqlFlowVersionStore(engine).record(FLOW_ID, 1, source_sha256(source), source)


def _new(visitor: str, *, flow_version: int = 1) -> NewConversation:
    state = ConversationState(
        flow_id=FLOW_ID,
        flow_version=flow_version,
        locale="en",
        state="budget",
        stage=Stage.IN_PROGRESS,
        version=1,
    )
    return NewConversation(
        id=uuid.uuid4(),
        lead_id=uuid.uuid4(),
        channel="web",
        state=state,
        identities=(Identity("web_visitor", visitor),),
        messages=(MessageRecord("in", "start", "", {"kind": "start"}),),
        at=AT,
    )


def _turn(stored: StoredConversation, answer: str, *, expected: int | None = None) -> TurnWrite:
    answers = {**stored.state.answers, answer: Answer(answer, answer, answer)}
    state = replace(stored.state, answers=answers, version=stored.version + 1)
    return TurnWrite(
        conversation_id=stored.id,
        expected_version=stored.version if expected is None else expected,
        state=state,
        messages=(
            MessageRecord("in", "text", answer, {"kind": "text", "text": answer}),
            MessageRecord("out", "reply", "ok", {"text": "ok"}),
        ),
        at=stored.updated_at + timedelta(seconds=1),
        claim=LeadClaim(Stage.IN_PROGRESS),
    )


async def test_stale_version_is_refused_and_nothing_is_written(engine: AsyncEngine) -> None:
    await _record_flow(engine)
    store = SqlConversationStore(engine)
    try:
        created = await store.create(_new("a"))
        saved = await store.save_turn(_turn(created, "x"))
        assert saved.version == 2
        with pytest.raises(ConcurrentUpdate):
            await store.save_turn(_turn(created, "y"))
        view = await store.view(created.id)
        assert view is not None
        assert view.conversation.version == 2
        assert set(view.conversation.state.answers) == {"x"}
        assert [m.text for m in view.transcript] == ["", "x", "ok"]
        assert view.conversation.updated_at.tzinfo is not None
        assert view.conversation.updated_at == AT + timedelta(seconds=1)
        with pytest.raises(ConversationNotFound):
            await store.save_turn(_turn(_replace_id(created), "z"))
    finally:
        await store.aclose()


def _replace_id(stored: StoredConversation) -> StoredConversation:
    return StoredConversation(
        id=uuid.uuid4(),
        lead_id=stored.lead_id,
        channel=stored.channel,
        flow_id=stored.flow_id,
        flow_version=stored.flow_version,
        state=stored.state,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
    )


async def test_concurrent_writes_share_transactions_and_fail_alone(engine: AsyncEngine) -> None:
    await _record_flow(engine)
    store = SqlConversationStore(engine)
    try:
        created = await asyncio.gather(*(store.create(_new(f"v{i}")) for i in range(40)))
        assert store.stats.batches < 40
        before = store.stats.batches
        writes = [_turn(c, "x") for c in created]
        writes[7] = _turn(created[7], "x", expected=99)
        results = await asyncio.gather(*(store.save_turn(w) for w in writes), return_exceptions=True)
        assert [i for i, r in enumerate(results) if isinstance(r, BaseException)] == [7]
        assert isinstance(results[7], ConcurrentUpdate)
        assert store.stats.batches - before < 40
        assert store.stats.largest_batch > 1
        for c in created:
            view = await store.view(c.id)
            assert view is not None
            assert view.conversation.version == (1 if c.id == created[7].id else 2)
    finally:
        await store.aclose()


async def test_a_bad_write_in_a_batch_fails_alone(engine: AsyncEngine) -> None:
    await _record_flow(engine)
    store = SqlConversationStore(engine)
    try:
        ops = [_new(f"ok{i}") for i in range(10)]
        ops[4] = _new("bad", flow_version=9)  # no such flow version: the foreign key refuses it
        results = await asyncio.gather(*(store.create(op) for op in ops), return_exceptions=True)
        failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
        assert failed == [4]
        assert store.stats.fallbacks >= 1
        for i, op in enumerate(ops):
            assert (await store.view(op.id) is None) == (i == 4)
    finally:
        await store.aclose()


async def test_tokens_are_written_with_the_turns_and_a_bad_one_fails_alone(engine: AsyncEngine) -> None:
    await _record_flow(engine)
    store = SqlConversationStore(engine)
    tokens = SqlTokenStore(engine, store.writer)
    expires = AT + timedelta(days=30)
    try:
        created = await asyncio.gather(*(store.create(_new(f"t{i}")) for i in range(20)))
        before, ops = store.stats.batches, store.stats.ops
        grants = [tokens.add(f"{i:064x}", c.id, AT, expires) for i, c in enumerate(created)]
        turns = [store.save_turn(_turn(c, "x")) for c in created]
        await asyncio.gather(*grants, *turns)
        assert store.stats.ops - ops == 40  # the tokens went through the turns' writer
        assert store.stats.batches - before < 40  # and shared transactions with them
        for i, c in enumerate(created):
            assert await tokens.find(f"{i:064x}") == (c.id, expires)
        stored = await asyncio.gather(*(store.load(c.id) for c in created))
        turns = [store.save_turn(_turn(c, "y")) for c in stored if c is not None]
        unknown = tokens.add("f" * 64, uuid.uuid4(), AT, expires)  # no such conversation
        results = await asyncio.gather(unknown, *turns, return_exceptions=True)
        assert [i for i, r in enumerate(results) if isinstance(r, BaseException)] == [0]
        assert await tokens.find("f" * 64) is None
        for c in created:
            view = await store.view(c.id)
            assert view is not None
            assert view.conversation.version == 3
    finally:
        await store.aclose()


async def test_the_cache_is_kept_honest_by_the_version_check(engine: AsyncEngine, database_url: str) -> None:
    await _record_flow(engine)
    other_engine = make_engine(database_url)
    mine, other = SqlConversationStore(engine), SqlConversationStore(other_engine)
    try:
        created = await mine.create(_new("shared"))
        cached = await mine.load(created.id)
        assert cached == created
        assert mine.cache_hits == 1
        theirs = await other.load(created.id)
        assert theirs is not None
        assert other.cache_misses == 1
        await other.save_turn(_turn(theirs, "theirs"))

        with pytest.raises(ConcurrentUpdate):
            await mine.save_turn(_turn(created, "mine"))
        fresh = await mine.load(created.id)
        assert fresh is not None
        assert fresh.version == 2
        assert set(fresh.state.answers) == {"theirs"}
        assert (await mine.save_turn(_turn(fresh, "mine"))).version == 3
    finally:
        await mine.aclose()
        await other.aclose()
        await other_engine.dispose()


async def test_same_identity_twice_in_one_batch_makes_one_lead(engine: AsyncEngine) -> None:
    await _record_flow(engine)
    store = SqlConversationStore(engine)
    try:
        first, second = await asyncio.gather(store.create(_new("twin")), store.create(_new("twin")))
        assert first.lead_id == second.lead_id
        assert await store.find_lead([Identity("web_visitor", "twin")]) == first.lead_id
        assert await store.find_lead([Identity("web_visitor", "nobody")]) is None
    finally:
        await store.aclose()


async def test_stage_and_state_round_trip(engine: AsyncEngine) -> None:
    await _record_flow(engine)
    store = SqlConversationStore(engine)
    try:
        created = await store.create(_new("rt"))
        done = replace(
            created.state,
            state="done",
            stage=Stage.MQL,
            score=77,
            tier="A",
            facts={"utm_source": "g"},
            version=2,
        )
        claim = LeadClaim(Stage.MQL, score=77, tier="A", completed=True, handoff={"answers": {}})
        turn = TurnWrite(created.id, 1, done, (), AT + timedelta(minutes=1), claim)
        await store.save_turn(turn)
        store.forget(created.id)
        loaded = await store.load(created.id)
        assert loaded is not None
        assert loaded.state == done
        assert loaded.version == 2
    finally:
        await store.aclose()


async def test_flow_versions_are_kept_exactly(engine: AsyncEngine, flow_source: Callable[[int], str]) -> None:
    versions = SqlFlowVersionStore(engine)
    source = flow_source(1)
    await versions.record(FLOW_ID, 1, source_sha256(source), source)
    await versions.record(FLOW_ID, 1, source_sha256(source), source)
    assert await versions.source(FLOW_ID, 1) == source
    assert await versions.source(FLOW_ID, 2) is None
    edited = source.replace("Hello!", "Hi!")
    with pytest.raises(FlowVersionConflict):
        await versions.record(FLOW_ID, 1, source_sha256(edited), edited)


async def test_an_unreachable_database_fails_the_write_instead_of_hanging(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'q.db'}")
    store = SqlConversationStore(engine)
    try:
        with pytest.raises(OperationalError, match="unable to open database file"):
            await asyncio.wait_for(store.create(_new("nowhere")), timeout=10)
    finally:
        await store.aclose()
        await engine.dispose()


def test_random_ids_are_distinct_version_4_uuids_across_buffer_refills() -> None:
    new_id = RandomIds()
    ids = [new_id() for _ in range(1000)]  # four buffers' worth
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {4}
    assert {i.variant for i in ids} == {uuid.RFC_4122}
