"""Budgets typed as text: "около 2 млн руб", "$50k", "от 500 тысяч до миллиона", "нет бюджета"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from flows.extract.currency import BELARUSIAN_PREFIXES, CURRENCY_BY_WORD, ROUBLE_WORDS
from flows.extract.numbers import (
    NEGATED,
    Token,
    find_amounts,
    is_vague,
    midpoint,
    prepare,
    read_range,
    tokenize,
)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount or a range of money; an open end is None, a single amount has min == max.

    ``unlimited`` is a budget with no upper end at all ("без ограничений", "whatever it takes"):
    both ends are None and the reader of a flow decides what that is worth. ``approximate`` says
    the visitor was vague ("около", "тыщ 300", "несколько тысяч"); it is not part of the value.
    """

    min: float | None
    max: float | None
    currency: str | None  # ISO 4217, None when the visitor did not say
    unlimited: bool = False
    approximate: bool = False

    def midpoint(self) -> float | None:
        """A representative value: (min+max)/2, or whichever end exists."""
        return midpoint(self.min, self.max)


NO_BUDGET: Final = Money(0.0, 0.0, None)

# No upper end: tried before "no budget", since most of these say "no" or "нет".
_UNLIMITED_RE: Final = re.compile(
    r"(?<!\w)(?:без (?:каких-либо |всяких |особых )?ограничени\w*|нет (?:никаких )?ограничени\w*"
    r"|ограничени\w* (?:по бюджету |по деньгам )?нет|не ограничен\w*|неограничен\w*|безлимит\w*|без лимит\w*"
    r"|деньги не проблема|денег не жалко|сколько (?:потребуется|понадобится|нужно|надо|скажете)"
    r"|whatever it takes|no (?:upper |budget |spending |real )?(?:limits?|caps?)|unlimited|limitless"
    r"|no ceiling"
    r"|skys? the limit"
    r"|sky is the limit|(?:money|budget|cost|price)s? (?:is |are )?(?:no object|not an issue|no issue"
    r"|not a problem|no problem)|(?:money|budget|cost|price)s? (?:isnt|is not|arent|are not|aint) (?:an issue"
    r"|a problem|a concern))(?!\w)"
)
# Said instead of an amount. "Don't know" wins over "no" ("нет идей", "no idea").
_UNSURE_RE: Final = re.compile(
    r"(?<!\w)(?:не знаю|незнаю|не уверен\w*|нет идей|no idea|not sure|dont know|do not know|idk|dunno|хз"
    r"|сложно сказать|трудно сказать|hard to say|не решили|не определились|не определен\w*|не считали"
    r"|обсуждаем\w*|договорн\w*|negotiable|depends|зависит|tbd|посмотрим)(?!\w)"
)
_NO_BUDGET_RE: Final = re.compile(
    r"(?<!\w)(?:нет|нету|ноль|ничего|нисколько|ни копейки|ни рубля|бесплатн\w*|free|zero|none|nothing|no"
    r"|not a (?:cent|penny|dime)|не выделен\w*|не заложен\w*|не предусмотрен\w*|отсутствует"
    r"|(?:dont|do not|didnt|havent|have not) (?:have |got )?(?:a |any )?(?:budget|money))(?!\w)"
)
# "five figures" and its kin: an order of magnitude, its low, middle or high part.
_FIGURES_RE: Final = re.compile(
    r"(?<!\w)(?:(?P<part>low|mid|high|lower|upper|низк\w*|средн\w*|высок\w*)[\s-]+)?"
    r"(?:(?P<n>five|six|seven|eight|nine|5|6|7|8|9)[\s-]*figures?"
    r"|(?P<ru>пяти|шести|семи|восьми|девяти)значн\w*)(?!\w)"
)
_FIGURE_DIGITS: Final = {
    **dict.fromkeys(("five", "5", "пяти"), 5),
    **dict.fromkeys(("six", "6", "шести"), 6),
    **dict.fromkeys(("seven", "7", "семи"), 7),
    **dict.fromkeys(("eight", "8", "восьми"), 8),
    **dict.fromkeys(("nine", "9", "девяти"), 9),
}
_FIGURE_PARTS: Final = {"low": (1, 3), "mid": (4, 6), "hig": (7, 10), "upp": (7, 10), "низ": (1, 3)}
_FIGURE_PARTS_RU: Final = {"сре": (4, 6), "выс": (7, 10)}
_APPROX_RE: Final = re.compile(
    r"(?<!\w)(?:около|примерно|приблизительно|порядка|где-то|где то|в районе|плюс-минус|плюс минус|почти|под"
    r"|ориентировочно|about|around|approximately|approx|roughly|circa|ish|some|~|≈)(?!\w)|~|≈"
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


def _figures(folded: str) -> tuple[float, float] | None:
    if "figure" not in folded and "значн" not in folded:
        return None
    match = _FIGURES_RE.search(folded)
    if match is None:
        return None
    digits = _FIGURE_DIGITS[match.group("n") or match.group("ru")]
    unit = 10.0 ** (digits - 1)
    part = match.group("part")
    low, high = (
        (1, 10) if part is None else _FIGURE_PARTS.get(part[:3]) or _FIGURE_PARTS_RU.get(part[:3], (1, 10))
    )
    return low * unit, high * unit


def parse_money(text: str, locale: str) -> Money | None:  # noqa: ARG001 (one signature for the parsers; both languages are read whatever the locale)
    """Read a budget: an amount, a range or an open range, with the currency if one was named.

    "1-2 млн" -> 1e6..2e6; "до 100 тысяч" -> max only; "больше миллиона" -> min only;
    "около 2 млн руб" -> a single amount; "mid five figures" -> 40 000..60 000; "нет бюджета" /
    "0" -> Money(0, 0, None); "без ограничений" -> unlimited; "не знаю", "не 5 млн", "-5000" ->
    None. Words of both languages are understood whatever the locale.
    """
    folded = prepare(text)
    tokens = tokenize(folded)
    figures = _figures(folded)
    if figures is not None:
        return Money(*figures, _currency(tokens), approximate=True)
    amounts = find_amounts(tokens, folded)
    reading = read_range(tokens, amounts)
    if reading == NEGATED:
        return None
    if reading is not None:
        low, high = reading
        if low == 0 and high == 0:
            return NO_BUDGET
        approximate = is_vague(amounts) or _APPROX_RE.search(folded) is not None
        return Money(low, high, _currency(tokens), approximate=approximate)
    if _UNLIMITED_RE.search(folded):
        return Money(None, None, _currency(tokens), unlimited=True)
    if _UNSURE_RE.search(folded) or not _NO_BUDGET_RE.search(folded):
        return None
    return NO_BUDGET
