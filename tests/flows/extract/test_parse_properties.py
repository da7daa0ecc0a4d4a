"""Property tests: no input string makes flows.extract raise, and the results keep their shape."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.extract import (
    KINDS,
    ChoiceOption,
    choice_options,
    clean_text,
    email_flags,
    is_lowercase_name,
    looks_gibberish,
    match_choices,
    parse,
    parse_email,
    parse_money,
    parse_number,
    parse_phone,
    parse_timeline,
    parse_yes_no,
    read,
    read_choice,
    read_yes_no,
)

NOW = datetime(2026, 11, 23, tzinfo=UTC)
OPTIONS = [("crm", ["CRM", "црм"]), ("analytics", ["Аналитика", "отчёты"]), ("all", ["Все"])]
ROLES = (
    ChoiceOption("owner", ("Собственник / CEO", "я директор", "владелец", "founder")),
    ChoiceOption("head", ("Руководитель направления", "директор по продажам", "head of sales")),
    ChoiceOption("staff", ("Специалист / менеджер", "менеджер", "manager")),
    ChoiceOption("student", ("Студент", "учусь", "student"), strict=True),
    ChoiceOption("demo", ("Хочу демо", "позвоните мне", "call me"), strict=True),
)
PARSE_OPTIONS = [{"id": o.id, "phrases": list(o.phrases), "knockout": o.strict} for o in ROLES]

# Pieces that exercise the parsers' own paths, glued together at random.
PIECES = st.sampled_from(
    [
        *"0123456789 ,.-+/$€₽£<>&;#@%~",
        *"kKmMтрк",
        "тыс", "млн", "млрд", "руб", "долларов", "до", "от", "и", "and", "to", "a", "half", "пол",
        "с половиной", "полтора", "два", "двадцать", "hundred", "dozen", "q", "кв", "квартал", "года",
        "месяц", "недели", "через", "next", "end of", "конце", "марта", "may", "15.03", "2027",
        "да", "нет", "не", "знаю", "yes", "no", "not", "@", "gmail.com", "+7", "8 (916)",
        "<script>", "</script>", "<!--", "&lt;", "&amp;", "<b>", "\u200d", "\u200b", "\x00", "\ud800",
        "😀", "👨", "ё", "Ё", "\n", "\t", "\u00a0",
        "тыщ", "кк", "½", "1/2", "-ти", "-х", "назад", "ago", "last", "без ограничений", "no limit",
        "директор", "по", "маркетингу", "не надо", "демо", "студент", "наверное", "вряд ли", "or two",
        "сотни", "несколько", "figures", "mid", "минус", "(пять)", "с лишним", "лям", "зовут", "меня",
    ]
)  # fmt: skip
TEXTS = st.one_of(st.text(max_size=200), st.lists(PIECES, max_size=40).map("".join))
LONG_TEXTS = st.one_of(
    st.text(min_size=5000, max_size=10_000),
    st.lists(PIECES, min_size=1500, max_size=3000).map("".join),
)
LOCALES = st.sampled_from(["ru", "en", "de", ""])
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXTS, LOCALES)
def test_parse_never_raises_and_is_json_ready(text: str, locale: str) -> None:
    for kind in KINDS:
        result = parse(kind, text, locale, NOW, options=PARSE_OPTIONS)
        assert isinstance(result["understood"], bool)
        encoded = json.dumps(result, ensure_ascii=False, allow_nan=False)
        encoded.encode("utf-8")


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(LONG_TEXTS, LOCALES)
def test_long_answers_are_handled(text: str, locale: str) -> None:
    for kind in KINDS:
        assert isinstance(parse(kind, text, locale, NOW)["understood"], bool)
    match_choices(text, OPTIONS, locale, multi=True)
    assert len(clean_text(text)) <= 2000


@SETTINGS
@given(TEXTS, LOCALES)
def test_money_is_ordered_and_finite(text: str, locale: str) -> None:
    money = parse_money(text, locale)
    if money is None:
        return
    ends = [v for v in (money.min, money.max) if v is not None]
    assert bool(ends) != money.unlimited
    assert all(math.isfinite(v) and v >= 0 for v in ends)
    if money.min is not None and money.max is not None:
        assert money.min <= money.max
    assert money.currency is None or (len(money.currency) == 3 and money.currency.isupper())


@SETTINGS
@given(TEXTS, LOCALES)
def test_number_timeline_yes_no(text: str, locale: str) -> None:
    number = parse_number(text, locale)
    assert number is None or (math.isfinite(number) and number >= 0)
    days = parse_timeline(text, locale, NOW)
    assert days is None or 0 <= days <= 36_500
    assert parse_yes_no(text, locale) in (True, False, None)
    said, certain = read_yes_no(text)
    assert said == parse_yes_no(text, locale)
    assert not certain or said is not None


@SETTINGS
@given(TEXTS, LOCALES)
def test_contacts(text: str, locale: str) -> None:
    phone = parse_phone(text, locale)
    assert phone is None or (phone.startswith("+") and phone[1:].isdigit())
    email = parse_email(text)
    assert email is None or ("@" in email and email == email.lower() and email.strip() == email)
    free, disposable = email_flags(text)
    assert isinstance(free, bool)
    assert isinstance(disposable, bool)


@SETTINGS
@given(TEXTS, st.integers(min_value=-5, max_value=3000))
def test_clean_text_is_clean(text: str, max_len: int) -> None:
    cleaned = clean_text(text, max_len)
    assert len(cleaned) <= max(max_len, 0)
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert not any(c in cleaned for c in "\x00\u200b\ufeff\n\t")
    assert not any("\ud800" <= c <= "\udfff" for c in cleaned)
    assert "<script" not in cleaned.lower()
    assert clean_text(cleaned, max_len) == cleaned
    looks_gibberish(text)
    is_lowercase_name(text)


@SETTINGS
@given(TEXTS, st.booleans())
def test_match_choices_returns_known_ids_in_order(text: str, multi: bool) -> None:
    ids = match_choices(text, OPTIONS, "ru", multi=multi)
    order = [option_id for option_id, _ in OPTIONS]
    assert list(ids) == sorted(ids, key=order.index)
    assert len(set(ids)) == len(ids)
    if not multi:
        assert len(ids) <= 1


@SETTINGS
@given(TEXTS, st.booleans())
def test_read_choice_picks_or_asks_but_never_both(text: str, multi: bool) -> None:
    reading = read_choice(text, ROLES, multi=multi)
    order = [o.id for o in ROLES]
    assert list(reading.ids) == sorted(reading.ids, key=order.index)
    assert len(set(reading.ids)) == len(reading.ids)
    if not multi:
        assert len(reading.ids) <= 1
    assert len(reading.clarify) in (0, 2)
    if reading.clarify:
        assert not multi
        assert not reading.ids
        assert not {"student", "demo"} & set(reading.clarify)
        assert set(reading.clarify) <= set(order)
    if not reading.certain:
        assert not {"student", "demo"} & set(reading.ids)


@SETTINGS
@given(TEXTS, st.sampled_from(KINDS))
def test_what_is_understood_never_depends_on_the_detail_asked_for(text: str, kind: str) -> None:
    options = choice_options(PARSE_OPTIONS)
    brief = read(kind, clean_text(text), "ru", NOW, options)
    full = read(kind, clean_text(text), "ru", NOW, options, detail=True)
    assert (brief.understood, brief.value, brief.clarify, brief.certain) == (
        full.understood,
        full.value,
        full.clarify,
        full.certain,
    )
