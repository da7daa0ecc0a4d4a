"""The words Qualibot says itself, in Russian and English, and a flow's texts in one locale.

Flows bring their own texts (questions, labels, closings); around them the engine adds hints
for a missed answer and short notices, and the score breakdown adds its words. All of them are
looked up once per loaded flow and locale (:func:`locale_texts`, called by
``flows.compiled.compile_flow``), so a turn reads plain attributes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flows.commands import BUTTON_PREFIX, LABELS
from flows.extract import ChoiceOption
from flows.model import Button
from flows.spec import BANDED_KINDS, Band, FlowSpec, Question, QuestionKind, tr

BAND_PREFIX = "band:"

HINTS: dict[QuestionKind, dict[str, str]] = {
    QuestionKind.CHOICE: {
        "en": "Pick an option with a button or type it in your own words.",
        "ru": "Выберите вариант кнопкой или напишите его своими словами.",
    },
    QuestionKind.MULTI_CHOICE: {
        "en": "Pick one or more options with the buttons or type them, separated by commas.",
        "ru": "Выберите один или несколько вариантов кнопками или напишите их через запятую.",
    },
    QuestionKind.YES_NO: {"en": "Please answer yes or no.", "ru": "Ответьте, пожалуйста, «да» или «нет»."},
    QuestionKind.NUMBER: {
        "en": 'Type a number, e.g. "50" or "about 200".',
        "ru": "Напишите число, например «50» или «около 200».",
    },
    QuestionKind.MONEY: {
        "en": 'Type an amount, e.g. "500k" or "$20,000".',
        "ru": "Напишите сумму, например «500 тысяч» или «2 млн руб».",
    },
    QuestionKind.TIMELINE: {
        "en": 'Type a timeframe, e.g. "in 2 months" or "next quarter".',
        "ru": "Напишите срок, например «через 2 месяца» или «в следующем квартале».",
    },
    QuestionKind.EMAIL: {
        "en": "Type an e-mail address, e.g. name@company.com.",
        "ru": "Напишите адрес почты, например name@company.ru.",
    },
    QuestionKind.PHONE: {
        "en": "Type a phone number with the country code, e.g. +1 415 555 0100.",
        "ru": "Напишите номер телефона, например +7 999 123-45-67.",
    },
    QuestionKind.NAME: {
        "en": 'Type your name, e.g. "Anna".',
        "ru": "Напишите, как к вам обращаться, например «Анна».",
    },
    QuestionKind.COMPANY: {"en": "Type the name of your company.", "ru": "Напишите название компании."},
    QuestionKind.TEXT: {"en": "Type your answer in your own words.", "ru": "Напишите ответ своими словами."},
}

YES_NO: dict[str, dict[str, str]] = {"yes": {"en": "Yes", "ru": "Да"}, "no": {"en": "No", "ru": "Нет"}}

NOTICES: dict[str, dict[str, str]] = {
    "needed": {
        "en": "This question can't be skipped: the answer is needed to continue.",
        "ru": "Этот вопрос пропустить нельзя: без ответа не получится продолжить.",
    },
    "first": {"en": "This is the first question.", "ru": "Это первый вопрос."},
    "stale": {
        "en": "That question has already been answered, so nothing changed. Here is where we are:",
        "ru": "На этот вопрос уже есть ответ, ничего не изменилось. Продолжим отсюда:",
    },
    # A choice that fits two options about equally well: which one?
    "clarify": {
        "en": "Just to be sure: «{first}» or «{second}»?",
        "ru": "Уточните, пожалуйста: «{first}» или «{second}»?",
    },
    # An amount in a currency the flow has no exchange rate for.
    "currency": {
        "en": "I can't convert {code} here: please give the amount in {flow}.",
        "ru": "Не могу пересчитать {code}: напишите, пожалуйста, сумму в {flow}.",
    },
    # "нет" right after an answer was repeated back: that question again.
    "fixing": {"en": "OK, let's fix that.", "ru": "Хорошо, давайте поправим."},
}

# The flow's currency as the "currency" notice names it ("сумму в рублях").
CURRENCY_IN: dict[str, dict[str, str]] = {
    "RUB": {"en": "roubles", "ru": "рублях"},
    "USD": {"en": "dollars", "ru": "долларах"},
    "EUR": {"en": "euros", "ru": "евро"},
    "GBP": {"en": "pounds", "ru": "фунтах"},
}

# What an empty answer field shows, by the kind of question.
PLACEHOLDERS: dict[QuestionKind, dict[str, str]] = {
    QuestionKind.CHOICE: {"en": "Or type your answer", "ru": "Или напишите свой вариант"},
    QuestionKind.MULTI_CHOICE: {
        "en": "Or type them, separated by commas",
        "ru": "Или перечислите через запятую",
    },
    QuestionKind.YES_NO: {"en": "Yes or no", "ru": "Да или нет"},
    QuestionKind.NUMBER: {"en": "e.g. 50", "ru": "Например, 50"},
    QuestionKind.MONEY: {"en": "e.g. $20,000", "ru": "Например, 500 тысяч"},
    QuestionKind.TIMELINE: {"en": "e.g. in 2 months", "ru": "Например, через 2 месяца"},
    QuestionKind.EMAIL: {"en": "name@company.com", "ru": "name@company.ru"},
    QuestionKind.PHONE: {"en": "+1 415 555 0100", "ru": "+7 999 123-45-67"},
    QuestionKind.NAME: {"en": "Your name", "ru": "Ваше имя"},
    QuestionKind.COMPANY: {"en": "Company name", "ru": "Название компании"},
    QuestionKind.TEXT: {"en": "Your answer", "ru": "Ваш ответ"},
}

BREAKDOWN: dict[str, dict[str, str]] = {
    "of": {"en": "of", "ru": "из"},
    "not_understood": {"en": "answer not understood", "ru": "ответ не понят"},
    "skipped": {"en": "skipped", "ru": "пропущено"},
    "no_band": {"en": "outside every range", "ru": "вне всех диапазонов"},
    "from": {"en": "from {}", "ru": "от {}"},
    "under": {"en": "under {}", "ru": "до {}"},
    "between": {"en": "{}–{}", "ru": "от {} до {}"},
    "days": {"en": "{} days", "ru": "{} дн."},
    "sql": {"en": "SQL", "ru": "SQL"},
    "mql": {"en": "MQL", "ru": "MQL"},
    "nurture": {"en": "Nurture", "ru": "Прогрев"},
    "disqualified": {"en": "Disqualified", "ru": "Отсеян"},
    "points": {"en": "{} points", "ru": "{} баллов"},
    "points_one": {"en": "{} point", "ru": "{} балл"},
    "points_few": {"en": "{} points", "ru": "{} балла"},
    "below_mql": {"en": "MQL from {}", "ru": "MQL от {}"},
    "hand_mql": {"en": "below {} but asked to be contacted", "ru": "ниже {}, но просит связаться"},
    "held": {"en": "held back by {}", "ru": "из-за ответа {}"},
    "held_hand": {
        "en": "held back by {} but asked to be contacted",
        "ru": "из-за ответа {} был бы прогрев, но просит связаться",
    },
    "held_rule": {"en": "held back by nurture_if", "ru": "по условию nurture_if"},
    "held_hand_rule": {
        "en": "held back by nurture_if but asked to be contacted",
        "ru": "по условию nurture_if был бы прогрев, но просит связаться",
    },
    "no_contact": {"en": "no e-mail or phone", "ru": "нет e-mail и телефона"},
    "confirmed": {"en": "{} of {} confirmed", "ru": "подтверждено {} из {}"},
    "yes": {"en": "Yes", "ru": "Да"},
    "no": {"en": "No", "ru": "Нет"},
    "cap_high": {"en": "{title}: capped at {limit} points", "ru": "{title}: не больше {limit} баллов"},
    "cap_low": {"en": "{title}: no less than {limit} points", "ru": "{title}: не меньше {limit} баллов"},
    "fit": {"en": "Fit", "ru": "Соответствие"},
    "engagement": {"en": "Engagement", "ru": "Вовлечённость"},
    "total": {"en": "Total score", "ru": "Итоговый балл"},
    "lowercase_name": {"en": "Name typed all in lowercase", "ru": "Имя написано строчными буквами"},
    "free_email": {"en": "E-mail on a free domain", "ru": "E-mail на бесплатном домене"},
    "disposable_email": {"en": "E-mail on a disposable domain", "ru": "Одноразовый e-mail"},
    "gibberish": {"en": "Looks like gibberish", "ru": "Похоже на бессмыслицу"},
}

# A contact question's line in the breakdown is titled by its kind.
KIND_TITLES: dict[QuestionKind, dict[str, str]] = {
    QuestionKind.EMAIL: {"en": "E-mail", "ru": "E-mail"},
    QuestionKind.PHONE: {"en": "Phone", "ru": "Телефон"},
    QuestionKind.NAME: {"en": "Name", "ru": "Имя"},
    QuestionKind.COMPANY: {"en": "Company", "ru": "Компания"},
}

MAX_TITLE = 60


_SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€", "GBP": "£"}
_PREFIXED = frozenset({"USD", "EUR", "GBP"})  # "$20,000" in English; "20 000 $" in Russian


def amount_words(value: float, currency: str, locale: str) -> str:
    """An amount as people write it: ``300 000 ₽`` in Russian; ``$20,000`` and ``300,000 RUB`` in
    English (a symbol before the number, else the code after it); ``5 000 CHF``."""
    number = format_number(value, locale)
    if locale != "ru" and currency in _PREFIXED:
        return f"{_SYMBOLS[currency]}{number}"
    symbol = _SYMBOLS.get(currency, currency) if locale == "ru" else currency
    return f"{number} {symbol}"


def format_number(value: float, locale: str) -> str:
    """``2000000`` -> ``2 000 000`` (ru) or ``2,000,000`` (en); up to two decimals."""
    if not math.isfinite(value):
        return str(value)
    rounded = round(value, 2)
    text = f"{rounded:,.0f}" if rounded == int(rounded) else f"{rounded:,.2f}".rstrip("0")
    if locale == "ru":
        return text.replace(",", " ").replace(".", ",")
    return text


@dataclass(frozen=True, slots=True)
class QuestionTexts:
    """One question in one locale: what is shown (the text, the hint for a missed answer, the
    placeholder of an empty answer field, the buttons), and what typed text is matched against.

    ``labels`` maps option ids to labels (a yes/no question without labels gets "Yes"/"No");
    ``band_labels`` holds each band's label or None; ``choices`` and ``band_choices`` are the
    options as ``flows.extract`` reads typed text against them: an option's label and synonyms
    in this locale, those of the flow's other locales as a fallback, knock-outs and hand-raises
    strict; a labelled band named by its index."""

    text: str
    hint: str
    placeholder: str
    buttons: tuple[Button, ...]
    labels: Mapping[str, str]
    band_labels: tuple[str | None, ...]
    choices: tuple[ChoiceOption, ...]
    band_choices: tuple[ChoiceOption, ...]


@dataclass(frozen=True, slots=True)
class BreakdownTexts:
    """The score breakdown's words in one locale: the fixed words (see ``BREAKDOWN``), each
    dimension's and question's title, each question's "of N", the words of its bands, how its
    numbers are written (``units``: "{} дн.", "{} ₽", "{}"), and each engagement signal's reason
    (in spec order)."""

    words: Mapping[str, str]
    dimensions: Mapping[str, str]
    titles: Mapping[str, str]
    out_of: Mapping[str, str]
    bands: Mapping[str, tuple[str, ...]]
    units: Mapping[str, str]
    signals: tuple[str, ...]
    quotes: tuple[str, str]


@dataclass(frozen=True, slots=True)
class LocaleTexts:
    """Every text of a flow in one locale; ``consent`` is the notice shown before the first
    contact question, its link filled in (empty when the flow has none)."""

    locale: str
    greeting: str
    questions: Mapping[str, QuestionTexts]
    knockouts: Mapping[str, str]
    closings: tuple[str, ...]
    needed: str
    first: str
    stale: str
    clarify: str
    currency: str
    fixing: str
    breakdown: BreakdownTexts
    consent: str = ""


def _buttons(question: Question, locale: str) -> tuple[Button, ...]:
    kind = question.kind
    if kind is QuestionKind.YES_NO:
        labels = {o.id: tr(o.label, locale) for o in question.options}
        found = [Button(i, labels.get(i) or tr(YES_NO[i], locale)) for i in ("yes", "no")]
    elif kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE):
        found = [Button(o.id, tr(o.label, locale)) for o in question.options if not o.hidden]
    elif kind in BANDED_KINDS:
        found = [
            Button(f"{BAND_PREFIX}{i}", tr(b.label, locale))
            for i, b in enumerate(question.bands)
            if b.label is not None
        ]
    else:
        found = []
    if not question.required and kind is not QuestionKind.MULTI_CHOICE:
        found.append(Button(f"{BUTTON_PREFIX}skip", tr(LABELS["skip"], locale)))
    return tuple(found)


def _phrases(label: Mapping[str, str], synonyms: Mapping[str, Sequence[str]], locale: str) -> tuple[str, ...]:
    """A label and its synonyms in one locale (the any-locale label counts too)."""
    shown = label.get(locale) or label.get("*")
    return (*([shown] if shown else []), *synonyms.get(locale, ()))


def _choices(question: Question, locale: str, others: Sequence[str]) -> tuple[ChoiceOption, ...]:
    return tuple(
        ChoiceOption(
            option.id,
            _phrases(option.label, option.synonyms, locale),
            tuple(p for other in others for p in _phrases(option.label, option.synonyms, other)),
            strict=option.knockout is not None or option.hand_raise,
        )
        for option in question.options
    )


def _band_choices(question: Question, locale: str, others: Sequence[str]) -> tuple[ChoiceOption, ...]:
    return tuple(
        ChoiceOption(str(i), (tr(b.label, locale),), tuple(tr(b.label, other) for other in others))
        for i, b in enumerate(question.bands)
        if b.label is not None
    )


def question_texts(question: Question, locale: str, others: Sequence[str] = ()) -> QuestionTexts:
    """One question's texts in ``locale``; ``others`` are the flow's other locales, whose words a
    typed answer may use too."""
    labels = {o.id: tr(o.label, locale) for o in question.options}
    if question.kind is QuestionKind.YES_NO:
        labels = {i: labels.get(i) or tr(YES_NO[i], locale) for i in ("yes", "no")}
    hint = question.hint if question.hint is not None else HINTS[question.kind]
    return QuestionTexts(
        text=tr(question.text, locale),
        hint=tr(hint, locale),
        placeholder=tr(PLACEHOLDERS[question.kind], locale),
        buttons=_buttons(question, locale),
        labels=labels,
        band_labels=tuple(None if b.label is None else tr(b.label, locale) for b in question.bands),
        choices=_choices(question, locale, others),
        band_choices=_band_choices(question, locale, others),
    )


def _title(spec: FlowSpec, question: Question, locale: str) -> str:
    if question.dimension is not None and question.dimension in spec.dimension_by_id:
        return tr(spec.dimension_by_id[question.dimension].title, locale)
    if question.kind in KIND_TITLES:
        return tr(KIND_TITLES[question.kind], locale)
    text = tr(question.text, locale)
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"


def _unit(spec: FlowSpec, question: Question, locale: str) -> str:
    """How a number of this question is written: ``{}`` stands for the number ("{} дн.")."""
    if question.kind is QuestionKind.MONEY:
        return amount_words(0, spec.currency, locale).replace(format_number(0, locale), "{}", 1)
    return tr(BREAKDOWN["days"], locale) if question.kind is QuestionKind.TIMELINE else "{}"


def _band_words(band: Band, unit: str, words: Mapping[str, str], locale: str) -> str:
    """A band as a rep reads it: its label, else its range ("от 300 000 до 1 000 000 ₽",
    "до 31 дн.", "50–200")."""
    if band.label is not None:
        return tr(band.label, locale)
    low = None if band.min is None else format_number(band.min, locale)
    high = None if band.max is None else format_number(band.max, locale)
    if low is not None and high is not None:
        return unit.format(words["between"].format(low, high))
    if low is not None:
        return words["from"].format(unit.format(low))
    if high is not None:
        return words["under"].format(unit.format(high))
    return unit.format("…")


def breakdown_texts(spec: FlowSpec, locale: str) -> BreakdownTexts:
    words = {key: tr(text, locale) for key, text in BREAKDOWN.items()}
    units = {q.id: _unit(spec, q, locale) for q in spec.questions}
    return BreakdownTexts(
        words=words,
        dimensions={d.id: tr(d.title, locale) for d in spec.dimensions},
        titles={q.id: _title(spec, q, locale) for q in spec.questions},
        out_of={q.id: f"{words['of']} {q.max_points}" for q in spec.questions},
        bands={
            q.id: tuple(_band_words(b, units[q.id], words, locale) for b in q.bands) for q in spec.questions
        },
        units=units,
        signals=tuple(tr(s.reason, locale) for s in spec.engagement),
        quotes=("«", "»") if locale == "ru" else ('"', '"'),
    )


def locale_texts(spec: FlowSpec, locale: str) -> LocaleTexts:
    """Every text of ``spec`` in ``locale`` (a locale the flow lacks falls back as ``tr`` does)."""
    others = [other for other in spec.locales if other != locale]
    notice = {key: tr(text, locale) for key, text in NOTICES.items()}
    return LocaleTexts(
        locale=locale,
        greeting=tr(spec.greeting, locale),
        questions={q.id: question_texts(q, locale, others) for q in spec.questions},
        knockouts={k.reason: tr(k.text, locale) for k in spec.knockouts},
        closings=tuple(tr(c.text, locale) for c in spec.closings),
        needed=notice["needed"],
        first=notice["first"],
        stale=notice["stale"],
        clarify=notice["clarify"],
        currency=notice["currency"].replace(
            "{flow}", tr(CURRENCY_IN.get(spec.currency, {"*": spec.currency}), locale)
        ),
        fixing=notice["fixing"],
        breakdown=breakdown_texts(spec, locale),
        consent=tr(spec.consent.text, locale).replace("{link}", spec.consent.link) if spec.consent else "",
    )
