"""Long polling that acknowledges an update only once it has been handled.

Telegram forgets every update below the ``offset`` of a ``getUpdates`` call. aiogram's
``start_polling`` moves the offset past an update as soon as it has read it, before its handler
has run, so a process killed in between loses that update. Here the offset only moves past
updates whose turn is committed and whose replies are sent: the offset is the lowest update still
in hand (or one past the newest when none is). A process killed at any moment has those updates
delivered again to its successor, and the service's idempotency key (the update id, claimed in the
turn's own transaction) makes a turn that was already saved return its first result instead of
being taken twice.

While some updates are still in hand, the next ``getUpdates`` asks from that lowest one again:
Telegram answers at once with the ones in hand (skipped: an update id at or below the newest one
read is never handled twice by a process) and the ones that arrived since, which start at once
in their chats' lanes. So one slow chat (say, waiting out a flood wait) holds up the offset but
not the other chats.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from aiogram import Bot
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

log = structlog.get_logger(__name__)

# The update kinds the bot handles; Telegram sends no others.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]

# While updates are in hand, how often to look for new ones when nothing finishes.
BUSY_POLL_INTERVAL = 0.5
BACKOFF = BackoffConfig(min_delay=0.5, max_delay=30.0, factor=2.0, jitter=0.1)


class Acks:
    """The updates read and not yet handled; the offset that acknowledges only handled ones."""

    def __init__(self) -> None:
        self._in_hand: set[int] = set()
        self._newest = 0
        self.progress = asyncio.Event()

    def take(self, update_id: int) -> bool:
        """True if this update is new to this process (and now in hand)."""
        if update_id <= self._newest:
            return False
        self._newest = update_id
        self._in_hand.add(update_id)
        return True

    def done(self, update_id: int) -> None:
        self._in_hand.discard(update_id)
        self.progress.set()

    @property
    def offset(self) -> int | None:
        if self._in_hand:
            return min(self._in_hand)
        return self._newest + 1 if self._newest else None

    @property
    def in_hand(self) -> int:
        return len(self._in_hand)


Start = Callable[[Update, Callable[[], None]], None]


class Poller:
    """``start(update, done)`` begins handling a new update and must not wait for it: the caller
    orders the work (lanes) and calls ``done()`` once the update is handled or given up on."""

    def __init__(
        self,
        bot: Bot,
        start: Start,
        *,
        poll_timeout: int = 25,
        request_timeout: float = 15.0,
    ) -> None:
        self._bot = bot
        self._start = start
        self._poll_timeout = poll_timeout
        self._request_timeout = request_timeout
        self.acks = Acks()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Poll until ``stop()``; then acknowledge what was handled (handing in-flight updates
        to whoever polls next)."""
        backoff = Backoff(BACKOFF)
        while not self._stopping.is_set():
            busy = self.acks.in_hand > 0
            try:
                updates = await self._get(wait=0 if busy else self._poll_timeout)
            except TelegramUnauthorizedError:
                raise
            except TelegramConflictError as exc:
                log.error("telegram_polling_conflict", error=exc.message, wait=backoff.next_delay)
                await self._pause(backoff.next_delay)
                next(backoff)
                continue
            except (TelegramNetworkError, TelegramServerError, TimeoutError) as exc:
                log.warning("telegram_polling_failed", error=str(exc), wait=backoff.next_delay)
                await self._pause(backoff.next_delay)
                next(backoff)
                continue
            backoff.reset()
            fresh = [u for u in updates if self.acks.take(u.update_id)]
            for update in fresh:
                self._start(update, _done_callback(self.acks, update.update_id))
            if busy and not fresh:
                await self._wait_progress()
        await self.confirm()

    async def _get(self, *, wait: int) -> list[Update]:
        """The next updates (Telegram holds the request up to ``wait`` seconds when there are
        none); none when ``stop()`` comes first (the request is dropped)."""
        self.acks.progress.clear()
        method = GetUpdates(offset=self.acks.offset, limit=100, timeout=wait, allowed_updates=ALLOWED_UPDATES)
        request = asyncio.ensure_future(self._bot(method, request_timeout=int(self._request_timeout + wait)))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((request, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not request.done():
                request.cancel()
                await asyncio.gather(request, return_exceptions=True)
        if request.cancelled():
            return []
        return request.result()

    async def _wait_progress(self) -> None:
        waits = [
            asyncio.ensure_future(self.acks.progress.wait()),
            asyncio.ensure_future(self._stopping.wait()),
        ]
        try:
            await asyncio.wait(waits, timeout=BUSY_POLL_INTERVAL, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def confirm(self) -> None:
        """Tell Telegram which updates are handled, so a restart does not see them again."""
        offset = self.acks.offset
        if offset is None:
            return
        try:
            confirm = GetUpdates(offset=offset, limit=1, timeout=0)
            await self._bot(confirm, request_timeout=int(self._request_timeout))
        except (TelegramNetworkError, TelegramServerError, TelegramConflictError, TimeoutError) as exc:
            log.warning("telegram_confirm_failed", error=str(exc))


def _done_callback(acks: Acks, update_id: int) -> Callable[[], None]:
    def done() -> None:
        acks.done(update_id)

    return done
