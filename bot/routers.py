"""aiogram routers: which kind of update goes to which ``Dialogue`` call. Nothing else.

Only private chats are talked to; messages in groups and channels are ignored (the bot is not
meant to be added to them). Handlers get the ``Dialogue`` from the dispatcher, the ``Outbound`` from
the runtime (``bot.runtime.BotRuntime``) and the update (for its id, the turn's idempotency key)
from aiogram.
"""

from __future__ import annotations

from aiogram import Dispatcher, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message, Update

from bot.dialogue import Dialogue
from bot.outbound import Outbound

PRIVATE = F.chat.type == ChatType.PRIVATE


def dialogue_router() -> Router:
    router = Router(name="dialogue")
    router.message.filter(PRIVATE, F.from_user)
    router.edited_message.filter(PRIVATE, F.from_user)
    router.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)

    @router.message(Command("start"))
    async def start(
        message: Message, command: CommandObject, dialogue: Dialogue, outbound: Outbound, event_update: Update
    ) -> None:
        assert message.from_user is not None
        await dialogue.start(outbound, message, message.from_user, command.args, event_update.update_id)

    @router.message(Command("restart"))
    async def restart(message: Message, dialogue: Dialogue, outbound: Outbound, event_update: Update) -> None:
        assert message.from_user is not None
        await dialogue.restart(outbound, message, message.from_user, event_update.update_id)

    @router.message(Command("help"))
    async def help_(message: Message, dialogue: Dialogue, outbound: Outbound) -> None:
        assert message.from_user is not None
        await dialogue.help(outbound, message, message.from_user)

    @router.message(Command("cancel"))
    async def cancel(message: Message, dialogue: Dialogue, outbound: Outbound) -> None:
        assert message.from_user is not None
        await dialogue.cancel(outbound, message, message.from_user)

    @router.message(F.contact)
    async def contact(message: Message, dialogue: Dialogue, outbound: Outbound, event_update: Update) -> None:
        assert message.from_user is not None
        assert message.contact is not None
        shared = message.contact
        await dialogue.contact(
            outbound, message, message.from_user, shared.phone_number, shared.user_id, event_update.update_id
        )

    @router.message(F.text)
    async def text(message: Message, dialogue: Dialogue, outbound: Outbound, event_update: Update) -> None:
        assert message.from_user is not None
        assert message.text is not None
        await dialogue.text(outbound, message, message.from_user, message.text, event_update.update_id)

    @router.message()
    async def other(message: Message, dialogue: Dialogue, outbound: Outbound) -> None:
        assert message.from_user is not None
        await dialogue.not_text(outbound, message, message.from_user)

    @router.edited_message()
    async def edited(message: Message, dialogue: Dialogue, outbound: Outbound) -> None:
        assert message.from_user is not None
        await dialogue.edited(outbound, message, message.from_user)

    @router.callback_query()
    async def tapped(
        query: CallbackQuery, dialogue: Dialogue, outbound: Outbound, event_update: Update
    ) -> None:
        await dialogue.tap(outbound, query, event_update.update_id)

    return router


def dispatcher(dialogue: Dialogue) -> Dispatcher:
    """The bot's dispatcher over ``dialogue``: no FSM storage at all (the dialogue lives in the
    database). The runtime that feeds it gives the handlers its ``outbound``."""
    built = Dispatcher(disable_fsm=True, dialogue=dialogue)
    built.include_router(dialogue_router())
    return built
