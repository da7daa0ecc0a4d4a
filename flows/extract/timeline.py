"""When a visitor means to buy, as days from now: "next quarter", "через пару месяцев", "к концу года".

The rules, in the order they are tried:

* "не в этом году", "к новому году", "after New Year": the first of January;
* a named period relative to now ("this week", "в следующем месяце", "к концу года",
  "early next year"): "this X" and "end of X" mean the last day of X, "next X" and
  "beginning of X" its first day, "middle of X" its middle; but a whole year ahead named with
  nothing more ("next year", "где-то в следующем году") means its middle, since someone who
  names only the year has not said they start in January;
* a quarter ("Q3", "в 3 квартале 2027", "третий квартал"): its first day; the current quarter
  means its last day; a quarter already over this year means next year's;
* a duration ("через 2 недели" = 14, "in 2-3 months", "полгода", "в течение года"): weeks are
  7 days, months and years are calendar months (a fraction of a month is 30 days a whole);
  a plural with no number ("within weeks", "в ближайшие месяцы") counts as three;
* a date ("15.03", "15.03.2027", "2027-03-15", "15 марта", "March 15"; with "/" the en locale
  reads month/day): its next occurrence, a past dated one counts as 0, an impossible one
  ("31.02") makes the answer not understood;
* a month ("в марте", "by March", "в конце марта"): the next such month's first day (last day
  with "end of", the 15th with "middle of"), the current month means its last day;
* a season ("летом", "next autumn", "к лету 2027"): its first day, or its last day when it is
  under way; then a year ("в 2027 году", "mid-2027", "early 2027"): as a named period, its
  middle when ahead (its first day with "early", its last with "end of"), its last day when under way;
* a weekday ("в пятницу", "by Friday"): its next occurrence, today being 0;
* phrases: "не знаю" / "not sure" = None, "just researching" / "просто изучаю" = 365,
  "не срочно" / "no rush" = 180, "послезавтра" = 2, "завтра" = 1, "ASAP" / "срочно" /
  "вчера" / "сегодня" = 0, "скоро" / "soon" = 30;
* anything else: None.

A moment named explicitly beats a phrase: "срочно, до 1 декабря" is 8 days, not 0.
Days are never negative (a date already past counts as 0) and never above 100 years.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Final, NamedTuple

from flows.extract.numbers import (
    NEGATED,
    NUM,
    Token,
    find_amounts,
    is_number_word,
    midpoint,
    prepare,
    read_range,
    tokenize,
)
from flows.extract.text import word_table

RESEARCHING_DAYS: Final = 365
NOT_URGENT_DAYS: Final = 180
SOON_DAYS: Final = 30
MAX_DAYS: Final = 36_500
_FIRST_YEAR: Final = date.min.year + 1
_LAST_YEAR: Final = date.max.year - MAX_DAYS // 365 - 2
_VAGUE_COUNT: Final = 3.0
_DAYS_PER_MONTH_FRACTION: Final = 30
_INVALID_DATE: Final = -1  # a date was written but does not exist ("31.02"): nothing else is guessed

_MOD: Final = (
    r"(?P<mod>конц(?:а|у|е|ом)|конец|начал(?:о|а|у|е|ом)|середин(?:а|ы|е|у|ой)"
    r"|end|late|beginning|start|early|mid|middle)"
)
_END_MODS: Final = ("кон", "end", "late")
_START_MODS: Final = ("нач", "beginning", "start", "early")

_PERIOD_RE: Final = re.compile(
    rf"(?<!\w)(?:{_MOD}[\s-]+(?:of[\s-]+)?(?:the[\s-]+)?)?"
    r"(?:(?P<rel>следующ\w*|след\.?|будущ\w*|next|этот|этом|этой|эту|это|этого|текущ\w*|this|current|the)\s+)?"
    r"(?P<unit>недел[яиеюь]|week|месяц[аеу]?|month|квартал[аеу]?|quarter|год[ауе]?|year)(?!\w)"
)
_NEXT_PREFIXES: Final = ("след", "будущ", "next")

_QUARTER_NAMES: Final = r"(?:кв\.?|квартал\w*|quarter)"
_QUARTER_RE: Final = re.compile(
    rf"(?<!\w)(?:{_MOD}[\s-]+(?:of[\s-]+)?(?:the[\s-]+)?)?(?:"
    r"q\s?(?P<a>[1-4])"
    r"|(?P<b>[1-4])\s?q"
    rf"|(?P<c>[1-4])\s?-?(?:й|ий|ый|ом|м|го|st|nd|rd|th)\s*{_QUARTER_NAMES}"
    r"|(?P<d>[1-4])\s*(?:кв\.?|квартал|квартале)"
    rf"|(?P<w>перв|втор|трет|четверт|first|second|third|fourth)\w*\s+{_QUARTER_NAMES}"
    rf"|(?P<r>iv|i{{1,3}})\s*{_QUARTER_NAMES}"
    r")(?:\s+(?P<y>20\d\d))?(?!\w)"
)
_QUARTER_WORDS: Final = {
    "перв": 1,
    "first": 1,
    "втор": 2,
    "second": 2,
    "трет": 3,
    "third": 3,
    "четверт": 4,
    "fourth": 4,
    "i": 1,
    "ii": 2,
    "iii": 3,
    "iv": 4,
}

_MONTH_FORMS: Final = {
    1: "январь января январе январю январем янв january jan",
    2: "февраль февраля феврале февралю февралем фев february feb",
    3: "март марта марте марту мартом мар march mar",
    4: "апрель апреля апреле апрелю апрелем апр april apr",
    5: "май мая мае маю маем may",
    6: "июнь июня июне июню июнем июн june jun",
    7: "июль июля июле июлю июлем июл july jul",
    8: "август августа августе августу августом авг august aug",
    9: "сентябрь сентября сентябре сентябрю сентябрем сен сент september sep sept",
    10: "октябрь октября октябре октябрю октябрем окт october oct",
    11: "ноябрь ноября ноябре ноябрю ноябрем ноя нояб november nov",
    12: "декабрь декабря декабре декабрю декабрем дек december dec",
}
_MONTHS: Final = {form: month for month, forms in _MONTH_FORMS.items() for form in forms.split()}
_MONTH_ALT: Final = "|".join(sorted(_MONTHS, key=len, reverse=True))
# "may" is a month only where a month is expected: "in may", "by may", "may 15", "end of may".
_MAY_CONTEXT_RE: Final = re.compile(
    r"(?:in|by|until|till|before|of|early|mid|late|next|this|since|from)\s+may(?!\w)|may\s+\d"
)

_ISO_DATE_RE: Final = re.compile(r"(?<!\d)(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)")
_NUMERIC_DATE_RE: Final = re.compile(
    r"(?<![\d.,/])(?P<a>\d{1,2})(?P<sep>[./])(?P<b>\d{1,2})(?:(?P=sep)(?P<y>\d{4}|\d{2}))?(?![\d,]|[./]\d)"
)
_DAY_MONTH_RE: Final = re.compile(
    rf"(?<!\d)(?P<d>\d{{1,2}})(?:-?(?:го|е|ое|st|nd|rd|th))?\s+(?:of\s+)?(?P<mon>{_MONTH_ALT})\.?"
    r"(?:\s+(?P<y>\d{4}))?(?!\w)"
)
_MONTH_DAY_RE: Final = re.compile(
    rf"(?<!\w)(?P<mon>{_MONTH_ALT})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?(?!\w)"
)
_MONTH_RE: Final = re.compile(
    rf"(?<!\w)(?:{_MOD}[\s-]+(?:of[\s-]+)?)?(?P<mon>{_MONTH_ALT})(?!\w)\.?(?:\s+(?P<y>20\d\d))?(?!\d)"
)
_YEAR_RE: Final = re.compile(rf"(?<!\w)(?:{_MOD}[\s-]+(?:of[\s-]+)?)?(?P<y>20\d\d)(?!\d)")
_SEASON_RE: Final = re.compile(
    rf"(?<!\w)(?:{_MOD}[\s-]+(?:of[\s-]+)?(?:the[\s-]+)?)?"
    r"(?P<s>весн[аеуы]|весной|лет[оау]|летом|осен[ьи]|осенью|зим[аеуы]|зимой|spring|summer|autumn|fall|winter)"
    r"(?:\s+(?P<y>20\d\d))?(?!\w)"
)
_SEASON_START: Final = {
    "вес": 3,
    "spr": 3,
    "лет": 6,
    "sum": 6,
    "осе": 9,
    "aut": 9,
    "fal": 9,
    "зим": 12,
    "win": 12,
}
_WEEKDAY_RE: Final = re.compile(
    r"(?<!\w)(?P<wd>понедельник\w*|вторник\w*|сред[ауы]|четверг\w*|пятниц[аеуы]|суббот[аеуы]"
    r"|воскресень[еяю]|monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?!\w)"
)
_WEEKDAYS: Final = ("пон", "вто", "сре", "чет", "пят", "суб", "вос")
_WEEKDAYS_EN: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NEXT_RE: Final = re.compile(r"(?<!\w)(?:следующ\w*|след\.?|next)(?!\w)")

_UNITS: Final[dict[str, tuple[str, float, bool]]] = {
    # word -> (unit, how many of it the word itself means, plural with no number = "a few")
    **dict.fromkeys(word_table("день дня дней дню днем сутки суток day"), ("day", 1.0, False)),
    **dict.fromkeys(["дни", "days"], ("day", 1.0, True)),
    **dict.fromkeys(
        word_table("неделя недели недель неделю неделе нед неделька недельку недельки week wk"),
        ("week", 1.0, False),
    ),
    **dict.fromkeys(word_table("неделями неделях weeks wks"), ("week", 1.0, True)),
    **dict.fromkeys(
        word_table("месяц месяца месяцев месяцу месяце месяцем мес месяцок месячишко month mo mth"),
        ("month", 1.0, False),
    ),
    **dict.fromkeys(word_table("месяцы месяцами месяцах months mos mths"), ("month", 1.0, True)),
    **dict.fromkeys(word_table("квартал квартала кварталов кварталу quarter"), ("quarter", 1.0, False)),
    **dict.fromkeys(["кварталы", "quarters"], ("quarter", 1.0, True)),
    **dict.fromkeys(word_table("год года году годом лет годик годика year yr"), ("year", 1.0, False)),
    **dict.fromkeys(word_table("годы годами годах years yrs"), ("year", 1.0, True)),
    **dict.fromkeys(word_table("полгода полугода полгодика полугодие"), ("year", 0.5, False)),
    **dict.fromkeys(["полмесяца"], ("month", 0.5, False)),
    **dict.fromkeys(["полнедели"], ("week", 0.5, False)),
    **dict.fromkeys(["fortnight"], ("week", 2.0, False)),
    **dict.fromkeys(["fortnights"], ("week", 2.0, True)),
}
_MONTHS_PER_UNIT: Final = {"month": 1, "quarter": 3, "year": 12}
_DAYS_PER_UNIT: Final = {"day": 1, "week": 7}
# Tokens that may belong to the count before a unit word: "2-3", "a couple of", "до 3", "пол".
_COUNT_GLUE: Final = frozenset({"-", "to", "до", "or", "или", "a", "an", "of", "and", "с", "половиной"})
_VAGUE_WORDS: Final = frozenset({"несколько", "нескольких", "few", "several", "пару", "couple"})
_HALF_WORDS: Final = frozenset({"пол", "half"})
_HALF_AFTER: Final = (("and", "a", "half"), ("с", "половиной"))
_THROUGH: Final = frozenset({"через", "спустя", "in"})
_ALTERNATIVE: Final = frozenset({"-", "или", "or"})
_JOINS: Final = frozenset({"и", "and", ",", "с", "плюс", "plus"})
# A moment in the past is not when someone means to buy: "год назад", "last month", "в прошлом году".
_PAST_RE: Final = re.compile(
    r"(?<!\w)(?:(?:[\w.,-]+\s+){0,2}(?:тому\s+)?(?:назад|ago)|(?:в|на|за)\s+прошл\w*\s+\w+|прошл\w*\s+\w+"
    r"|last\s+(?:week|month|year|quarter|spring|summer|autumn|fall|winter|time)(?!\s+of)|previous\s+\w+"
    r"|(?:уже\s+)?давно(?:\s+уже)?|a while (?:back|ago)|long ago|earlier this \w+)(?!\w)"
)

# Both mean "from the first of January on".
_NEXT_YEAR_RE: Final = re.compile(
    r"(?<!\w)(?:не в этом году|not this year|(?:к|после|с|до) нового года|к новому году|в новом году"
    r"|новый год|(?:after|by|from) (?:the )?new year)(?!\w)"
)
_UNSURE_RE: Final = re.compile(
    r"(?<!\w)(?:не знаю|незнаю|не уверен\w*|not sure|unsure|dont know|do not know|no idea|idk|dunno|хз"
    r"|сложно сказать|трудно сказать|hard to say|depends|зависит|посмотрим|не решили|не определились|tbd"
    r"|unknown|неизвестно|неясно|не ясно|unclear|как получится)(?!\w)"
)
_RESEARCH_RE: Final = re.compile(
    r"(?<!\w)(?:просто (?:изуча\w*|смотр\w*|интерес\w*|узна\w*|присматрива\w*|спрашива\w*|любопытно)"
    r"|изучаем|изучаю|присматрива\w*|собира\w* информацию|пока смотрим|мониторим|just (?:researching|looking"
    r"|browsing|curious|checking|exploring)|researching|exploring|browsing|no plans?|не планиру\w*|планов нет"
    r"|нет планов|not planning|не скоро|когда-нибудь|когда нибудь|someday|some day|one day|eventually"
    r"|в перспективе|no timeline|no deadline|нет сроков|сроков нет|без сроков)(?!\w)"
)
_NOT_URGENT_RE: Final = re.compile(
    r"(?<!\w)(?:не срочно|несрочно|не горит|не торопимся|не спешим|без спешки|no rush|not urgent|no hurry"
    r"|not in a hurry|не сейчас|not now|not right now|not yet|пока нет)(?!\w)"
)
_ASAP_RE: Final = re.compile(
    r"(?<!\w)(?:asap|срочно|срочняк|срочная|срочный|вчера|сегодня|сейчас|немедленно|сразу|как можно скорее"
    r"|как можно быстрее|как можно раньше|побыстрее|поскорее|уже|горит|now|right away|straight away"
    r"|immediately|today|urgent\w*|yesterday|as soon as possible|at once)(?!\w)"
)
_DAY_AFTER_TOMORROW_RE: Final = re.compile(r"(?<!\w)(?:послезавтра|day after tomorrow)(?!\w)")
_TOMORROW_RE: Final = re.compile(r"(?<!\w)(?:завтра|tomorrow)(?!\w)")
_SOON_RE: Final = re.compile(
    r"(?<!\w)(?:скоро|в ближайшее время|в скором времени|на днях|soon|shortly|near future"
    r"|ближайшем будущем)(?!\w)"
)


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _days(today: date, target: date) -> int:
    return max(0, min(MAX_DAYS, (target - today).days))


def _pick(mod: str | None, start: date, end: date, default_end: bool) -> date:
    if mod is None:
        return end if default_end else start
    if mod.startswith(_END_MODS):
        return end
    if mod.startswith(_START_MODS):
        return start
    return _middle(start, end)


def _middle(start: date, end: date) -> date:
    return start + (end - start) // 2


def _period(unit: str, today: date, offset: int) -> tuple[date, date]:
    if unit.startswith(("нед", "week")):
        start = today - timedelta(days=today.weekday()) + timedelta(weeks=offset)
        return start, start + timedelta(days=6)
    if unit.startswith(("мес", "month")):
        start = _add_months(today.replace(day=1), offset)
        return start, _last_day(start.year, start.month)
    if unit.startswith(("кв", "quarter")):
        index = (today.month - 1) // 3 + offset
        year, quarter = today.year + index // 4, index % 4
        return date(year, quarter * 3 + 1, 1), _last_day(year, quarter * 3 + 3)
    return date(today.year + offset, 1, 1), date(today.year + offset, 12, 31)


def _named_period(today: date, folded: str) -> int | None:
    for match in _PERIOD_RE.finditer(folded):
        mod, rel, unit = match.group("mod"), match.group("rel"), match.group("unit")
        if mod is None and rel is None:
            continue
        offset = 1 if rel is not None and rel.startswith(_NEXT_PREFIXES) else 0
        start, end = _period(unit, today, offset)
        target = _pick(mod, start, end, default_end=offset == 0)
        if mod is None and offset == 1 and unit.startswith(("год", "year")):
            target = _middle(start, end)
        if target < today and rel is None:
            start, end = _period(unit, today, offset + 1)
            target = _pick(mod, start, end, default_end=False)
        return _days(today, target)
    return None


def _span_target(today: date, start: date, end: date, mod: str | None) -> date:
    """A named span (quarter, month, season, year): its start if ahead, its end if it is under way."""
    return _pick(mod, start, end, default_end=start <= today <= end)


def _quarter(today: date, folded: str) -> int | None:
    match = _QUARTER_RE.search(folded)
    if match is None:
        return None
    digits = match.group("a") or match.group("b") or match.group("c") or match.group("d")
    word = match.group("w") or match.group("r") or ""
    quarter = int(digits) if digits else _QUARTER_WORDS[word]
    year = int(match.group("y")) if match.group("y") else today.year
    start, end = date(year, quarter * 3 - 2, 1), _last_day(year, quarter * 3)
    if match.group("y") is None and end < today:
        start, end = date(year + 1, quarter * 3 - 2, 1), _last_day(year + 1, quarter * 3)
    return _days(today, _span_target(today, start, end, match.group("mod")))


def _count_before(tokens: list[Token], folded: str, at: int, floor: int) -> tuple[float | None, int, bool]:
    """The count written before the unit word at ``at`` (not before ``floor``): (count, where it
    starts, whether any count words were there). A count that cannot be read is (None, _, True)."""
    texts = [t.text for t in tokens]
    first = at
    while first > floor and (
        tokens[first - 1].kind == NUM
        or is_number_word(texts[first - 1])
        or texts[first - 1] in _COUNT_GLUE
        or texts[first - 1] in _VAGUE_WORDS
    ):
        first -= 1
    meaningful = [w for w in texts[first:at] if w not in _COUNT_GLUE]
    if not meaningful:
        return None, at, False
    reading = read_range(tokens, find_amounts(tokens, folded, first, at), first, at)
    if reading is not None and reading != NEGATED:
        return midpoint(*reading), first, True
    if set(meaningful) <= _VAGUE_WORDS:
        return _VAGUE_COUNT, first, True
    if set(meaningful) <= _HALF_WORDS:
        return 0.5, first, True
    return None, first, True


def _count_after(tokens: list[Token], folded: str, at: int) -> tuple[float, int] | None:
    """A count written after its unit: "недели через три", "месяца 2", "неделю-две", "a month or two"."""
    j = at + 1
    if j < len(tokens) and tokens[j].text in _THROUGH:
        j += 1
    k = j
    while k < len(tokens) and (
        tokens[k].kind == NUM or is_number_word(tokens[k].text) or tokens[k].text in ("-", "или", "or")
    ):
        k += 1
    if k == j or (k < len(tokens) and tokens[k].text in _UNITS):
        return None
    reading = read_range(tokens, find_amounts(tokens, folded, j, k), j, k)
    if reading is None or reading == NEGATED:
        return None
    return midpoint(*reading) or 0.0, k


class _Segment(NamedTuple):
    months: float
    days: float
    first: int
    end: int


def _segments(tokens: list[Token], folded: str) -> list[_Segment]:
    """Every "count unit" in the text: "2 years", "3 months", "недели через три"."""
    found: list[_Segment] = []
    floor = 0
    for at, token in enumerate(tokens):
        unit_info = _UNITS.get(token.text)
        if unit_info is None:
            continue
        unit, per_word, plural = unit_info
        count, first, written = _count_before(tokens, folded, at, floor)
        end = at + 1
        after = _count_after(tokens, folded, at)
        if written and count is None:
            continue
        if after is not None and tokens[at + 1].text in _ALTERNATIVE:
            low = count if count is not None else 1.0
            count, end = (low + after[0]) / 2, after[1]  # "неделю-две", "a month or two"
        elif not written and after is not None:
            count, end = after  # "недели через три"
        elif count is None:
            count = _VAGUE_COUNT if plural else 1.0
        if unit == "year" and count >= 1900:
            continue  # "в 2027 году" names a year
        texts = [t.text for t in tokens[end : end + 3]]
        for tail in _HALF_AFTER:
            if tuple(texts[: len(tail)]) == tail:
                count += 0.5
                end += len(tail)
        amount = count * per_word
        if unit in _DAYS_PER_UNIT:
            found.append(_Segment(0.0, amount * _DAYS_PER_UNIT[unit], first, end))
        else:
            found.append(_Segment(amount * _MONTHS_PER_UNIT[unit], 0.0, first, end))
        floor = end
    return found


def _duration(today: date, folded: str) -> int | None:
    """A span from now, summed when it has several parts: "in 2 years and 3 months", "год и два месяца"."""
    tokens = tokenize(folded)
    segments = _segments(tokens, folded)
    if not segments:
        return None
    months, days = segments[0].months, segments[0].days
    for previous, segment in pairwise(segments):
        between = {t.text for t in tokens[previous.end : segment.first]}
        if not between <= _JOINS:
            break
        months += segment.months
        days += segment.days
    return _span_days(today, months, days)


def _span_days(today: date, months: float, days: float) -> int | None:
    if months > MAX_DAYS / 28:
        return None
    whole = int(months)
    total = (_add_months(today, whole) - today).days + (months - whole) * _DAYS_PER_MONTH_FRACTION + days
    if total > MAX_DAYS:
        return None
    return int(total + 0.5)


def _date(today: date, year: int | None, month: int, day: int) -> int:
    """Days to a date (its next occurrence when no year is given), or _INVALID_DATE."""
    if year is not None and year < 100:
        year += 2000
    try:
        target = date(year if year is not None else today.year, month, day)
        if year is None and target < today:
            target = date(today.year + 1, month, day)
    except ValueError:
        return _INVALID_DATE
    return _days(today, target)


def _optional_int(value: str | None) -> int | None:
    return int(value) if value else None


def _explicit_date(today: date, folded: str, locale: str) -> int | None:
    match = _ISO_DATE_RE.search(folded)
    if match:
        return _date(today, int(match.group("y")), int(match.group("m")), int(match.group("d")))
    match = _NUMERIC_DATE_RE.search(folded)
    if match:
        first, second = int(match.group("a")), int(match.group("b"))
        month_first = locale == "en" and match.group("sep") == "/"
        if (month_first and first > 12) or (not month_first and second > 12):
            month_first = not month_first
        day, month = (second, first) if month_first else (first, second)
        return _date(today, _optional_int(match.group("y")), month, day)
    for regex in (_DAY_MONTH_RE, _MONTH_DAY_RE):
        match = regex.search(folded)
        if match and (match.group("mon") != "may" or _MAY_CONTEXT_RE.search(folded)):
            return _date(
                today, _optional_int(match.group("y")), _MONTHS[match.group("mon")], int(match.group("d"))
            )
    return None


def _month(today: date, folded: str) -> int | None:
    for match in _MONTH_RE.finditer(folded):
        if match.group("mon") == "may" and not _MAY_CONTEXT_RE.search(folded):
            continue
        month = _MONTHS[match.group("mon")]
        year = int(match.group("y")) if match.group("y") else today.year
        if match.group("y") is None and _last_day(year, month) < today:
            year += 1
        start, end = date(year, month, 1), _last_day(year, month)
        return _days(today, _span_target(today, start, end, match.group("mod")))
    return None


def _year(today: date, folded: str) -> int | None:
    match = _YEAR_RE.search(folded)
    if match is None:
        return None
    year, mod = int(match.group("y")), match.group("mod")
    start, end = date(year, 1, 1), date(year, 12, 31)
    if mod is None and start > today:
        return _days(today, _middle(start, end))  # a whole year ahead: see the module docstring
    return _days(today, _span_target(today, start, end, mod))


def _season(today: date, folded: str) -> int | None:
    match = _SEASON_RE.search(folded)
    if match is None:
        return None
    first_month = _SEASON_START[match.group("s")[:3]]
    upcoming_only = _NEXT_RE.search(folded) is not None  # "next autumn" is not this one
    named = match.group("y")
    years = (int(named),) if named else (today.year - 1, today.year, today.year + 1)
    for year in years:
        start = date(year, first_month, 1)
        end = _add_months(start, 3) - timedelta(days=1)
        if named or (end >= today and not (upcoming_only and start <= today)):
            return _days(today, _span_target(today, start, end, match.group("mod")))
    return None


def _weekday(today: date, folded: str) -> int | None:
    match = _WEEKDAY_RE.search(folded)
    if match is None:
        return None
    name = match.group("wd")[:3]
    weekday = _WEEKDAYS.index(name) if name in _WEEKDAYS else _WEEKDAYS_EN.index(name)
    ahead = (weekday - today.weekday()) % 7
    if _NEXT_RE.search(folded):
        ahead += 7
    return ahead


def _phrase(folded: str) -> int | None:
    if _UNSURE_RE.search(folded):
        return None
    if _RESEARCH_RE.search(folded):
        return RESEARCHING_DAYS
    if _NOT_URGENT_RE.search(folded):
        return NOT_URGENT_DAYS
    if _DAY_AFTER_TOMORROW_RE.search(folded):
        return 2
    if _TOMORROW_RE.search(folded):
        return 1
    if _ASAP_RE.search(folded):
        return 0
    if _SOON_RE.search(folded):
        return SOON_DAYS
    return None


def parse_timeline(text: str, locale: str, now: datetime) -> int | None:
    """Days from ``now`` until the visitor means to act, or None when they don't know (or when
    ``now`` is so near the ends of the calendar that no day ahead can be counted)."""
    folded = prepare(text).strip()
    if not folded:
        return None
    if _PAST_RE.search(folded):
        folded = _PAST_RE.sub(" ", folded).strip()
        if not folded:
            return None
    today = now.date()
    if not _FIRST_YEAR <= today.year <= _LAST_YEAR:
        return None  # too near the ends of the calendar to count days ahead
    if _NEXT_YEAR_RE.search(folded):
        return _days(today, date(today.year + 1, 1, 1))
    for rule in (_named_period, _quarter, _duration):
        days = rule(today, folded)
        if days is not None:
            return days
    days = _explicit_date(today, folded, locale)
    if days is not None:
        return None if days == _INVALID_DATE else days
    for rule in (_month, _season, _year, _weekday):
        days = rule(today, folded)
        if days is not None:
            return days
    return _phrase(folded)
