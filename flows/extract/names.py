"""A person's name typed in a chat: "Анна", "меня зовут Анна", "I'm John Smith", "Иван, менеджер"."""

from __future__ import annotations

import re
from typing import Final

from flows.extract.junk import looks_gibberish
from flows.extract.text import fold, word_table

MAX_NAME_WORDS: Final = 4
"""More words than this is a sentence, not a name ("Иванов Иван Иванович" has three)."""
_MIN_LETTERS: Final = 2

_INTRO_RE: Final = re.compile(
    r"^(?:меня зовут|зовут меня|мое имя|моё имя|зовите меня|обращайтесь|я|это|my name is|my names|name is"
    r"|i am|i'm|im|this is|it's|its|call me)[\s:,-]+",
    re.IGNORECASE,
)
_CALLED_RE: Final = re.compile(r"^(?:меня|а меня)\s+(.+?)\s+зовут$", re.IGNORECASE)  # "меня Петя зовут"
_INTRO_STARTS: Final = frozenset(
    word_table("меня зовут мое моё зовите обращайтесь я а это my name i i'm im this it's its call")
)
_TRAILING: Final = " .,!;:-—–"
_NOT_A_NAME_RE: Final = re.compile(r"@|https?:|www\.|\.(?:com|ru|org|net|io)\b|\d", re.IGNORECASE)
_REFUSALS: Final = frozenset(
    (
        *word_table("нет неа no nope none n/a na аноним анонимно anonymous неважно secret секрет -"),
        *("не скажу", "не важно", "не хочу", "не буду", "без имени", "not telling", "rather not", "no name"),
    )
)
_NOT: Final = ("не ", "no ", "not ", "dont ", "хз")  # "не знаю", "not telling": no name starts so
_LETTER_RE: Final = re.compile(r"[^\W\d_]")


def parse_name(text: str) -> str | None:
    """The name in a (cleaned) answer, as typed, or None when the answer is not a name.

    An introduction goes ("меня зовут", "я", "my name is", "I'm", "call me"), and so does a
    description after a comma that starts in lower case ("Иван, менеджер по закупкам" -> "Иван").
    Not a name: no letters (".", "123"), digits, an e-mail address or a link, a refusal or a
    negation ("не скажу", "не знаю", "no"), keyboard mash, or more than ``MAX_NAME_WORDS`` words.
    """
    name = text.strip().strip(_TRAILING)
    first = name.split(" ", 1)[0].casefold()
    if first in _INTRO_STARTS:
        called = _CALLED_RE.match(name)
        name = called.group(1) if called else _INTRO_RE.sub("", name).strip(_TRAILING)
    if "," in name:
        head, _, rest = name.partition(",")
        if rest.strip()[:1].islower():
            name = head.strip(_TRAILING)
    if not name.replace(" ", "").replace("-", "").isalpha():
        if len(_LETTER_RE.findall(name)) < _MIN_LETTERS or _NOT_A_NAME_RE.search(name):
            return None
    elif len(name) < _MIN_LETTERS:
        return None
    folded = fold(name)
    if folded in _REFUSALS or folded.startswith(_NOT) or len(name.split()) > MAX_NAME_WORDS:
        return None
    return None if looks_gibberish(name) else name
