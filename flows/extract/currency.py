"""Currency words and symbols (ru, en) mapped to ISO 4217 codes."""

from __future__ import annotations

from typing import Final

_WORDS: Final[dict[str, str]] = {
    "RUB": (
        "руб тр рубль рубля рублей рублю рублям рублями рублях рублик рубликов р rub rur rouble roubles "
        "ruble rubles ₽ деревянных"
    ),
    "USD": (
        "usd доллар доллара долларов долларам долларами долларах долл дол бакс бакса баксов баксах "
        "баксы баксиков бакинских бакинские зеленых зелени зеленью зелененьких уе юсд dollar dollars buck "
        "bucks $"
    ),
    "EUR": "eur евро евриков еврики euro euros €",
    "GBP": "gbp фунт фунта фунтов pound pounds quid £",
    "KZT": "kzt тенге tenge ₸",
    "UAH": "uah гривна гривны гривен гривну грн hryvnia ₴",
    "BYN": "byn byr",
    "CNY": "cny rmb юань юаня юаней юанях yuan renminbi",
    "JPY": "jpy иена иен иены йен yen ¥",
    "CHF": "chf франк франка франков франках franc francs",
    "INR": "inr рупия рупий rupee rupees ₹",
    "TRY": "лира лиры лир lira ₺",
    "KRW": "krw ₩",
    "GEL": "gel лари lari ₾",
    "AZN": "azn манат маната манатов manat ₼",
    "AMD": "amd драмов dram",
    "UZS": "uzs сум сумов",
    "KGS": "kgs сом сома сомов",
    "AED": "aed дирхам дирхама дирхамов dirham dirhams",
    "PLN": "pln злотый злотых zloty",
    "CAD": "cad",
    "AUD": "aud",
}

CURRENCY_BY_WORD: Final[dict[str, str]] = {
    word: code for code, words in _WORDS.items() for word in words.split()
}
"""Folded word or symbol -> ISO 4217 code."""

ROUBLE_WORDS: Final = frozenset(_WORDS["RUB"].split())

# "бел. руб.", "белорусских рублей": the rouble word then means BYN.
BELARUSIAN_PREFIXES: Final = frozenset({"бел", "белорусский", "белорусских", "белорусского", "belarusian"})
