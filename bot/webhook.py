"""Webhook mode: the updates Telegram pushes to ``POST /telegram/webhook`` (the route is in
``api.telegram``; this is what it hands them to).

Telegram never delivers an update again once it got a 200 for it, and it waits for that 200, so a
turn cannot run before the answer. Instead every update is written to the inbox (one short
INSERT) before the route answers, handled in its chat's lane like a polled one, and removed from
the inbox once it is handled. An update still in the inbox after a crash is taken over and handled
by whichever process looks next (this one when it starts again, or another worker): nothing
answered 200 is lost, and the turn's idempotency key (the update id, claimed in the turn's own
transaction) makes an update that was handled just before the crash change nothing the second
time. What can happen twice, after a crash only, is a reply message whose turn was committed but
whose removal from the inbox was not.

Each process holds the updates it took for a short lease, renewed while they are in hand; an
update whose lease ran out belongs to a process that died. An update delivered twice while the
first copy is still kept is dropped at the door.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import structlog
from aiogram import Bot
from aiogram.methods import DeleteWebhook, GetWebhookInfo, SetWebhook
from aiogram.types import Update, WebhookInfo

from bot.polling import ALLOWED_UPDATES
from bot.runtime import BotRuntime

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=60)  # QUALIBOT_TELEGRAM_WEBHOOK_LEASE
SWEEP_EVERY = 20.0  # seconds between lease renewals and take-overs (a third of the lease)
TAKE_OVER_BATCH = 100
FORGET_RETRY = 1.0  # seconds before trying again to remove handled updates
REMEMBERED = 10_000  # handled update ids a process remembers, to drop a late duplicate at the door


class Inbox(Protocol):
    """The updates answered and not yet handled (``storage.telegram.SqlTelegramInbox``)."""

    async def put(self, update_id: int, payload: str, received_at: datetime, lease_until: datetime) -> bool:
        """False when the update is kept already."""
        ...

    async def forget(self, update_ids: Sequence[int]) -> None: ...

    async def extend(self, update_ids: Sequence[int], lease_until: datetime) -> None: ...

    async def take_over(self, now: datetime, lease_until: datetime, limit: int) -> list[tuple[int, str]]: ...


def _now() -> datetime:
    return datetime.now(UTC)


class WebhookIntake:
    """``receive`` is what the webhook route calls; ``run`` (for the app's lifetime) takes over
    what dead processes left and renews the leases of what this one holds."""

    def __init__(
        self,
        runtime: BotRuntime,
        inbox: Inbox,
        *,
        clock: Callable[[], datetime] = _now,
        lease: timedelta = LEASE,
        sweep_every: float = SWEEP_EVERY,
    ) -> None:
        self.runtime = runtime
        self._inbox = inbox
        self._clock = clock
        self._lease = lease
        self._sweep_every = sweep_every
        self._in_hand: set[int] = set()
        self._handled: list[int] = []
        self._recent: set[int] = set()
        self._recent_order: deque[int] = deque()
        self._forgetting: asyncio.Task[None] | None = None
        self._closing = False
        self.duplicates = 0
        self.taken_over = 0

    async def receive(self, payload: dict[str, Any]) -> None:
        """Keep one update and start handling it; returns once it is kept, not handled. Raises
        ``ValueError`` when ``payload`` is not a Telegram update."""
        update = Update.model_validate(payload, context={"bot": self.runtime.bot})
        now = self._clock()
        if self._seen(update.update_id) or not await self._inbox.put(
            update.update_id, orjson.dumps(payload).decode(), now, now + self._lease
        ):
            self.duplicates += 1
            log.info("telegram_update_duplicate", update_id=update.update_id)
            return
        self._start(update)

    def _start(self, update: Update) -> None:
        update_id = update.update_id
        self._in_hand.add(update_id)

        def done() -> None:
            if self._closing:  # cancelled at shutdown: it stays in the inbox for the next process
                return
            self._in_hand.discard(update_id)
            self._remember(update_id)
            self._handled_now(update_id)

        self.runtime.accept(update, done)

    def _handled_now(self, update_id: int) -> None:
        self._handled.append(update_id)
        if self._forgetting is None or self._forgetting.done():
            self._forgetting = asyncio.ensure_future(self._forget())

    def _seen(self, update_id: int) -> bool:
        return update_id in self._in_hand or update_id in self._recent

    def _remember(self, update_id: int) -> None:
        self._recent.add(update_id)
        self._recent_order.append(update_id)
        if len(self._recent_order) > REMEMBERED:
            self._recent.discard(self._recent_order.popleft())

    async def _forget(self) -> None:
        """Remove handled updates from the inbox, as many at a time as have finished."""
        while self._handled:
            batch, self._handled = self._handled, []
            try:
                await self._inbox.forget(batch)
            except Exception as exc:
                log.warning("telegram_inbox_forget_failed", error=repr(exc), updates=len(batch))
                self._handled[:0] = batch
                await asyncio.sleep(FORGET_RETRY)

    async def take_over(self) -> int:
        """Start the updates whose process died (their lease ran out); how many."""
        taken = 0
        while True:
            now = self._clock()
            rows = await self._inbox.take_over(now, now + self._lease, TAKE_OVER_BATCH)
            for update_id, payload in rows:
                if update_id in self._in_hand:
                    continue
                if update_id in self._recent:  # handled here, its removal still to come
                    self._handled_now(update_id)
                    continue
                try:
                    update = Update.model_validate(orjson.loads(payload), context={"bot": self.runtime.bot})
                except ValueError as exc:
                    log.error("telegram_inbox_unreadable", update_id=update_id, error=str(exc))
                    await self._inbox.forget([update_id])
                    continue
                log.info("telegram_update_taken_over", update_id=update_id)
                self._start(update)
                taken += 1
            if len(rows) < TAKE_OVER_BATCH:
                break
        self.taken_over += taken
        return taken

    async def run(self) -> None:
        """Until cancelled: take over what dead processes left, renew this one's leases."""
        while True:
            try:
                if self._in_hand:
                    await self._inbox.extend(sorted(self._in_hand), self._clock() + self._lease)
                await self.take_over()
            except Exception as exc:
                log.warning("telegram_inbox_sweep_failed", error=repr(exc))
            await asyncio.sleep(self._sweep_every)

    async def aclose(self, drain: float = 10.0) -> None:
        """Finish what is in hand (up to ``drain`` seconds), then hand what is left to the next
        process at once (its lease ends now) instead of after the lease."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.runtime.join(), drain)
        if self._forgetting is not None:
            with contextlib.suppress(TimeoutError):  # the database is down: they are handled again
                await asyncio.wait_for(asyncio.shield(self._forgetting), FORGET_RETRY * 3)
            self._forgetting.cancel()
        left = sorted(self._in_hand)
        self._closing = True
        await self.runtime.aclose()
        if left:
            try:
                await self._inbox.extend(left, self._clock())
            except Exception as exc:
                log.warning("telegram_inbox_release_failed", error=repr(exc), updates=len(left))


# The ports Telegram sends webhooks to (https://core.telegram.org/bots/api#setwebhook).
WEBHOOK_PORTS = (443, 80, 88, 8443)


def check_webhook_url(url: str, *, self_hosted: bool = False) -> str:
    """``url`` if Telegram can send updates to it, else a ``ValueError`` saying why. A self-hosted
    Bot API server also sends to plain ``http://`` and to any port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("not a URL") from None
    schemes = ("https", "http") if self_hosted else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError("Telegram only sends updates to an https:// address")
    if parts.username or parts.password or parts.fragment:
        raise ValueError("the address may carry no user, password or #fragment")
    if not self_hosted and port is not None and port not in WEBHOOK_PORTS:
        raise ValueError("Telegram only sends updates to ports 443, 80, 88 and 8443")
    if len(url) > 2048 or any(c.isspace() for c in url):
        raise ValueError("not a URL")
    return url


async def set_webhook(bot: Bot, url: str, secret: str) -> WebhookInfo:
    """Ask Telegram to send the bot's updates to ``url`` with ``secret`` in the header the route
    checks, only the kinds the bot handles; what Telegram then reports."""
    await bot(SetWebhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES))
    return await bot(GetWebhookInfo())


async def delete_webhook(bot: Bot) -> None:
    """Back to polling; the updates waiting are kept for it."""
    await bot(DeleteWebhook(drop_pending_updates=False))
