"""The bot at run time: takes updates (from polling or the webhook), answers button taps at once,
runs each chat's updates in order through aiogram's dispatcher, and says when each is done.

An update that fails unexpectedly (the database is unreachable, say) is tried again a few times;
the service's idempotency key makes a retried turn safe. If it still fails, the person is told
politely and the update is let go, so one poisoned update never blocks a chat for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiogram import Bot, Dispatcher
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import Update

from bot.lanes import Lanes
from bot.outbound import Outbound

log = structlog.get_logger(__name__)

Done = Callable[[], None]

RETRY_DELAYS = (0.2, 1.0, 3.0)


def chat_key(update: Update) -> int:
    """The chat an update belongs to (its lane): private chats are keyed by the person."""
    if update.message is not None:
        return update.message.chat.id
    if update.edited_message is not None:
        return update.edited_message.chat.id
    if update.callback_query is not None:
        message = update.callback_query.message
        return message.chat.id if message is not None else update.callback_query.from_user.id
    return 0


@dataclass(frozen=True, slots=True)
class Failure:
    """What to tell a person whose update could not be handled."""

    update: Update
    error: BaseException


class BotRuntime:
    def __init__(
        self,
        bot: Bot,
        dispatcher: Dispatcher,
        outbound: Outbound,
        *,
        lanes: Lanes | None = None,
        on_failure: Callable[[Failure], Any] | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.outbound = outbound
        self.lanes = lanes or Lanes()
        self._on_failure = on_failure
        self._retry_delays = retry_delays
        self._context = {"outbound": outbound, **(context or {})}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.handled = 0

    def accept(self, update: Update, done: Done | None = None) -> None:
        """Start handling ``update`` after the earlier updates of its chat; ``done()`` is called
        once it is handled (or given up on)."""
        self.answer_at_once(update)

        async def job() -> None:
            try:
                await self.handle(update)
            finally:
                if done is not None:
                    done()

        self.lanes.submit(chat_key(update), job)

    def answer_at_once(self, update: Update) -> None:
        """Answer a button tap before anything else, so the button stops spinning at once (the
        turn it causes runs later, in its chat's turn)."""
        if update.callback_query is not None:
            self._spawn(self.outbound.call(AnswerCallbackQuery(callback_query_id=update.callback_query.id)))

    async def handle(self, update: Update) -> None:
        """Run one update through the dispatcher now (the caller keeps a chat's updates in
        order), trying again on an unexpected failure."""
        try:
            await self._handle(update)
        finally:
            self.handled += 1

    async def _handle(self, update: Update) -> None:
        with structlog.contextvars.bound_contextvars(update_id=update.update_id, channel="telegram"):
            for attempt, delay in enumerate((*self._retry_delays, None)):
                try:
                    await self.dispatcher.feed_update(self.bot, update, **self._context)
                    return
                except Exception as exc:
                    if delay is None:
                        log.exception("telegram_update_failed", attempts=attempt + 1)
                        await self._fail(Failure(update, exc))
                        return
                    log.warning("telegram_update_retry", error=repr(exc), attempt=attempt + 1, wait=delay)
                    await asyncio.sleep(delay)

    async def _fail(self, failure: Failure) -> None:
        if self._on_failure is None:
            return
        try:
            result = self._on_failure(failure)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            log.exception("telegram_failure_notice_failed")

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def join(self) -> None:
        """Wait until every accepted update is handled."""
        await self.lanes.join()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        await self.lanes.aclose()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
