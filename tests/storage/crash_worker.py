"""A process that runs one conversation against a database, for the crash test.

    python crash_worker.py URL start            -> prints "started <id>"
    python crash_worker.py URL answer <id> A B  -> taps A, B, ... one by one, printing
                                                   "saved <n> <answer>" once each turn is committed
    python crash_worker.py URL resume <id>      -> prints "question <id>": what it asks now

Every line is flushed at once: the test kills this process right after reading one.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from flows.catalog import FlowCatalog
from flows.model import Channel, Inbound, Source
from flows.ports import WEB_VISITOR, Identity
from flows.service import ConversationService, SystemClock
from storage.db import check_schema, make_engine
from storage.repositories import SqlConversationStore, SqlFlowVersionStore, SqlLeadReader

FLOW = Path(__file__).parent / "flows" / "demo_v1.yaml"
FLOW_ID = "storage_demo"


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(url: str, command: str, args: list[str]) -> None:
    engine = make_engine(url)
    await check_schema(engine)
    catalog = FlowCatalog()
    catalog.add(FLOW.read_text(encoding="utf-8"))
    store = SqlConversationStore(engine)
    service = ConversationService(
        store, SqlFlowVersionStore(engine), catalog, SystemClock(), leads=SqlLeadReader(engine)
    )
    try:
        if command == "start":
            started = await service.start_conversation(
                FLOW_ID, "en", Source(channel=Channel.WEB), identity=Identity(WEB_VISITOR, "crash")
            )
            _say(f"started {started.conversation_id}")
        elif command == "answer":
            cid, answers = args[0], args[1:]
            for n, answer in enumerate(answers, start=1):
                await service.handle_message(cid, Inbound.tap(answer))
                _say(f"saved {n} {answer}")
                await asyncio.sleep(0.2)
        elif command == "resume":
            current = await service.current(args[0])
            _say(f"question {current.question_id}")
    finally:
        await store.aclose()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
