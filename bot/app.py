"""The bot assembled: an aiogram ``Bot`` on the configured Bot API server, the dialogue over the
conversation service, the runtime that orders and retries updates, and long polling.

``open_bot`` checks the token with Telegram (``getMe``) before anything else, so a wrong token is
one line at start, not a loop of failed polls. ``poll`` runs until asked to stop, then lets the
updates in hand finish and tells Telegram which ones are handled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError
from aiogram.types import User

from bot.dialogue import Dialogue, DialogueSettings
from bot.outbound import Limits, Outbound
from bot.polling import Poller
from bot.routers import dispatcher
from bot.runtime import BotRuntime, Failure
from bot.settings import TelegramSettings
from flows.catalog import FlowCatalog
from flows.errors import FlowNotFound, QualibotError
from flows.service import ConversationService

log = structlog.get_logger(__name__)

# Seconds the updates in hand get to finish when the bot is stopped (the rest are delivered again).
STOP_GRACE = 10.0


class TelegramProblem(QualibotError):
    """The bot cannot start: no token, a token Telegram refuses, a Bot API server that does not
    answer, a default flow that is not loaded."""


@dataclass(frozen=True, slots=True)
class TelegramBot:
    bot: Bot
    me: User
    runtime: BotRuntime
    dialogue: Dialogue


def api_server(settings: TelegramSettings) -> TelegramAPIServer:
    """Telegram's own Bot API, or the self-hosted one at ``QUALIBOT_TELEGRAM_API_URL``."""
    return TelegramAPIServer.from_base(settings.api_url) if settings.api_url else PRODUCTION


def dialogue_over(settings: TelegramSettings, service: ConversationService, catalog: FlowCatalog) -> Dialogue:
    """The dialogue on ``QUALIBOT_TELEGRAM_FLOW`` (refused in one line when it is not loaded)."""
    try:
        catalog.current(settings.flow)
    except FlowNotFound:
        raise TelegramProblem(f"QUALIBOT_TELEGRAM_FLOW {settings.flow!r} is not a loaded flow") from None
    bot_id = settings.bot_id
    if bot_id is None:
        raise TelegramProblem(
            "QUALIBOT_TELEGRAM_TOKEN is not set: create a bot with @BotFather and set its token"
        )
    return Dialogue(service, catalog, DialogueSettings(settings.flow, settings.locale, bot_id=bot_id))


def make_bot(settings: TelegramSettings) -> Bot:
    if settings.token is None:
        raise TelegramProblem(
            "QUALIBOT_TELEGRAM_TOKEN is not set: create a bot with @BotFather and set its token"
        )
    session = AiohttpSession(api=api_server(settings), timeout=settings.request_timeout)
    return Bot(settings.token.get_secret_value(), session=session)


@asynccontextmanager
async def open_bot(
    settings: TelegramSettings,
    service: ConversationService,
    catalog: FlowCatalog,
    *,
    limits: Limits | None = None,
) -> AsyncIterator[TelegramBot]:
    """The bot, checked with Telegram and ready to take updates; its HTTP session is closed and its
    lanes stopped afterwards."""
    dialogue = dialogue_over(settings, service, catalog)  # refused before anything connects
    bot = make_bot(settings)
    try:
        me = await check_token(bot, settings)
        outbound = Outbound(bot, limits)

        async def failed(failure: Failure) -> None:
            await dialogue.failed(outbound, failure)

        runtime = BotRuntime(bot, dispatcher(dialogue), outbound, on_failure=failed)
        try:
            yield TelegramBot(bot, me, runtime, dialogue)
        finally:
            await runtime.aclose()
    finally:
        await bot.session.close()


async def check_token(bot: Bot, settings: TelegramSettings) -> User:
    """The bot, as Telegram knows it by the token (``getMe``); a refused token or a Bot API that
    does not answer is a ``TelegramProblem``."""
    where = settings.api_url or "api.telegram.org"
    try:
        return await bot.get_me(request_timeout=int(settings.request_timeout))
    except TelegramUnauthorizedError:
        raise TelegramProblem(
            "Telegram refuses QUALIBOT_TELEGRAM_TOKEN (Unauthorized): check it with @BotFather"
        ) from None
    except (TelegramNetworkError, TimeoutError) as exc:
        raise TelegramProblem(f"the Bot API at {where} does not answer: {exc}") from None
    except TelegramAPIError as exc:
        raise TelegramProblem(f"the Bot API at {where} answered getMe with an error: {exc.message}") from None


async def poll(telegram: TelegramBot, settings: TelegramSettings, stop: asyncio.Event) -> None:
    """Long polling until ``stop`` is set (an update is acknowledged only once handled)."""
    info = await telegram.bot.get_webhook_info(request_timeout=int(settings.request_timeout))
    if info.url:
        raise TelegramProblem(
            f"a webhook is set for this bot ({info.url}): Telegram sends its updates there, so polling "
            "gets none; run the webhook in `qualibot serve`, or delete the webhook to poll"
        )
    poller = Poller(
        telegram.bot,
        telegram.runtime.accept,
        poll_timeout=settings.poll_timeout,
        request_timeout=settings.request_timeout,
    )
    task = asyncio.create_task(poller.run())
    stopping = asyncio.create_task(stop.wait())
    log.info("telegram_polling", bot=telegram.me.username)
    try:
        await asyncio.wait((task, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        poller.stop()
        try:
            await task
        except TelegramUnauthorizedError:
            raise TelegramProblem("Telegram stopped accepting QUALIBOT_TELEGRAM_TOKEN (revoked?)") from None
        try:
            await asyncio.wait_for(telegram.runtime.join(), STOP_GRACE)
        except TimeoutError:
            log.warning("telegram_stopped_with_updates_in_hand", updates=poller.acks.in_hand)
        await poller.confirm()
        log.info("telegram_stopped", handled=telegram.runtime.handled)
