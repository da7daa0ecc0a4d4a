"""An echoing bot for the tests of the delivery machinery (polling, lanes, webhook, limits):
each text is recorded when its handler starts and echoed back through the outbound limiter."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import dataclass, field

from aiogram import Dispatcher, Router
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message

from bot.outbound import Limits, Outbound

# Fast per-chat pacing, so a burst of twenty is quick; the real limits have a test of their own.
QUICK = Limits(chat_rate=50.0, chat_burst=5)


@dataclass
class Echo:
    """An echoing bot: each text is recorded when its handler starts and echoed back."""

    seen: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    running: set[int] = field(default_factory=set)
    overlap: set[int] = field(default_factory=set)
    jitter: float = 0.0

    def router(self) -> Router:
        router = Router()

        @router.message()
        async def echo(message: Message, outbound: Outbound) -> None:
            chat = message.chat.id
            if chat in self.running:
                self.overlap.add(chat)
            self.running.add(chat)
            try:
                text = message.text or ""
                self.seen[chat].append(text)
                gate = self.gates.get(text)
                if gate is not None:
                    await gate.wait()
                if self.jitter:
                    await asyncio.sleep(random.uniform(0, self.jitter))
                await outbound.send(SendMessage(chat_id=chat, text=f"echo {text}"), chat)
            finally:
                self.running.discard(chat)

        @router.callback_query()
        async def tapped(query: CallbackQuery, outbound: Outbound) -> None:
            chat = query.from_user.id
            await outbound.send(SendMessage(chat_id=chat, text=f"tap {query.data}"), chat)

        return router

    def dispatcher(self) -> Dispatcher:
        dispatcher = Dispatcher(disable_fsm=True)
        dispatcher.include_router(self.router())
        return dispatcher
