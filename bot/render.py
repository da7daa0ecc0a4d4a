"""A turn's replies in Telegram's idiom, and the buttons' callback data read back.

- Text goes out in HTML parse mode with everything from the flow or the person escaped, so a
  name or an answer containing ``<``, ``&``, ``*`` or ``_`` is shown as typed and can never break
  or inject formatting. The question's progress ("Вопрос 3 из 8") heads the question.
- Links in the flow's texts get no preview card.
- Choices are inline keyboards; a multi-choice question's options tick on and off and "Готово"
  sends the ticked ones; a phone question gets a reply keyboard with a "share my phone number"
  button. Every other message takes any reply keyboard away.
- A button's callback data (at most 64 bytes) says which conversation, which conversation
  version and which question it answers, and with what: ``a|<conversation>|<version>|<question>|
  <button>`` (``t|...`` ticks a multi-choice option, ``d|<conversation>|<version>|<question>``
  sends the ticked ones). Ids are written as they are when they fit, else as a short digest that
  is matched against the question's buttons.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from aiogram.methods import SendMessage
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.texts import Words
from flows.model import Button, Reply
from flows.service import TurnResult

MAX_DATA = 64  # bytes of callback data Telegram takes
MAX_TEXT = 3500  # characters of a reply before escaping (Telegram takes 4096 after)
MAX_LABEL = 60  # characters of a button label
CONVERSATION_CHARS = 8  # hex digits of the conversation id in callback data
TICK = "✓ "
MARKED = "x"  # the data of a button that only shows what was chosen
_SEP = "|"
_DIGEST = "#"
_SHORT_ROW = 14  # labels this short go two to a row

# A link in a reply (the privacy policy of a consent notice) stays a link: no preview card
# between the question and its buttons.
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def tag(value: str, room: int) -> str:
    """``value`` as callback data carries it: itself when it fits in ``room`` bytes and cannot be
    confused with a digest or a separator, else ``#`` and 8 characters of its BLAKE2b digest."""
    if len(value.encode()) <= room and _SEP not in value and not value.startswith(_DIGEST):
        return value
    digest = hashlib.blake2b(value.encode(), digest_size=6).digest()
    return _DIGEST + base64.urlsafe_b64encode(digest).decode()


def matches(tagged: str, value: str) -> bool:
    return tagged == value or (tagged.startswith(_DIGEST) and tagged == tag(value, 0))


def conversation_tag(conversation_id: UUID) -> str:
    return conversation_id.hex[:CONVERSATION_CHARS]


def button_data(kind: Literal["a", "t"], result: TurnResult, question_id: str, button_id: str) -> str:
    head = _SEP.join((kind, conversation_tag(result.conversation_id), str(result.version)))
    room = MAX_DATA - len(head) - 2  # two separators
    question = tag(question_id, room // 2)
    data = _SEP.join((head, question, tag(button_id, room - len(question.encode()))))
    assert len(data.encode()) <= MAX_DATA, data
    return data


def done_data(result: TurnResult, question_id: str) -> str:
    head = _SEP.join(("d", conversation_tag(result.conversation_id), str(result.version)))
    return _SEP.join((head, tag(question_id, MAX_DATA - len(head) - 1)))


@dataclass(frozen=True, slots=True)
class Tap:
    """A button's callback data read back."""

    kind: Literal["a", "t", "d"]
    conversation: str
    version: int
    question: str
    button: str = ""


def read_tap(data: str | None) -> Tap | None:
    """The tap a callback's data describes, or None for data this bot did not make."""
    if not data or len(data.encode()) > MAX_DATA:
        return None
    parts = data.split(_SEP)
    kind = parts[0]
    if kind not in ("a", "t", "d") or len(parts) != (4 if kind == "d" else 5):
        return None
    conversation, version = parts[1], parts[2]
    if len(conversation) != CONVERSATION_CHARS or not version.isdigit() or len(version) > 10:
        return None
    if not all(parts[3:]):
        return None
    return Tap(kind, conversation, int(version), parts[3], parts[4] if kind != "d" else "")  # type: ignore[arg-type]


def escaped(text: str) -> str:
    return html.escape(text[:MAX_TEXT], quote=False)


def label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def messages(result: TurnResult, chat_id: int, words: Words, lead: str = "") -> list[SendMessage]:
    """The messages that show a turn's replies (``lead``, a line of the bot's own, goes first)."""
    out = []
    replies = list(result.replies)
    if lead:
        replies.insert(0, Reply(text=lead, input="none"))
    for reply in replies:
        if not reply.text.strip() and not reply.buttons:
            continue
        out.append(
            SendMessage(
                chat_id=chat_id,
                text=_text(reply, words),
                parse_mode="HTML",
                link_preview_options=NO_PREVIEW,
                reply_markup=_markup(reply, result, words),
            )
        )
    return out


def notice(chat_id: int, text: str) -> SendMessage:
    """One line of the bot's own."""
    return SendMessage(chat_id=chat_id, text=escaped(text), parse_mode="HTML")


def _text(reply: Reply, words: Words) -> str:
    body = escaped(reply.text) or "…"
    if reply.question_id is not None and reply.progress is not None:
        number, total = reply.progress
        return f"<i>{escaped(words.progress.format(number=number, total=total))}</i>\n{body}"
    return body


def _markup(reply: Reply, result: TurnResult, words: Words) -> Markup:
    question = reply.question_id
    if question is None:
        return ReplyKeyboardRemove()
    if reply.input == "tel":
        keys = [[KeyboardButton(text=words.share_phone, request_contact=True)]]
        keys += [[KeyboardButton(text=label(b.label))] for b in reply.buttons]
        return ReplyKeyboardMarkup(
            keyboard=keys,
            resize_keyboard=True,
            one_time_keyboard=True,
            input_field_placeholder=reply.placeholder[:64] or None,
        )
    if not reply.buttons:
        return ReplyKeyboardRemove()
    if reply.multi:
        options = [b for b in reply.buttons if not b.id.startswith("cmd:")]
        commands = [b for b in reply.buttons if b.id.startswith("cmd:")]
        rows = _rows([_button(b, button_data("t", result, question, b.id)) for b in options])
        rows.append([InlineKeyboardButton(text=words.done, callback_data=done_data(result, question))])
        rows += _rows([_button(b, button_data("a", result, question, b.id)) for b in commands])
        return InlineKeyboardMarkup(inline_keyboard=rows)
    return InlineKeyboardMarkup(
        inline_keyboard=_rows([_button(b, button_data("a", result, question, b.id)) for b in reply.buttons])
    )


def _button(button: Button, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=label(button.label), callback_data=data)


def _rows(buttons: Sequence[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    if all(len(b.text) <= _SHORT_ROW for b in buttons):
        return [list(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    return [[b] for b in buttons]


def marked(labels: Sequence[str]) -> InlineKeyboardMarkup:
    """What stays of an answered question's keyboard: the choice, ticked, doing nothing."""
    text = label(TICK + ", ".join(labels))
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=MARKED)]])


def toggled(markup: InlineKeyboardMarkup, data: str) -> InlineKeyboardMarkup:
    """A multi-choice keyboard with the option whose data is ``data`` ticked or unticked."""
    rows = []
    for row in markup.inline_keyboard:
        new_row = []
        for button in row:
            if button.callback_data == data:
                text = button.text.removeprefix(TICK) if button.text.startswith(TICK) else TICK + button.text
                button = InlineKeyboardButton(text=label(text), callback_data=data)
            new_row.append(button)
        rows.append(new_row)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def ticked(markup: InlineKeyboardMarkup | None) -> list[tuple[str, str]]:
    """The ticked options of a multi-choice keyboard: (button tag, label) each."""
    out = []
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            tap = read_tap(button.callback_data)
            if tap is not None and tap.kind == "t" and button.text.startswith(TICK):
                out.append((tap.button, button.text.removeprefix(TICK)))
    return out
