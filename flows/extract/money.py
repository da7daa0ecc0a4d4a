"""Budgets typed as text: "около 2 млн руб", "$50k", "от 500 тысяч до миллиона", "нет бюджета"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from flows.extract.currency import BELARUSIAN_PREFIXES, CURRENCY_BY_WORD, ROUBLE_WORDS
from flows.extract.numbers import MAX_SCAN_CHARS, Token, find_amounts, midpoint, read_range, tokenize
from flows.extract.text import fold


@dataclass(frozen=True, slots=True)
class Money:
    """An amount or a range of money; an open end is None, a single amount has min == max."""

    min: float | None
    max: float | None
    currency: str | None  # ISO 4217, None when the visitor did not say

    def midpoint(self) -> float | None:
        """A representative value: (min+max)/2, or whichever end exists."""
        return midpoint(self.min, self.max)


NO_BUDGET: Final = Money(0.0, 0.0, None)

# Said instead of an amount. "Don't know" wins over "no" ("нет идей", "no idea").
_UNSURE_RE: Final = re.compile(
    r"(?<!\w)(?:не знаю|незнаю|не уверен\w*|нет идей|no idea|not sure|dont know|do not know|idk|dunno|хз"
    r"|сложно сказать|трудно сказать|hard to say|не решили|не определились|не определен\w*|не считали"
    r"|обсуждаем\w*|договорн\w*|negotiable|depends|зависит|tbd|посмотрим)(?!\w)"
)
_NO_BUDGET_RE: Final = re.compile(
    r"(?<!\w)(?:нет|нету|ноль|ничего|нисколько|ни копейки|ни рубля|бесплатн\w*|free|zero|none|nothing|no"
    r"|не выделен\w*|не заложен\w*|не предусмотрен\w*|отсутствует)(?!\w)"
)


def _currency(tokens: list[Token]) -> str | None:
    for index, token in enumerate(tokens):
        code = CURRENCY_BY_WORD.get(token.text)
        if code is None:
            continue
        if token.text in ROUBLE_WORDS and any(
            tokens[k].text in BELARUSIAN_PREFIXES for k in (index - 1, index - 2) if k >= 0
        ):
            return "BYN"  # "белорусских рублей", "бел. руб."
        return code
    return None


def parse_money(text: str, locale: str) -> Money | None:
    """Read a budget: an amount, a range or an open range, with the currency if one was named.

    "1-2 млн" -> 1e6..2e6; "до 100 тысяч" -> max only; "больше миллиона" -> min only;
    "около 2 млн руб" -> a single amount; "нет бюджета" / "0" -> Money(0, 0, None);
    "не знаю" -> None. Words of both languages are understood whatever the locale.
    """
    folded = fold(text[:MAX_SCAN_CHARS])
    tokens = tokenize(folded)
    reading = read_range(tokens, find_amounts(tokens, folded))
    if reading is not None:
        low, high = reading
        if low == 0 and high == 0:
            return NO_BUDGET
        return Money(low, high, _currency(tokens))
    if _UNSURE_RE.search(folded) or not _NO_BUDGET_RE.search(folded):
        return None
    return NO_BUDGET
