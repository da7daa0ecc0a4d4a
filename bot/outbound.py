"""Everything the bot sends goes through here: rate limits, flood waits and retries.

- Messages are paced per chat (about one a second, with a short burst so a turn's two messages
  arrive together) and overall (under Telegram's 30 a second), first come first served.
- A ``429 Too Many Requests`` is waited out for exactly its ``retry_after`` and the same request
  is sent again, as many times as it takes: a message is never dropped for flood control. The chat
  it was for is held back for that time too, so its messages stay in order.
- Network failures and Telegram's 5xx are retried with a growing pause for a bounded time.
- What Telegram refuses for good (a user who blocked the bot, an edit of a message that is not
  there any more) is logged and skipped: there is nothing else to do with it.

aiogram itself sends each request once and raises ``TelegramRetryAfter`` to the caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    EditMessageReplyMarkup,
    GetMe,
    GetUpdates,
    GetWebhookInfo,
    SendMessage,
    SetWebhook,
    TelegramMethod,
)
from aiogram.methods.base import Response

log = structlog.get_logger(__name__)

# aiogram reads every answer as ``Response[<the method's result type>]``, a pydantic generic model
# made on first use and kept by pydantic only weakly: each garbage collection dropped them, and
# under load about one request in four built its model again (several milliseconds each, the
# largest single cost of a turn). Held here for every method the bot calls.
RESPONSE_MODELS = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        GetMe,
        GetUpdates,
        GetWebhookInfo,
        SetWebhook,
        DeleteWebhook,
        SendMessage,
        AnswerCallbackQuery,
        EditMessageReplyMarkup,
    )
)

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class Pace:
    """A rate with a burst, as a virtual schedule (GCRA): each caller reserves the next slot and
    sleeps until it, so waiting callers go in order and the rate holds over any window."""

    interval: float  # seconds between sends at the sustained rate
    burst: int
    next_at: float = 0.0  # theoretical time of the next send

    def reserve(self, now: float) -> float:
        """Seconds to wait before sending (0 when there is room), with the slot taken."""
        at = max(self.next_at, now)
        earliest = at - (self.burst - 1) * self.interval
        self.next_at = at + self.interval
        return max(0.0, earliest - now)

    def hold(self, until: float) -> None:
        """Nothing before ``until`` (Telegram said to wait)."""
        self.next_at = max(self.next_at, until + (self.burst - 1) * self.interval)

    def idle(self, now: float) -> bool:
        return self.next_at <= now


@dataclass(frozen=True, slots=True)
class Limits:
    chat_rate: float = 1.0  # messages per second in one chat
    chat_burst: int = 3
    global_rate: float = 25.0  # messages per second overall
    global_burst: int = 4
    retry_for: float = 300.0  # seconds to keep retrying network and server failures
    first_backoff: float = 0.5
    max_backoff: float = 30.0


class Outbound:
    def __init__(
        self,
        bot: Bot,
        limits: Limits | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.bot = bot
        self.limits = limits or Limits()
        self._clock = clock
        self._sleep = sleep
        self._global = Pace(1.0 / self.limits.global_rate, self.limits.global_burst)
        self._chats: dict[int, Pace] = {}
        self.flood_waits = 0

    async def send(self, method: TelegramMethod[T], chat_id: int) -> T | None:
        """A message to a chat (``sendMessage``, ``editMessageReplyMarkup``, ...), paced;
        ``None`` when Telegram refuses it for good."""
        return await self._deliver(method, chat_id, paced=True)

    async def call(self, method: TelegramMethod[T], chat_id: int | None = None) -> T | None:
        """A request that is not a message (``answerCallbackQuery``): sent at once, unpaced, with
        the same flood waits and retries."""
        return await self._deliver(method, chat_id, paced=False)

    async def _deliver(self, method: TelegramMethod[T], chat_id: int | None, *, paced: bool) -> T | None:
        started = self._clock()
        backoff = self.limits.first_backoff
        while True:
            if paced and chat_id is not None:
                await self._pace(chat_id)
            try:
                return await self.bot(method)
            except TelegramRetryAfter as exc:
                self.flood_waits += 1
                until = self._clock() + exc.retry_after
                if chat_id is not None:
                    self._chat(chat_id).hold(until)
                log.warning(
                    "telegram_flood_wait",
                    method=method.__api_method__,
                    chat_id=chat_id,
                    retry_after=exc.retry_after,
                )
                await self._sleep(exc.retry_after)
                backoff = self.limits.first_backoff
            except (TelegramNetworkError, TelegramServerError) as exc:
                if self._clock() - started + backoff > self.limits.retry_for:
                    log.error(
                        "telegram_gave_up", method=method.__api_method__, chat_id=chat_id, error=repr(exc)
                    )
                    return None
                log.warning(
                    "telegram_retry",
                    method=method.__api_method__,
                    chat_id=chat_id,
                    error=repr(exc),
                    wait=backoff,
                )
                await self._sleep(backoff)
                backoff = min(backoff * 2, self.limits.max_backoff)
            except (TelegramBadRequest, TelegramForbiddenError, TelegramNotFound) as exc:
                _log_refusal(method, chat_id, exc)
                return None

    async def _pace(self, chat_id: int) -> None:
        wait = self._chat(chat_id).reserve(self._clock())
        if wait > 0:
            await self._sleep(wait)
        wait = self._global.reserve(self._clock())
        if wait > 0:
            await self._sleep(wait)

    def _chat(self, chat_id: int) -> Pace:
        pace = self._chats.get(chat_id)
        if pace is None:
            if len(self._chats) > 10_000:
                self._forget_idle()
            pace = self._chats[chat_id] = Pace(1.0 / self.limits.chat_rate, self.limits.chat_burst)
        return pace

    def _forget_idle(self) -> None:
        now = self._clock()
        for chat_id in [c for c, pace in self._chats.items() if pace.idle(now)]:
            del self._chats[chat_id]


def _log_refusal(method: TelegramMethod[Any], chat_id: int | None, exc: TelegramAPIError) -> None:
    message = str(exc.message)
    if isinstance(exc, TelegramBadRequest) and ("not modified" in message or "to edit not found" in message):
        log.debug("telegram_edit_skipped", chat_id=chat_id, error=message)
    elif isinstance(exc, TelegramBadRequest) and "query is too old" in message:
        log.info("telegram_callback_expired", chat_id=chat_id)
    elif isinstance(exc, TelegramForbiddenError):
        log.info("telegram_forbidden", chat_id=chat_id, method=method.__api_method__, error=message)
    else:
        log.error("telegram_refused", chat_id=chat_id, method=method.__api_method__, error=message)
