"""Numbers typed as digits or words (ru, en): the core shared by money, number and timeline parsing.

A text is folded and cut into tokens; every amount in it is read ("1,5 тыс", "два с половиной
миллиона", "a couple of thousand", "50k", "1 000 000"); ``read_range`` then decides what the
amounts say together: one amount, a range ("1-2 млн", "between 10k and 50k", "от 500 тыс до 1 млн")
or an open range ("до 100 тысяч", "over 1M", "50+").

Separators: a comma or dot followed by exactly three digits, after one to three leading digits
and with no scale word after it, groups thousands ("1,500" = 1500, "1.500" = 1500); otherwise it is
a decimal point ("1,5", "1.5M", "1,500 млн" = 1.5 million). Several separators of one kind
always group ("1.000.000"); with both kinds, the last one is the decimal point.

Before it is cut into tokens a text is prepared (``prepare``): case endings after digits go
("5-ти" = 5, "от 3-х"), vulgar and slash fractions before a word become decimals ("½ млн",
"1/2 ляма", "1 1/2 million"), a glued "через" or scale and currency are split ("черезнеделю",
"5млнруб"), and "с лишним" between a number and its scale moves after it ("5 с лишним млн").

Russians put the unit first when they are not sure: "тысяч восемьсот" is 800 000, "миллиона три"
3 000 000, "сотни три" 300, "рублей 500" 500 roubles; a unit in the nominative singular still
counts one ("тысяча двести" = 1200), and a bare remainder after millions is in thousands
("миллион двести" = 1 200 000). A plural unit with no count is an order of magnitude ("сотни
тысяч" = 100 000 to 1 000 000, "tens of thousands"), "несколько"/"several" three to seven of the
unit. An amount right after "не"/"not" is negated and dropped ("не 5 млн, а 3" = 3 000 000); a
minus sign makes it not an amount at all.
"""

from __future__ import annotations

import math
import re
from typing import Final, NamedTuple

from flows.extract.currency import CURRENCY_BY_WORD, ROUBLE_WORDS
from flows.extract.text import fold, word_table

MAX_SCAN_CHARS: Final = 500
"""Only the start of an answer is read for amounts; nobody types a budget after 500 characters."""
MAX_AMOUNT: Final = 1e15
"""Larger amounts are not believed (and keep JSON finite)."""

# Token kinds: the group of _TOKEN_RE that matched, minus one; anything else (2) is a symbol.
NUM: Final = 0
WORD: Final = 1


class Token(NamedTuple):
    kind: int
    text: str
    start: int
    end: int


class Amount(NamedTuple):
    value: float
    scale: float  # the largest multiplier word applied (1 when none): "50k" -> 1000
    first: int  # index of its first token
    end: int  # index after its last token
    upto: float | None = None  # the top of a vague amount: "сотни тысяч" = 100 000 up to 1 000 000
    approx: bool = False  # said vaguely: "тысяч 300", "несколько тысяч", "сотни тысяч"


_TOKEN_RE: Final = re.compile(r"(\d{1,3}(?: \d{3})+(?!\d)(?:[.,]\d+)*|\d+(?:[.,]\d+)*)|([^\W\d_]+)|([^\w\s])")

_NONE: Final = 0
_UNIT: Final = 1  # adds: "двадцать", "five", "полтора"
_TIMES: Final = 2  # multiplies what came before (or 1): "сотня", "hundred", "dozen", "десяток"
_SCALE: Final = 3  # closes a group: "тысяч", "million", "млн"; may start an amount ("больше миллиона")
_SCALE_AFTER: Final = 4  # only right after a number: "k", "к", "тыс", "m"
_HALF: Final = 5  # "пол миллиона", "half a million"


def _table(kind: int, entries: dict[float, str]) -> dict[str, tuple[int, float]]:
    return {word: (kind, value) for value, words in entries.items() for word in words.split()}


_WORDS: Final[dict[str, tuple[int, float]]] = {
    **_table(
        _UNIT,
        {
            0: "ноль нуль zero",
            1: "один одна одно одного одной одну одним одном one",
            1.5: "полтора полторы полутора",
            2: "два две двух двум двумя двое two пара пару пары парочка парочку парочки couple",
            3: "три трех трем тремя трое three тройка тройку тройки",
            4: "четыре четырех четырем четырьмя четверо four",
            5: "пять пяти пятью пятеро five",
            6: "шесть шести шестью шестеро six",
            7: "семь семи семью семеро seven",
            8: "восемь восьми восемью восьмеро eight",
            9: "девять девяти девятью девятеро nine",
            10: "десять десяти десятью десятеро ten",
            11: "одиннадцать одиннадцати eleven",
            12: "двенадцать двенадцати twelve",
            13: "тринадцать тринадцати thirteen",
            14: "четырнадцать четырнадцати fourteen",
            15: "пятнадцать пятнадцати fifteen",
            16: "шестнадцать шестнадцати sixteen",
            17: "семнадцать семнадцати seventeen",
            18: "восемнадцать восемнадцати eighteen",
            19: "девятнадцать девятнадцати nineteen",
            20: "двадцать двадцати twenty",
            30: "тридцать тридцати thirty",
            40: "сорок сорока forty fourty",
            50: "пятьдесят пятидесяти fifty полсотни полусотни полсотня",
            60: "шестьдесят шестидесяти sixty",
            70: "семьдесят семидесяти seventy",
            80: "восемьдесят восьмидесяти eighty",
            90: "девяносто девяноста ninety",
            100: "сто ста",
            200: "двести двухсот",
            300: "триста трехсот",
            400: "четыреста четырехсот",
            500: "пятьсот пятисот",
            600: "шестьсот шестисот",
            700: "семьсот семисот",
            800: "восемьсот восьмисот",
            900: "девятьсот девятисот",
        },
    ),
    **_table(
        _TIMES,
        {
            10: "десяток десятка десятку десятков десятком десятки tens",
            12: "дюжина дюжины дюжину дюжин dozen dozens",
            100: "сотня сотни сотню сотен сотней сотнями hundred hundreds",
        },
    ),
    **_table(
        _SCALE,
        {
            500: "полтысячи",
            1e3: "тысяча тысячи тысяч тысячу тысячей тысячам тысячами тысячах тыща тыщи тыщу косарь косаря "
            "косарей косаря косари thousand thousands",
            5e5: "полмиллиона полляма поллимона",
            1e6: "миллион миллиона миллионов миллионом миллионам миллионами миллионах миллионе миллионы млн "
            "лям ляма лямов лямы лямам лямах лямом лимон лимона лимонов лимоны million millions",
            5e8: "полмиллиарда",
            1e9: "миллиард миллиарда миллиардов миллиардом миллиардам миллиардами миллиардах миллиарды млрд "
            "ярд ярда ярдов billion billions",
            1e12: "триллион триллиона триллионов триллионы трлн trillion trillions",
        },
    ),
    **_table(
        _SCALE_AFTER,
        {
            1e3: "k к тыс тыщ т тр grand штук штуки штука",
            1e6: "m mm mn mln mil mio kk кк",
            1e9: "b bn bln",
            1e12: "tn",
        },
    ),
    **_table(_HALF, {0.5: "пол half"}),
}

_ARTICLES: Final = frozenset({"a", "an"})
_HALF_AFTER: Final = frozenset({"половиной", "половинкой"})
_AREA_MARKS: Final = frozenset("2²³")
_LENGTH_UNITS: Final = frozenset({"m", "м", "km", "км", "cm", "см", "sq", "кв"})
# Units that still count one when nothing comes before them: "тысяча двести" is 1200, while
# "тысяч восемьсот" (any other form) puts the count after the unit: 800 000.
_NOMINATIVE_ONE: Final = frozenset(
    {"тысяча", "тыща", "косарь", "миллион", "лям", "лимон", "миллиард", "ярд", "триллион"}
    | {"thousand", "million", "billion", "trillion", "сотня", "десяток", "дюжина", "hundred", "dozen"}
)
# Plural units with no count: an order of magnitude ("сотни тысяч", "thousands of dollars").
_MAGNITUDES: Final = frozenset(
    {"десятки", "сотни", "тысячи", "тыщи", "миллионы", "лямы", "миллиарды", "триллионы"}
    | {"tens", "hundreds", "thousands", "millions", "billions", "trillions"}
)
_SEVERAL: Final = frozenset({"несколько", "нескольких", "several", "few"})
_SEVERAL_RANGE: Final = (3.0, 7.0)
_INVERTIBLE_SHORT: Final = frozenset({"тыщ", "тыс"})  # "тыщ 300"
_INVERSION_SKIP: Final = frozenset({"на", "так", "эдак", "с"})
# After these a unit is in the genitive singular and counts one: "около сотни", "до тысячи двухсот".
_GENITIVE_BEFORE: Final = frozenset(
    word_table("около от до больше меньше более менее свыше порядка из без у для вместо кроме с")
)
_MINUS_WORDS: Final = frozenset({"минус", "minus"})
_NEGATORS: Final = frozenset({"не", "not", "no"})
_NEGATION_STRESS: Final = frozenset(
    {"точно", "явно", "уж", "даже", "совсем", "certainly", "definitely", "surely", "even", "really", "quite"}
)
_THOUSANDS_SLANG: Final = frozenset({"штук", "штуки", "штука"})

# Words skipped when looking at what stands between two amounts ("10 тыс. руб. - 20 тыс.").
_GAP_SKIP: Final = frozenset(
    {".", "около", "примерно", "приблизительно", "порядка", "где", "то", "about", "around", "approximately"}
    | {"approx", "roughly", "circa", "ca", "~", "≈", "ну", "наверное", "вроде"}
    | set(CURRENCY_BY_WORD)
)
_RANGE_MID_RE: Final = re.compile(
    r"(?:(?:и|and|,) )?(?:-|до|to|по|and|и|или|or|till|until|thru|through|up to|-до)(?: -)?|, ?(?:-|до|to)"
)
_PRE_BOUND_RE: Final = re.compile(
    r"(?<!\S)(?:"
    r"(?P<up>не более|не больше|не дороже|не выше|не свыше|не превыша\w*|no more than|not more than"
    r"|no greater than|not over|up to|upto|less than|fewer than|under|below|within|до|меньше|менее|дешевле"
    r"|максимум|макс|max|maximum|at most|в пределах|в рамках|вряд ли больше|вряд ли более|вряд ли выше"
    r"|вряд ли дороже|hardly more than|south of|<|≤)"
    r"|(?P<lo>от|from|больше|более|свыше|выше|дороже|over|above|more than|greater than|at least|min"
    r"|minimum|минимум|не менее|не меньше|не ниже|не дешевле|no less than|not less than|starting at"
    r"|starting from|exceeding|beyond|north of|upwards of|upward of|>|≥)"
    r")(?!\S)"
)
_POST_BOUND_RE: Final = re.compile(
    r"(?:, )?(?:"
    r"(?P<lo>\+|и выше|и более|и больше|или больше|или более|и дороже|или выше|or more|or above|or higher"
    r"|and up|and above|and more|and over|plus|минимум|как минимум|min|minimum|at least|at minimum"
    r"|с лишним|с небольшим|с хвостиком|с копейками|с гаком|with change)"
    r"|(?P<up>максимум|макс|max|maximum|top|tops|at most|at the most|or less|or lower|or under|и меньше"
    r"|или меньше|и менее|или менее|и ниже|не больше|не более|no more|not more|no higher|not higher)"
    r")(?!\S)"
)

# --------------------------------------------------------------------------- preparing a text

_FRACTIONS: Final = {"½": 0.5, "¼": 0.25, "¾": 0.75, "⅓": 1 / 3, "⅔": 2 / 3}
_VULGAR_RE: Final = re.compile(r"(\d*)[ \u2009]?([½¼¾⅓⅔])")
_SLASH_FRACTION_RE: Final = re.compile(r"(?<![\d/.,])(?:(\d+) )?([1-3])/([2-4])(?![\d/])(?= ?[^\W\d_])")
_CASE_ENDING_RE: Final = re.compile(r"(\d) ?-?(?:ти|ми|х|ух|ех|ю)(?![^\W\d_])")
_DIGIT_RE: Final = re.compile(r"\d")
_PLUS_MINUS_RE: Final = re.compile(r"плюс ?-? ?минус|plus ?-? ?minus|\+/?-|±")
_GLUED_THROUGH_RE: Final = re.compile(r"(?<!\w)через(?=[^\W_])")
_GLUED_CURRENCY_RE: Final = re.compile(r"(?<=\d|\s)(млрд|млн|тыс|кк)(руб|долл|бакс|евро|usd|eur|rub|[$€₽])")
_SPELLED_OUT_RE: Final = re.compile(r" ?\(([^()]{1,60})\)")  # "5 (пять) млн", "100 000 (сто тысяч)"
_BETWEEN_RE: Final = re.compile(
    r"(\d+(?:[.,]\d+)?) с (лишним|небольшим|хвостиком|копейками|гаком) ([^\W\d_]+)"
)


def _vulgar(match: re.Match[str]) -> str:
    whole = int(match.group(1)) if match.group(1) else 0
    return f"{whole + _FRACTIONS[match.group(2)]:g}"


def _slash(match: re.Match[str]) -> str:
    whole = int(match.group(1)) if match.group(1) else 0
    numerator, denominator = int(match.group(2)), int(match.group(3))
    if numerator >= denominator:
        return match.group()
    return f"{whole + numerator / denominator:g}"


def _between(match: re.Match[str]) -> str:
    number, extra, word = match.groups()
    if word_class(word) not in (_SCALE, _SCALE_AFTER):
        return match.group()
    return f"{number} {word} с {extra}"


def _spelled_out(match: re.Match[str]) -> str:
    words = match.group(1).split()
    return "" if words and all(word in _WORDS for word in words) else match.group()


def prepare(text: str) -> str:
    """The start of a text folded and made regular for reading numbers (see the module docstring)."""
    folded = fold(text[:MAX_SCAN_CHARS])
    if any(mark in folded for mark in _FRACTIONS):
        folded = _VULGAR_RE.sub(_vulgar, folded)
    if "/" in folded:
        folded = _SLASH_FRACTION_RE.sub(_slash, folded)
    digits = _DIGIT_RE.search(folded) is not None
    if digits:
        folded = _CASE_ENDING_RE.sub(r"\1", folded)
        folded = _GLUED_CURRENCY_RE.sub(r"\1 \2", folded)
    if "минус" in folded or "minus" in folded or "±" in folded or "+-" in folded or "+/-" in folded:
        folded = _PLUS_MINUS_RE.sub("около", folded)
    if "через" in folded:
        folded = _GLUED_THROUGH_RE.sub("через ", folded)
    if " с " in folded:
        folded = _BETWEEN_RE.sub(_between, folded)
    if "(" in folded:
        folded = _SPELLED_OUT_RE.sub(_spelled_out, folded)
    return folded


# --------------------------------------------------------------------------- tokens and amounts


def tokenize(folded: str) -> list[Token]:
    """Cut a folded text into number, word and symbol tokens."""
    new = tuple.__new__  # skips the NamedTuple constructor's Python frame: this runs per token
    return [
        new(Token, ((match.lastindex or 1) - 1, match.group(), *match.span()))
        for match in _TOKEN_RE.finditer(folded)
    ]


def _num_value(raw: str, scaled: bool) -> float:
    digits = raw.replace(" ", "")
    dots, commas = digits.count("."), digits.count(",")
    if dots and commas:
        decimal = "." if digits.rfind(".") > digits.rfind(",") else ","
        head, _, tail = digits.rpartition(decimal)
        digits = head.replace(".", "").replace(",", "") + "." + tail
    elif dots + commas > 1:
        digits = digits.replace(".", "").replace(",", "")
    elif dots + commas == 1:
        head, _, tail = digits.partition("." if dots else ",")
        grouping = len(tail) == 3 and len(head) <= 3 and head[0] != "0" and not scaled
        digits = head + tail if grouping else head + "." + tail
    return float(digits)


_NO_WORD: Final = (_NONE, 0.0)


def word_class(word: str) -> int:
    return _WORDS.get(word, _NO_WORD)[0]


def is_number_word(word: str) -> bool:
    return word in _WORDS or word in _SEVERAL


def _next_word(tokens: list[Token], j: int) -> str:
    """The next word after position j, skipping dots ("т.р.")."""
    n = len(tokens)
    while j < n and tokens[j].text == ".":
        j += 1
    return tokens[j].text if j < n and tokens[j].kind == WORD else ""


def _scale_applies(word: str, tokens: list[Token], j: int, text: str) -> bool:
    if word == "т":  # "100 т.р.": thousand roubles; a bare "т" is more likely tonnes
        return _next_word(tokens, j + 1) in ROUBLE_WORDS
    if word in _THOUSANDS_SLANG:  # "3 штуки баксов"; "300 штук" alone counts things
        return _next_word(tokens, j + 1) in CURRENCY_BY_WORD
    if word == "m":  # "100 m2" is an area, not a hundred million
        end = tokens[j].end
        return text[end : end + 1] not in _AREA_MARKS
    return True


def _joins(current: float, unit: float) -> bool:
    """Whether a number word continues the one before: "двадцать пять", "сто двадцать"."""
    if current >= 100 and current % 100 == 0:
        return unit < 100
    return current >= 20 and current % 10 == 0 and unit < 10


def _half_width(word: str, tokens: list[Token], j: int, stop: int) -> int:
    """How many tokens an "and a half" / "с половиной" at position j spans (0 if it is not one)."""
    following = tokens[j + 1].text if j + 1 < stop else ""
    if word == "с":
        return 2 if following in _HALF_AFTER else 0
    if following == "half":
        return 2
    if following == "a" and j + 2 < stop and tokens[j + 2].text == "half":
        return 3
    return 0


def _bare_count(tokens: list[Token], i: int, stop: int) -> tuple[float, int] | None:
    """A count with no unit of its own at token i ("восемьсот", "3", "полторы"): (value, end)."""
    if i >= stop:
        return None
    token = tokens[i]
    if token.kind == NUM:
        following = word_class(tokens[i + 1].text) if i + 1 < stop else _NONE
        if following in (_SCALE, _SCALE_AFTER, _TIMES):
            return None
        return _num_value(token.text, False), i + 1
    if word_class(token.text) != _UNIT:
        return None
    value, j = 0.0, i
    while j < stop and word_class(tokens[j].text) == _UNIT:
        unit = _WORDS[tokens[j].text][1]
        if j > i and not _joins(value, unit):
            break
        value += unit
        j += 1
    if j < stop and word_class(tokens[j].text) in (_SCALE, _TIMES, _HALF):
        return None
    return value, j


def _after_genitive(tokens: list[Token], i: int) -> bool:
    return i > 0 and tokens[i - 1].text in _GENITIVE_BEFORE


def _inverted(tokens: list[Token], i: int, stop: int) -> Amount | None:
    """A unit said before its count: "тысяч восемьсот", "миллиона три", "сотни три", "тыщ на 300"."""
    word = tokens[i].text
    kind, value = _WORDS.get(word, _NO_WORD)
    if kind == _SCALE_AFTER and word not in _INVERTIBLE_SHORT:
        return None  # "100 m2", "5 k": a short unit only follows its count
    if kind not in (_SCALE, _SCALE_AFTER, _TIMES) or word in _NOMINATIVE_ONE or _after_genitive(tokens, i):
        return None
    j = i + 1
    if j < stop and tokens[j].text in _INVERSION_SKIP:
        j += 1
    count = _bare_count(tokens, j, stop)
    if count is None:
        return None
    number, end = count
    scale = value
    # "сотни три тысяч": the inverted hundreds may still take a larger unit after them.
    if kind == _TIMES and end < stop and word_class(tokens[end].text) in (_SCALE, _SCALE_AFTER):
        scale_word = tokens[end].text
        if _WORDS[scale_word][1] > value:
            return Amount(
                number * value * _WORDS[scale_word][1], _WORDS[scale_word][1], i, end + 1, approx=True
            )
    return Amount(number * scale, scale, i, end, approx=True)


def _vague(tokens: list[Token], i: int, stop: int) -> Amount | None:
    """ "несколько тысяч" (three to seven), "сотни тысяч" / "thousands" (an order of magnitude)."""
    word = tokens[i].text
    several = word in _SEVERAL
    if several:
        low, high = _SEVERAL_RANGE
        j = i + 1
        if j < stop and tokens[j].text == "a":  # "a few"
            j += 1
    elif word in _MAGNITUDES and not _after_genitive(tokens, i):
        low, high = 1.0, 10.0
        j = i
    else:
        return None
    unit = 1.0
    first_unit = True
    while j < stop:
        text = tokens[j].text
        kind = word_class(text)
        if kind in (_TIMES, _SCALE) or (kind == _SCALE_AFTER and not first_unit):
            unit *= _WORDS[text][1]
            first_unit = False
            j += 1
        elif text == "of" and not first_unit:
            j += 1
        else:
            break
    if first_unit:
        return None
    return Amount(low * unit, unit, i, j, upto=high * unit, approx=True)


def _read(tokens: list[Token], i: int, stop: int, text: str) -> Amount | None:
    """Read one amount starting at token i, digits and words mixed ("2,5 млн", "two hundred k")."""
    total = 0.0
    current: float | None = None
    scale = 1.0
    last_scale = 1.0
    started = False
    after_digits = False
    j = i
    while j < stop:
        token = tokens[j]
        if token.kind == NUM:
            following = _WORDS.get(tokens[j + 1].text, _NO_WORD) if j + 1 < stop else _NO_WORD
            scaled = following[0] in (_SCALE, _SCALE_AFTER, _TIMES)
            # "2 млн 500 тыс" goes on, and so does "2 ляма 300" (thousands after millions);
            # any other number after a number is a new amount.
            remainder = current is None and last_scale >= 1e6 and not scaled and tokens[j - 1].kind == WORD
            if started and not (current is None and scaled and following[1] < last_scale) and not remainder:
                break
            current = _num_value(token.text, scaled)
            started = after_digits = True
            j += 1
            continue
        if token.kind != WORD:
            break
        word = token.text
        kind, value = _WORDS.get(word, _NO_WORD)
        if kind == _UNIT:
            if after_digits or (current is not None and not _joins(current, value)):
                break
            current = value if current is None else current + value
        elif kind == _TIMES:
            current = value * (1.0 if current is None else current)
            scale = max(scale, value)
        elif kind in (_SCALE, _SCALE_AFTER):
            if (kind == _SCALE_AFTER and not started) or not _scale_applies(word, tokens, j, text):
                break
            total += (1.0 if current is None else current) * value
            current = None
            scale = max(scale, value)
            last_scale = value
        elif kind == _HALF:
            k = j + 2 if j + 1 < stop and tokens[j + 1].text in _ARTICLES | {"-"} else j + 1
            if k >= stop or word_class(tokens[k].text) not in (_SCALE, _TIMES):
                break
            current = 0.5 * (1.0 if current is None else current)
            j = k - 1
        elif word in _ARTICLES:
            if j + 1 >= stop or tokens[j + 1].text not in _WORDS:
                break
        elif word in ("and", "с") and started:
            width = _half_width(word, tokens, j, stop)
            if width:
                if current is not None:
                    current += 0.5
                else:
                    total += 0.5 * last_scale
                j += width
                after_digits = False
                continue
            following_word = tokens[j + 1].text if j + 1 < stop else ""
            hundreds = current is not None and current >= 100 and current % 100 == 0
            if word == "and" and word_class(following_word) == _UNIT and (hundreds or current is None):
                j += 1  # "one hundred and fifty", "two thousand and five"
                continue
            break
        elif word == "of" and started:
            if j + 1 >= stop or word_class(tokens[j + 1].text) not in (_SCALE, _TIMES):
                break  # "a couple of thousand"
        else:
            break
        if kind != _NONE:
            started = True
            after_digits = False
        j += 1
    if not started:
        return None
    if current is not None and total and last_scale >= 1e6 and current < 1000:
        current *= last_scale / 1000  # "миллион двести", "2 ляма 300": the rest is in thousands
    return Amount(total + (current or 0.0), scale, i, j)


def _is_exponent(tokens: list[Token], i: int) -> bool:
    """The "2" of "m2" / "м2" (an area unit), not an amount."""
    if not i or tokens[i].text not in _AREA_MARKS:
        return False
    before = tokens[i - 1]
    return before.end == tokens[i].start and before.text in _LENGTH_UNITS


def find_amounts(tokens: list[Token], text: str, start: int = 0, stop: int | None = None) -> list[Amount]:
    """Every amount among tokens[start:stop], in order."""
    amounts: list[Amount] = []
    i = start
    stop = len(tokens) if stop is None else stop
    while i < stop:
        token = tokens[i]
        if _is_exponent(tokens, i):
            i += 1
            continue
        if token.kind == WORD and (token.text in _WORDS or token.text in _SEVERAL):
            amount = _inverted(tokens, i, stop) or _vague(tokens, i, stop)
            if amount is not None:
                amounts.append(amount)
                i = amount.end
                continue
        if token.kind == NUM or (token.kind == WORD and (token.text in _WORDS or token.text in _ARTICLES)):
            amount = _read(tokens, i, stop, text)
            if amount is not None:
                amounts.append(amount)
                i = amount.end
                continue
        i += 1
    return amounts


def _gap(tokens: list[Token], start: int, end: int) -> str:
    return " ".join(t.text for t in tokens[start:end] if t.text not in _GAP_SKIP)


def _near_currency(tokens: list[Token], amount: Amount) -> bool:
    before = tokens[amount.first - 1].text if amount.first else ""
    after = _next_word(tokens, amount.end) if amount.end < len(tokens) else ""
    after_symbol = tokens[amount.end].text if amount.end < len(tokens) else ""
    return before in CURRENCY_BY_WORD or after in CURRENCY_BY_WORD or after_symbol in CURRENCY_BY_WORD


def _believable(value: float) -> bool:
    return math.isfinite(value) and 0 <= value <= MAX_AMOUNT


def _as_range(low: Amount, high: Amount) -> tuple[float, float] | None:
    low_value, high_value = low.value, high.value
    if low.scale == 1 and high.scale > 1:
        # "1-2 млн", "10-50k": the second amount's multiplier covers the first;
        # "900-1 млн" means 900 thousand, so step the multiplier down until it fits.
        factor = high.scale
        while factor > 1 and low_value * factor > high_value:
            factor /= 1000
        low_value *= max(factor, 1.0)
    elif high.scale == 1 and low.scale > 1 and high_value * low.scale > low_value:
        high_value *= low.scale  # "тыщ 200-300", "лям-полтора": the first amount's unit covers the second
    if not (_believable(low_value) and _believable(high_value)):
        return None
    return (min(low_value, high_value), max(low_value, high_value))


def _negative(tokens: list[Token], amount: Amount) -> bool:
    """A minus sign or word right before the amount: "-5000", "минус 3" (a dash after a number is a range)."""
    at = amount.first
    if at and tokens[at - 1].text in _MINUS_WORDS:
        return True
    if not at or tokens[at - 1].text != "-" or tokens[at - 1].end != tokens[at].start:
        return False
    if at < 2:
        return True
    before = tokens[at - 2]
    if before.end == tokens[at - 1].start or before.kind == NUM:
        return False  # "5-10", "5$-10$": a range
    return before.text not in _WORDS and before.text not in CURRENCY_BY_WORD and before.kind == WORD


def _negated(tokens: list[Token], amount: Amount) -> bool:
    """ "не 5 млн", "certainly not 50k": the amount is what it is not."""
    at = amount.first - 1
    return at >= 0 and tokens[at].text in _NEGATORS


def _drop_negated(tokens: list[Token], amounts: list[Amount]) -> list[Amount] | None:
    """The amounts that are not negated; a bare count after a negated amount takes its unit
    ("не 5 млн, а 3" = 3 000 000). None when every amount was negated."""
    negated = [a for a in amounts if _negated(tokens, a)]
    if not negated:
        return amounts
    kept = [a for a in amounts if a not in negated]
    if not kept:
        return None
    unit = max(a.scale for a in negated)
    if len(kept) == 1 and kept[0].scale == 1 and unit > 1:
        only = kept[0]
        kept = [only._replace(value=only.value * unit, scale=unit)]
    return kept


NEGATED: Final = (-1.0, -1.0)
"""What ``read_range`` returns when the only amounts were negated or negative ("не 5 млн", "-5")."""


def read_range(
    tokens: list[Token], amounts: list[Amount], start: int = 0, stop: int | None = None
) -> tuple[float | None, float | None] | None:
    """What the amounts say together: (low, high); None on either side for an open end.

    Two amounts joined by "-", "до", "to", "and", "или"... are a range; a single amount takes
    a bound from the words around it ("до", "больше", "up to", "at least", "+", "и выше").
    Several unrelated amounts are understood only when exactly one of them carries a multiplier
    or a currency ("2 офиса, бюджет 500 тысяч"); otherwise the answer is ambiguous (None).
    Negated or negative amounts give ``NEGATED``.
    """
    if not amounts:
        return None
    stop = len(tokens) if stop is None else stop
    if any(_negative(tokens, a) for a in amounts):
        return NEGATED
    kept = _drop_negated(tokens, amounts)
    if kept is None:
        return NEGATED
    amounts = kept
    if len(amounts) == 2:
        first, second = amounts
        if _RANGE_MID_RE.fullmatch(_gap(tokens, first.end, second.first)):
            return _as_range(first, second)
    if len(amounts) == 1 or len({a.value for a in amounts}) == 1:
        index = 0  # one amount, or the same one said twice: "1 (я один)"
    else:
        marked = [k for k, a in enumerate(amounts) if a.scale > 1 or _near_currency(tokens, a)]
        if len(marked) != 1:
            return None
        index = marked[0]
    amount = amounts[index]
    if not _believable(amount.value):
        return None
    if amount.upto is not None:
        return (amount.value, amount.upto) if _believable(amount.upto) else None
    pre_start = amounts[index - 1].end if index else start
    post_stop = amounts[index + 1].first if index + 1 < len(amounts) else stop
    bound = ""
    for match in _PRE_BOUND_RE.finditer(_gap(tokens, pre_start, amount.first)):
        bound = match.lastgroup or ""
    if not bound:
        post = _POST_BOUND_RE.match(_gap(tokens, amount.end, post_stop))
        bound = post.lastgroup or "" if post else ""
    if bound == "lo":
        return (amount.value, None)
    if bound == "up":
        return (None, amount.value)
    return (amount.value, amount.value)


def magnitude_only(amounts: list[Amount]) -> bool:
    """Whether the only amount is an order of magnitude ("hundreds", "десятки"): no count at all."""
    return len(amounts) == 1 and amounts[0].upto is not None and amounts[0].upto >= 10 * amounts[0].value


def is_vague(amounts: list[Amount]) -> bool:
    """Whether the amounts were said vaguely (a unit before its count, "несколько", "сотни тысяч")."""
    return any(a.approx for a in amounts)


def midpoint(low: float | None, high: float | None) -> float | None:
    """(low+high)/2 for a closed range, else whichever end exists."""
    if low is not None and high is not None:
        return (low + high) / 2
    return low if low is not None else high


_NOBODY_RE: Final = re.compile(
    r"(?<!\w)(?:ни одного|ни одной|ни единого|никого|nobody|no one|noone|none|not a single one|not one)(?!\w)"
)
_JUST_ME_RE: Final = re.compile(
    r"(?<!\w)(?:я один|я одна|только я|одна я|один я|сам один|just me|only me|just myself|only myself"
    r"|me alone|one person)(?!\w)"
)
_NO_RE: Final = re.compile(r"(?<!\w)(?:нет|нету|нисколько|nothing|no)(?!\w)")


def parse_number(text: str, locale: str) -> float | None:  # noqa: ARG001 (one signature for the parsers; both languages are read whatever the locale)
    """A count or quantity typed as digits or words: "человек 50", "a dozen", "1,5 тыс", "около сотни".

    A range gives its midpoint ("50-100" -> 75.0); an open range gives its only end ("до 100" ->
    100.0, "50+" -> 50.0). "нет", "никого", "none" -> 0.0; "я один", "just me" -> 1.0. A negated
    or negative count is not understood ("не 50", "-5"), and neither is a bare order of
    magnitude ("сотни", "hundreds"). Words of both languages are understood
    whatever the locale.
    """
    folded = prepare(text)
    if _NOBODY_RE.search(folded):
        return 0.0
    tokens = tokenize(folded)
    amounts = find_amounts(tokens, folded)
    reading = read_range(tokens, amounts)
    if reading == NEGATED or magnitude_only(amounts):
        return None  # "не 50", "-5"; "сотни" says no count
    if reading is not None:
        return midpoint(*reading)
    if _JUST_ME_RE.search(folded):
        return 1.0
    if _NO_RE.search(folded):
        return 0.0
    return None
