"""The conversation in Telegram: what a person does becomes a call of ``ConversationService``,
and its ``TurnResult`` becomes messages (``bot.render``). Nothing here decides what an answer
means, what is asked next or what a lead is worth: the service and the flow do.

- The person is the Telegram identity (their user id); their conversation is the latest one of
  the lead owning it (``find_conversation``), whichever channel it started on. Nothing of the
  dialogue is kept in aiogram (no FSM): a restart, another process or the web side see the same.
- Every turn's idempotency key is the update id (``tg:<bot>:<update_id>``), claimed by the store
  in the turn's own transaction: an update delivered again (a restart after a crash, a webhook
  retried, a second process) changes nothing and gets the first result, which is shown again.
- Buttons carry the conversation, version and question they were shown with (``bot.render``), so
  a second tap or an old button changes nothing either.
- The only thing kept in memory is which message of a chat still shows a live inline keyboard,
  so it can be taken away once the question is answered; a process that forgets it leaves an old
  keyboard on the screen, whose taps the service recognises as stale.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

import structlog
from aiogram.methods import EditMessageReplyMarkup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, User

from bot.outbound import Outbound
from bot.render import Tap, conversation_tag, marked, matches, messages, notice, read_tap, ticked, toggled
from bot.runtime import Failure, chat_key
from bot.texts import Words, language, words
from flows.catalog import FlowCatalog
from flows.errors import ContinuationInvalid, FlowNotFound
from flows.model import Channel, Inbound, Source
from flows.ports import TELEGRAM, Identity
from flows.service import ConversationService, TurnResult

log = structlog.get_logger(__name__)

# A hand-over link's payload (``ConversationService.issue_continuation``) and a deep link's.
CONTINUATION = re.compile(r"^[A-Za-z0-9_-]{32}$")
DEEP_LINK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FLOW_SEPARATOR = "-"
MAX_REMEMBERED = 50_000


@dataclass(frozen=True, slots=True)
class DialogueSettings:
    flow: str  # the flow /start opens without a deep link that names one
    locale: str  # for a person whose Telegram language no flow speaks
    bot_id: int  # in the idempotency keys: update ids are counted per bot


@dataclass(frozen=True, slots=True)
class Entry:
    """Which flow a /start payload opens, and the source it records."""

    flow: str
    deep_link: str | None


class Dialogue:
    def __init__(
        self,
        service: ConversationService,
        catalog: FlowCatalog,
        settings: DialogueSettings,
    ) -> None:
        self.service = service
        self.catalog = catalog
        self.settings = settings
        self._keyboards: OrderedDict[int, int] = OrderedDict()

    # ------------------------------------------------------------------ commands

    async def start(
        self, out: Outbound, message: Message, user: User, payload: str | None, update_id: int
    ) -> None:
        """``/start``: carry on with an open conversation, or open one (``payload`` is a hand-over
        token, or a deep link naming a source and maybe a flow)."""
        identity = _identity(user)
        chat = message.chat.id
        payload = (payload or "").strip()
        if CONTINUATION.match(payload):
            try:
                result = await self.service.redeem_continuation(payload, identity)
            except ContinuationInvalid:
                await self._start_or_resume(
                    out, chat, user, None, update_id, lead=self._words(user).link_used
                )
                return
            await self._show(out, chat, result, lead=words(result.locale).continued)
            return
        await self._start_or_resume(out, chat, user, self.entry(payload), update_id)

    async def restart(self, out: Outbound, message: Message, user: User, update_id: int) -> None:
        """``/restart``: the open conversation from its first question, or a new one."""
        cid = await self.service.find_conversation(_identity(user))
        if cid is None:
            await self._open(out, message.chat.id, user, self.entry(""), update_id)
            return
        result = await self.service.handle_message(
            cid, Inbound.tap("cmd:restart"), idempotency_key=self._key(update_id)
        )
        await self._show(out, message.chat.id, result)

    async def help(self, out: Outbound, message: Message, user: User) -> None:
        await self._say(out, message.chat.id, (await self._locale_words(user)).help)

    async def cancel(self, out: Outbound, message: Message, user: User) -> None:
        """``/cancel``: nothing is changed; the keyboards go, the answers stay."""
        await self._clear_keyboard(out, message.chat.id)
        await self._say(out, message.chat.id, (await self._locale_words(user)).cancelled)

    # ------------------------------------------------------------------ answers

    async def text(self, out: Outbound, message: Message, user: User, text: str, update_id: int) -> None:
        """Typed words answer whatever question is waiting, exactly as on the web."""
        cid = await self.service.find_conversation(_identity(user), open_only=False)
        if cid is None:
            await self._open(out, message.chat.id, user, self.entry(""), update_id)
            return
        result = await self.service.handle_message(
            cid, Inbound.typed(text), idempotency_key=self._key(update_id)
        )
        await self._show(out, message.chat.id, result)

    async def contact(
        self, out: Outbound, message: Message, user: User, phone: str, owner: int | None, update_id: int
    ) -> None:
        """A shared contact answers a phone question, if it is the sender's own number."""
        chat = message.chat.id
        cid = await self.service.find_conversation(_identity(user), open_only=False)
        if cid is None:
            await self._open(out, chat, user, self.entry(""), update_id)
            return
        if owner != user.id:
            result = await self.service.current(cid)
            await self._show(out, chat, result, lead=words(result.locale).not_own_contact)
            return
        inbound = Inbound(kind="contact", data={"phone": phone})
        result = await self.service.handle_message(cid, inbound, idempotency_key=self._key(update_id))
        await self._show(out, chat, result)

    async def tap(self, out: Outbound, query: CallbackQuery, update_id: int) -> None:
        """A tapped inline button (the query itself was answered on arrival)."""
        tap = read_tap(query.data)
        if tap is None:
            return
        user = query.from_user
        message = query.message if isinstance(query.message, Message) else None
        chat = message.chat.id if message is not None else user.id
        cid = await self.service.find_conversation(_identity(user), open_only=False)
        if cid is None or conversation_tag(cid) != tap.conversation:
            # A button of another conversation (one started over, or long gone).
            await self._take_keyboard(out, chat, message)
            if cid is not None:
                result = await self.service.current(cid)
                await self._show(out, chat, result, lead=words(result.locale).old_button)
            return
        if tap.kind == "t":
            if message is not None and isinstance(message.reply_markup, InlineKeyboardMarkup):
                markup = toggled(message.reply_markup, query.data or "")
                await out.send(_edit(chat, message.message_id, markup), chat)
            return
        chosen = self._chosen(query, message, tap)
        if not chosen:
            result = await self.service.current(cid)
            await self._say(out, chat, words(result.locale).pick_one)
            return
        question, ids = await self._resolve(cid, tap, [tag for tag, _ in chosen])
        inbound = Inbound.tap(*ids, question_id=question, version=tap.version)
        result = await self.service.handle_message(cid, inbound, idempotency_key=self._key(update_id))
        if message is not None and not result.stale:
            # A stale tap leaves its message alone: after a double tap it already shows the choice.
            await out.send(_edit(chat, message.message_id, marked([s for _, s in chosen])), chat)
            self._forget(chat, message.message_id)
        await self._show(out, chat, result)

    # ------------------------------------------------------------------ the rest

    async def not_text(self, out: Outbound, message: Message, user: User) -> None:
        """Stickers, photos, voice, files...: a polite word; nothing is recorded."""
        await self._say(out, message.chat.id, (await self._locale_words(user)).not_text)

    async def edited(self, out: Outbound, message: Message, user: User) -> None:
        """An edited message is not read again (its first version was the answer)."""
        await self._say(out, message.chat.id, (await self._locale_words(user)).edited)

    async def failed(self, out: Outbound, failure: Failure) -> None:
        """The update could not be handled even after retries: say so, politely."""
        update = failure.update
        user = update.message.from_user if update.message is not None else None
        if update.callback_query is not None:
            user = update.callback_query.from_user
        await self._say(out, chat_key(update), self._words(user).failed)

    def entry(self, payload: str) -> Entry:
        """The flow and source of a deep link: ``<source>`` (the default flow), ``<flow>`` or
        ``<flow>-<source>``; anything else is no deep link at all."""
        if not DEEP_LINK.match(payload):
            return Entry(self.settings.flow, None)
        head, sep, rest = payload.partition(FLOW_SEPARATOR)
        if self._known(head):
            return Entry(head, (rest if sep else payload) or head)
        return Entry(self.settings.flow, payload)

    # ------------------------------------------------------------------ internals

    async def _start_or_resume(
        self, out: Outbound, chat: int, user: User, entry: Entry | None, update_id: int, lead: str = ""
    ) -> None:
        cid = await self.service.find_conversation(_identity(user))
        if cid is not None:
            result = await self.service.current(cid)
            await self._show(out, chat, result, lead=lead or words(result.locale).resumed)
            return
        await self._open(out, chat, user, entry or self.entry(""), update_id, lead=lead)

    async def _open(
        self, out: Outbound, chat: int, user: User, entry: Entry, update_id: int, lead: str = ""
    ) -> None:
        locales = self.catalog.current(entry.flow).spec.locales
        spoken = language(user.language_code)
        locale = next((c for c in (spoken, self.settings.locale) if c in locales), locales[0])
        result = await self.service.start_conversation(
            entry.flow,
            locale,
            Source(Channel.TELEGRAM, deep_link=entry.deep_link),
            identity=_identity(user),
            idempotency_key=self._key(update_id),
        )
        log.info(
            "telegram_conversation",
            conversation_id=str(result.conversation_id),
            flow=result.flow_id,
            deep_link=entry.deep_link,
            replayed=result.replayed,
        )
        await self._show(out, chat, result, lead=lead)

    async def _resolve(self, cid: object, tap: Tap, tags: list[str]) -> tuple[str, list[str]]:
        """The question and button ids a tap names; digests are matched against the buttons of
        the question now waiting (a digest of another question stays as it is: the service finds
        the tap stale)."""
        if not any(t.startswith("#") for t in (tap.question, *tags)):
            return tap.question, tags
        current = await self.service.current(str(cid))
        shown = next(
            (r for r in current.replies if r.question_id and matches(tap.question, r.question_id)), None
        )
        if shown is None or shown.question_id is None:
            return tap.question, tags
        ids = [next((b.id for b in shown.buttons if matches(t, b.id)), t) for t in tags]
        return shown.question_id, ids

    def _chosen(self, query: CallbackQuery, message: Message | None, tap: Tap) -> list[tuple[str, str]]:
        """(button tag, label) of what a tap answers with: its button, or the ticked options."""
        markup = message.reply_markup if message is not None else None
        keyboard = markup if isinstance(markup, InlineKeyboardMarkup) else None
        if tap.kind == "d":
            return ticked(keyboard)
        shown = next(
            (
                b.text
                for row in (keyboard.inline_keyboard if keyboard else ())
                for b in row
                if b.callback_data == query.data
            ),
            tap.button,
        )
        return [(tap.button, shown)]

    async def _show(self, out: Outbound, chat: int, result: TurnResult, lead: str = "") -> None:
        """The replies of a turn; the keyboard still live from before goes first."""
        await self._clear_keyboard(out, chat)
        for method in messages(result, chat, words(result.locale), lead):
            sent = await out.send(method, chat)
            if sent is not None and isinstance(method.reply_markup, InlineKeyboardMarkup):
                self._remember(chat, sent.message_id)

    async def _say(self, out: Outbound, chat: int, text: str) -> None:
        await out.send(notice(chat, text), chat)

    async def _clear_keyboard(self, out: Outbound, chat: int) -> None:
        previous = self._keyboards.pop(chat, None)
        if previous is not None:
            await out.send(_edit(chat, previous, None), chat)

    async def _take_keyboard(self, out: Outbound, chat: int, message: Message | None) -> None:
        if message is not None and message.reply_markup is not None:
            await out.send(_edit(chat, message.message_id, None), chat)
            self._forget(chat, message.message_id)

    def _remember(self, chat: int, message_id: int) -> None:
        self._keyboards[chat] = message_id
        self._keyboards.move_to_end(chat)
        while len(self._keyboards) > MAX_REMEMBERED:
            self._keyboards.popitem(last=False)

    def _forget(self, chat: int, message_id: int) -> None:
        if self._keyboards.get(chat) == message_id:
            del self._keyboards[chat]

    def _key(self, update_id: int) -> str:
        return f"tg:{self.settings.bot_id}:{update_id}"

    def _known(self, flow: str) -> bool:
        try:
            self.catalog.current(flow)
        except FlowNotFound:
            return False
        return True

    def _words(self, user: User | None) -> Words:
        return words(language(user.language_code if user else None) or self.settings.locale)

    async def _locale_words(self, user: User) -> Words:
        """The bot's words in the locale of the person's conversation, else their language."""
        cid = await self.service.find_conversation(_identity(user), open_only=False)
        if cid is None:
            return self._words(user)
        return words((await self.service.current(cid)).locale)


def _identity(user: User) -> Identity:
    return Identity(TELEGRAM, str(user.id))


def _edit(chat: int, message_id: int, markup: InlineKeyboardMarkup | None) -> EditMessageReplyMarkup:
    return EditMessageReplyMarkup(chat_id=chat, message_id=message_id, reply_markup=markup)
