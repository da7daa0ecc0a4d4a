"""aiogram routers: which kind of update goes to which ``Dialogue`` call. Nothing else.

Only private chats are talked to; messages in groups and channels are ignored (the bot is not
meant to be added to them). Handlers get the ``Dialogue`` and the update (for its id, the turn's
idempotency key) from the runtime's context.
"""

from __future__ import annotations

from aiogram import Dispatcher, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message, Update

from bot.dialogue import Dialogue

PRIVATE = F.chat.type == ChatType.PRIVATE


def dialogue_router() -> Router:
    router = Router(name="dialogue")
    router.message.filter(PRIVATE, F.from_user)
    router.edited_message.filter(PRIVATE, F.from_user)
    router.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)

    @router.message(Command("start"))
    async def start(
        message: Message, command: CommandObject, dialogue: Dialogue, event_update: Update
    ) -> None:
        assert message.from_user is not None
        await dialogue.start(message, message.from_user, command.args, event_update.update_id)

    @router.message(Command("restart"))
    async def restart(message: Message, dialogue: Dialogue, event_update: Update) -> None:
        assert message.from_user is not None
        await dialogue.restart(message, message.from_user, event_update.update_id)

    @router.message(Command("help"))
    async def help_(message: Message, dialogue: Dialogue) -> None:
        assert message.from_user is not None
        await dialogue.help(message, message.from_user)

    @router.message(Command("cancel"))
    async def cancel(message: Message, dialogue: Dialogue) -> None:
        assert message.from_user is not None
        await dialogue.cancel(message, message.from_user)

    @router.message(F.contact)
    async def contact(message: Message, dialogue: Dialogue, event_update: Update) -> None:
        assert message.from_user is not None
        assert message.contact is not None
        shared = message.contact
        await dialogue.contact(
            message, message.from_user, shared.phone_number, shared.user_id, event_update.update_id
        )

    @router.message(F.text)
    async def text(message: Message, dialogue: Dialogue, event_update: Update) -> None:
        assert message.from_user is not None
        assert message.text is not None
        await dialogue.text(message, message.from_user, message.text, event_update.update_id)

    @router.message()
    async def other(message: Message, dialogue: Dialogue) -> None:
        assert message.from_user is not None
        await dialogue.not_text(message, message.from_user)

    @router.edited_message()
    async def edited(message: Message, dialogue: Dialogue) -> None:
        assert message.from_user is not None
        await dialogue.edited(message, message.from_user)

    @router.callback_query()
    async def tapped(query: CallbackQuery, dialogue: Dialogue, event_update: Update) -> None:
        await dialogue.tap(query, event_update.update_id)

    return router


def dispatcher() -> Dispatcher:
    """The dispatcher of the bot: no FSM storage at all (the dialogue lives in the database)."""
    built = Dispatcher(disable_fsm=True)
    built.include_router(dialogue_router())
    return built
