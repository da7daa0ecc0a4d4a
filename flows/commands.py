"""The words that steer a conversation instead of answering: back, restart, skip (ru, en).

They work typed ("назад", "start over", "/skip") or as buttons (``cmd:back``, ``cmd:restart``,
``cmd:skip``). Typed text is compared whole, after trimming, lowercasing and dropping the
punctuation around it, so "Назад!" is a command and "назад в прошлое" is an answer.
"""

from __future__ import annotations

import re
from typing import Literal

from flows.model import Inbound

Command = Literal["back", "restart", "skip"]

BUTTON_PREFIX = "cmd:"

_TYPED: dict[str, Command] = {
    "назад": "back",
    "back": "back",
    "go back": "back",
    "заново": "restart",
    "начать сначала": "restart",
    "начать заново": "restart",
    "сначала": "restart",
    "restart": "restart",
    "start over": "restart",
    "пропустить": "skip",
    "пропуск": "skip",
    "skip": "skip",
}

_BUTTONS: dict[str, Command] = {
    f"{BUTTON_PREFIX}back": "back",
    f"{BUTTON_PREFIX}restart": "restart",
    f"{BUTTON_PREFIX}skip": "skip",
}

_LONGEST = max(len(word) for word in _TYPED) + 4
_EDGES = " \t\r\n.,!?;:…«»\"'()-—"
_SPACES = re.compile(r"\s+")

# Said right after the bot repeated an answer back ("Записал: около 300 000 ₽"): the engine
# decides whether they correct it (see ``engine._corrects``).
_CORRECTIONS = frozenset(
    {"не так", "неправильно", "неверно", "ошибка", "ошиблись", "не то", "нет, не так", "нет не так"}
    | {"нет, неправильно", "нет неправильно", "нет, неверно", "исправить", "поправить", "изменить"}
    | {"wrong", "thats wrong", "that is wrong", "not right", "incorrect", "no, wrong", "no wrong"}
    | {"no, thats wrong", "no thats wrong", "no, thats not right", "fix it", "change it", "correct it"}
)
_BARE_NO = frozenset({"нет", "неа", "не", "no", "nope", "nah"})

LABELS: dict[Command, dict[str, str]] = {
    "back": {"en": "Back", "ru": "Назад"},
    "restart": {"en": "Start over", "ru": "Начать сначала"},
    "skip": {"en": "Skip", "ru": "Пропустить"},
}


def command_of(inbound: Inbound) -> Command | None:
    """The command an inbound message gives, if it is one."""
    if inbound.kind == "choice":
        choices = inbound.choices
        if not isinstance(choices, tuple | list) or len(choices) != 1 or not isinstance(choices[0], str):
            return None
        return _BUTTONS.get(choices[0])
    text = inbound.text
    if inbound.kind != "text" or not isinstance(text, str) or len(text) > _LONGEST * 4:
        return None
    words = _SPACES.sub(" ", text.strip(_EDGES).casefold().replace("ё", "е"))
    return _TYPED.get(words.removeprefix("/"))


def correction_of(inbound: Inbound) -> Literal["correction", "no"] | None:
    """ "correction" for typed words that say an answer was misread ("не так", "wrong"), "no" for
    a bare "нет"/"no", else None."""
    text = inbound.text
    if inbound.kind != "text" or not isinstance(text, str) or len(text) > _LONGEST * 4:
        return None
    words = _SPACES.sub(
        " ", text.strip(_EDGES).casefold().replace("ё", "е").replace("'", "").replace("’", "")
    )
    if words in _CORRECTIONS:
        return "correction"
    return "no" if words in _BARE_NO else None
