"""A process killed mid-conversation loses no saved answer; the next process continues it."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from flows.catalog import FlowCatalog
from flows.model import Inbound, Stage
from flows.service import ConversationService, SystemClock
from storage.db import make_engine
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader
from storage.tables import OutboxEvent

WORKER = Path(__file__).parent / "crash_worker.py"
QUESTIONS = ("budget", "role", "timing", "email")

pytestmark = pytest.mark.slow


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def _line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode().strip()
    if not line:
        assert process.stderr is not None
        raise AssertionError((await process.stderr.read()).decode())
    return line


async def test_killed_mid_conversation_loses_no_saved_answer(database_url: str) -> None:
    starter = await _spawn(database_url, "start")
    word, cid = (await _line(starter)).split()
    assert word == "started"
    assert await starter.wait() == 0

    answering = await _spawn(database_url, "answer", cid, "large", "ceo", "soon")
    reported = [await _line(answering) for _ in range(2)]
    answering.send_signal(signal.SIGKILL)
    assert await answering.wait() == -signal.SIGKILL
    assert reported == ["saved 1 large", "saved 2 ceo"]

    resumer = await _spawn(database_url, "resume", cid)
    asked = await _line(resumer)
    assert await resumer.wait() == 0

    engine = make_engine(database_url)
    catalog = FlowCatalog()
    catalog.add((Path(__file__).parent / "flows" / "demo_v1.yaml").read_text(encoding="utf-8"))
    store = SqlConversationStore(engine)
    service = ConversationService(
        store, SqlFlowVersionStore(engine), catalog, SystemClock(), leads=SqlLeadReader(engine)
    )
    try:
        state = (await service.get_conversation(cid)).conversation.state
        assert state.answers["budget"].value == ["large"]
        assert state.answers["role"].value == ["ceo"]
        answered = len(state.answers)
        assert list(state.answers) == list(QUESTIONS[:answered])
        assert asked == f"question {QUESTIONS[answered]}"
        assert state.state == QUESTIONS[answered]

        for answer in ("large", "ceo", "soon")[answered:]:
            await service.handle_message(cid, Inbound.tap(answer))
        await service.handle_message(cid, Inbound.typed("ivan@example.com"))
        view = await service.get_conversation(cid)
        assert view.conversation.state.stage is Stage.MQL
        async with engine.connect() as conn:
            handoffs = (
                await conn.execute(select(func.count()).select_from(OutboxEvent.__table__))
            ).scalar_one()
        assert handoffs == 1
    finally:
        await store.aclose()
        await engine.dispose()
