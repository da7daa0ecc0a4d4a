"""Yes or no typed in words: "ага", "да, конечно", "yep", "не совсем", "nope"; "не знаю" is neither.

``read_yes_no`` also says whether the answer was certain: "наверное да", "скорее нет",
"probably", "I guess" are understood but hedged, which is not enough for a knock-out or a
hand-raise.
"""

from __future__ import annotations

import re
from typing import Final

from flows.extract.text import fold, word_table

_MAX_CHARS: Final = 300

_WORD_RE: Final = re.compile(r"\w+|[+\-]|👍|👎|✅|❌|✔|✖|👌|🙅|🤷|🙂|😊")
_STRETCHED_RE: Final = re.compile(r"([^\W\d_])\1{2,}")  # "дааа", "nooo", "yesss"

# Matched on the answer's words joined by single spaces; the earliest signal wins.
_YES_IDIOM_RE: Final = re.compile(
    r"(?<!\S)(?:не против|не возражаю|почему бы и нет|почему нет|why not|no problem|no problems|без проблем"
    r"|нет проблем|не вопрос|само собой|no doubt|без сомнения|без сомнений|не то слово|а то|еще бы|of course"
    r"|так точно"
    r"|скорее да|наверное да|думаю да|в целом да|в принципе да|пожалуй да|probably yes|i think so|i guess so"
    r"|скорее да чем нет|кажется да|вроде да|да вроде|ну да|i do|we do|i am|we are|i have|we have|sounds good"
    r"|go ahead|why not|most likely|i guess|probably|likely)(?!\S)"
)
_UNSURE_RE: Final = re.compile(
    r"(?<!\S)(?:да не знаю|да хз|ну не знаю|не знаю|незнаю|не (?:\w+ )?уверен\w*|может быть|может|возможно"
    r"|не могу сказать|сложно сказать"
    r"|трудно сказать|посмотрим|хз|50 50|и да и нет|да и нет|yes and no|maybe|perhaps|possibly|not sure"
    r"|unsure|dont know|do not know|dunno|idk|depends|it depends|зависит|no idea|понятия не имею|кто знает"
    r"|who knows|не помню|dont remember|🤷|not really sure|не решили|не определились|ну такое|так себе"
    r"|сомневаюсь|не факт|как сказать|kind of|sort of|kinda|sorta|more or less|более или менее"
    r"|в какой-то мере)"
    r"(?!\S)"
)
_NO_IDIOM_RE: Final = re.compile(
    r"(?<!\S)(?:^да нет(?! проблем)|не совсем|не очень|не особо|не особенно|not really|not quite|not exactly"
    r"|не то чтобы"
    r"|вряд ли|not at all|ни в коем случае|ни за что|no way|не надо|не нужно|не хочу|не интересно"
    r"|не интересует|not interested|no thanks|no thank you|not yet|пока нет|еще нет|not now|не сейчас"
    r"|скорее нет|наверное нет|думаю нет|конечно нет|точно нет|definitely not|of course not|certainly not"
    r"|absolutely not|probably not|i dont think so|не думаю|не совсем так|i dont|we dont|i do not|we do not"
    r"|навряд ли|вряд|вроде нет|кажется нет|думаю что нет|i guess not|i think not|guess not|unlikely|hardly"
    r"|doubt it|i doubt|not my call|not me|не ко мне|не я)"
    r"(?!\S)"
)
_SPLIT_RE: Final = re.compile(r"\S+")
_YES_WORDS: Final = frozenset(
    word_table(
        "да ага угу агась ок окей ok okay хорошо ладно давай давайте согласен согласна согласны есть "
        "имеется правда верно правильно именно точняк yes yeah yep yup ya yea ye yass yess yesss sure "
        "indeed correct right affirmative k y д + 👍 ✅ ✔ 👌 🙂 😊"
    )
)
# Yes on their own, but only stressing what follows: "конечно нет", "absolutely not" are no.
_INTENSIFIERS: Final = frozenset(
    word_table(
        "конечно конечн канешно разумеется естественно безусловно абсолютно однозначно определенно точно "
        "certainly definitely absolutely totally obviously surely"
    )
)
_BUT: Final = frozenset({"но", "однако", "but", "however"})
_NO_WORDS: Final = frozenset(
    word_table(
        "нет неа нету не нельзя никак отнюдь нисколько никогда no nope nah nay never negative n н not "
        "dont doesnt isnt arent havent hasnt wont cant - 👎 ❌ ✖ 🙅"
    )
)


def _first_idiom(words: str) -> tuple[int, bool] | None:
    """The earliest idiom; of two at one place the longer ("i guess not" over "i guess")."""
    yes = _YES_IDIOM_RE.search(words)
    no = _NO_IDIOM_RE.search(words)
    if yes is None and no is None:
        return None
    if no is None or (yes is not None and (yes.start(), -yes.end()) <= (no.start(), -no.end())):
        return (yes.start(), True) if yes is not None else None
    return (no.start(), False)


def _first_word(words: str) -> tuple[int, bool] | None:
    stressed: int | None = None  # where an intensifier stood, waiting for what it stresses
    for match in _SPLIT_RE.finditer(words):
        word = match.group()
        if word in _YES_WORDS:
            return (match.start() if stressed is None else stressed, True)
        if word in _NO_WORDS:
            return (match.start() if stressed is None else stressed, False)
        if stressed is not None and word in _BUT:
            return (stressed, True)  # "конечно, но не сейчас": the stress ends with the clause
        if word in _INTENSIFIERS and stressed is None:
            stressed = match.start()
    return None if stressed is None else (stressed, True)


_HEDGE_RE: Final = re.compile(
    r"(?<!\S)(?:наверное|наверно|скорее|думаю|кажется|вроде|пожалуй|по идее|в принципе|в целом|probably"
    r"|likely|i think|i guess|guess|i suppose|suppose|i believe|seems|unlikely|hardly|вряд|навряд)(?!\S)"
)


def _words(text: str) -> str:
    return " ".join(_WORD_RE.findall(_STRETCHED_RE.sub(r"\1", fold(text[:_MAX_CHARS]))))


def read_yes_no(text: str) -> tuple[bool | None, bool]:
    """(``parse_yes_no``'s answer, whether it was said without a hedge)."""
    words = _words(text)
    value = _decide(words)
    return value, value is not None and _HEDGE_RE.search(words) is None


def parse_yes_no(text: str, locale: str) -> bool | None:  # noqa: ARG001 (one signature for the parsers; both languages are read whatever the locale)
    """True for yes, False for no, None for "don't know" or anything that is neither.

    The earliest signal decides ("да, но не сейчас" and "yes, but not now" are yes); an idiom
    beats a single word at the same place ("не против", "no problem" and "почему бы и нет" are
    yes; "не совсем", "not really", "конечно нет" and "да нет" are no). "Don't know" before
    any other signal makes it None ("не знаю, наверное нет", "да не знаю"). An intensifier
    ("конечно", "абсолютно", "definitely") is yes on its own but takes the side of the word
    it stresses ("однозначно нет"). Both languages are understood whatever the locale.
    """
    return _decide(_words(text))


def _decide(words: str) -> bool | None:
    if not words:
        return None
    signals = [s for s in (_first_idiom(words), _first_word(words)) if s is not None]
    unsure = _UNSURE_RE.search(words)
    if unsure is not None and all(unsure.start() <= at for at, _ in signals):
        return None
    if not signals:
        return None
    return min(signals, key=lambda signal: signal[0])[1]  # an idiom comes first in a tie
