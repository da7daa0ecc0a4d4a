"""Junk signals in typed names and answers: keyboard mash and names typed all in lower case."""

from __future__ import annotations

import re
from typing import Final

from flows.extract.text import fold

_MAX_CHARS: Final = 500
_LETTERS_RE: Final = re.compile(r"[^\W\d_]+")
_TOKEN_RE: Final = re.compile(r"\w+")

_ROWS: Final = (
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "йцукенгшщзхъ",
    "фывапролджэ",
    "ячсмитьбю",
    "1234567890",
)
# Rows read both ways; a run of 4+ neighbouring keys is mash ("asdf", "ывап", "uiop").
_ROW_TEXT: Final = " ".join(_ROWS + tuple(row[::-1] for row in _ROWS))
_ROW_RUN: Final = 4
# Home and bottom rows of the English layout hold one vowel between them: a long word
# typed only on them is mash ("asdfgjkl", "hjkhjk"); the Russian rows hold real words.
_MASH_ROWS: Final = (frozenset("asdfghjkl"), frozenset("zxcvbnm"), frozenset("asdfghjklzxcvbnm"))
_MASH_ROW_MIN: Final = 6
_MASH_ROW_VOWEL_SHARE: Final = 0.25

_VOWELS: Final = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿąęėįųūœаеиоуыэюяёіїєө")
_CONSONANT_RUN: Final = 6  # "Mkrtchyan", "Knightsbridge" have six
_VOWELLESS_MIN: Final = 5
_SAME_LETTER_RUN_RE: Final = re.compile(r"(\w)\1{3,}")  # "аааа", "zzzz"
_REPEATED_UNIT_RE: Final = re.compile(r"(\w{2,3})\1{2,}")  # "hahaha", "абабаб" (three times)
_DOUBLED_RE: Final = re.compile(r"(\w{3,})\1")  # "фывфыв", "лвоарлвоар" (twice)
_DOUBLED_MIN_UNIT: Final = 4
_MIN_WORD: Final = 4
_JUNK_SHARE: Final = 0.5


def _row_run(word: str) -> bool:
    return any(word[k : k + _ROW_RUN] in _ROW_TEXT for k in range(len(word) - _ROW_RUN + 1))


def _consonant_run(word: str) -> int:
    longest = run = 0
    for char in word:
        run = 0 if char in _VOWELS else run + 1
        longest = max(longest, run)
    return longest


def _vowel_share(word: str) -> float:
    return sum(c in _VOWELS for c in word) / len(word)


def _repeats(word: str) -> bool:
    """One letter held down, a syllable typed three times, or a chunk typed twice."""
    if _SAME_LETTER_RUN_RE.search(word) or _REPEATED_UNIT_RE.search(word):
        return True
    doubled = _DOUBLED_RE.search(word)
    if doubled is None:
        return False
    unit = doubled.group(1)
    return len(unit) >= _DOUBLED_MIN_UNIT or unit in _ROW_TEXT


def _is_mash(word: str) -> bool:
    if len(word) < _MIN_WORD:
        return False
    if _repeats(word) or _row_run(word):
        return True
    if (
        len(word) >= _MASH_ROW_MIN
        and any(set(word) <= row for row in _MASH_ROWS)
        and _vowel_share(word) < _MASH_ROW_VOWEL_SHARE
    ):
        return True
    if len(word) >= _VOWELLESS_MIN and not any(c in _VOWELS for c in word):
        return True
    return _consonant_run(word) > _CONSONANT_RUN


def looks_gibberish(text: str) -> bool:
    """Whether an answer looks like keyboard mash rather than words.

    Words of four or more letters are checked for runs of neighbouring keys ("asdf",
    "ывапр", "qwerty123"), one letter held down ("ааааа"), a repeated chunk ("фывфыв", "hahaha"),
    English home/bottom-row-only words, long words without a vowel and seven or more
    consonants in a row. The answer is gibberish when such words hold at least half of its
    letters. Short answers ("да", "IBM", "CEO") and answers without letters never are.
    """
    folded = fold(text[:_MAX_CHARS])
    squeezed = "".join(_LETTERS_RE.findall(folded))
    if len(squeezed) >= _MASH_ROW_MIN and _repeats(squeezed):
        return True  # "asd asd asd"
    total = junk = 0
    for token in _TOKEN_RE.findall(folded):
        letters = "".join(_LETTERS_RE.findall(token))
        if not letters:
            continue
        total += len(letters)
        if _is_mash(token) or _is_mash(letters):
            junk += len(letters)
    return total > 0 and junk >= total * _JUNK_SHARE


def is_lowercase_name(text: str) -> bool:
    """Whether a name was typed all in lower case ("иван петров"); False when it has no letters."""
    return any(c.isalpha() for c in text) and text == text.lower() and text != text.upper()
