"""Junk signals in typed names and answers: keyboard mash and names typed all in lower case."""

from __future__ import annotations

import re
from typing import Final

from flows.extract.text import fold

_MAX_CHARS: Final = 500
_LETTERS_RE: Final = re.compile(r"[^\W\d_]+")
_TOKEN_RE: Final = re.compile(r"\w+")

_ROWS: Final = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю")
_ROW_RUN: Final = 4
# Home and bottom rows of the English layout hold one vowel between them: a long word
# typed only on them is mash ("asdfgjkl", "hjkhjk"); the Russian rows hold real words.
_MASH_ROWS: Final = (frozenset("asdfghjkl"), frozenset("zxcvbnm"), frozenset("asdfghjklzxcvbnm"))
_MASH_ROW_MIN: Final = 6
_MASH_ROW_VOWEL_SHARE: Final = 0.25

_VOWELS: Final = "aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿąęėįųūœаеиоуыэюяёіїєө"
_VOWEL_RE: Final = re.compile(f"[{_VOWELS}]")
_CONSONANT_RUN: Final = 7  # "Mkrtchyan" and "Knightsbridge" have six
_VOWELLESS_MIN: Final = 5
_MIN_WORD: Final = 4
_MAX_WORD: Final = 40
_JUNK_SHARE: Final = 0.5
_SQUEEZED_MAX: Final = 40

# Runs of four neighbouring keys, either way along a row ("asdf", "ывап", "poiu").
_ROW_GRAMS: Final = frozenset(
    row[k : k + _ROW_RUN]
    for row in _ROWS + tuple(r[::-1] for r in _ROWS)
    for k in range(len(row) - _ROW_RUN + 1)
)
_REPEAT: Final = (
    r"(\w)\1{3,}"  # one key held down: "аааа", "zzzz"
    r"|(\w{2,3})\2{2,}"  # a syllable three times: "hahaha", "абабаб"
)
_REPEAT_RE: Final = re.compile(_REPEAT)
_MASH_RE: Final = re.compile(
    _REPEAT + rf"|[^{_VOWELS}]{{{_CONSONANT_RUN},}}"  # a long consonant run (words here are letters only)
)
_DOUBLED_RE: Final = re.compile(r"(\w{3,})\1")  # a chunk typed twice: "фывфыв", "лвоарлвоар"
_DOUBLED_MIN_UNIT: Final = 4
_ROW_TEXT: Final = " ".join(_ROWS)


def _doubled(letters: str) -> bool:
    match = _DOUBLED_RE.search(letters[:_MAX_WORD])
    if match is None:
        return False
    unit = match.group(1)
    return len(unit) >= _DOUBLED_MIN_UNIT or unit in _ROW_TEXT or unit[::-1] in _ROW_TEXT


def _is_mash(letters: str) -> bool:
    size = len(letters)
    if size < _MIN_WORD:
        return False
    if _MASH_RE.search(letters) or _doubled(letters):
        return True
    if any(letters[k : k + _ROW_RUN] in _ROW_GRAMS for k in range(min(size, _MAX_WORD) - _ROW_RUN + 1)):
        return True
    vowels = len(_VOWEL_RE.findall(letters))
    if size >= _VOWELLESS_MIN and not vowels:
        return True
    return (
        size >= _MASH_ROW_MIN
        and vowels < size * _MASH_ROW_VOWEL_SHARE
        and any(set(letters) <= row for row in _MASH_ROWS)
    )


def looks_gibberish(text: str) -> bool:
    """Whether an answer looks like keyboard mash rather than words.

    Words of four or more letters are checked for runs of neighbouring keys ("asdf",
    "ывапр", "qwerty123"), one letter held down ("ааааа"), a repeated chunk ("фывфыв", "hahaha"),
    English home/bottom-row-only words, long words without a vowel and seven or more
    consonants in a row. A short answer typed with spaces is also checked as one word
    ("asd asd asd"). The answer is gibberish when such words hold at least half of its
    letters. Short answers ("да", "IBM", "CEO") and answers without letters never are.
    """
    folded = fold(text[:_MAX_CHARS])
    total = junk = 0
    for token in _TOKEN_RE.findall(folded):
        letters = "".join(_LETTERS_RE.findall(token)) if not token.isalpha() else token
        if not letters:
            continue
        total += len(letters)
        if _is_mash(letters):
            junk += len(letters)
    if total and junk >= total * _JUNK_SHARE:
        return True
    # Short mash typed with spaces: "asd asd asd", "ха ха ха ха".
    squeezed = "".join(_LETTERS_RE.findall(folded))
    return _MASH_ROW_MIN <= len(squeezed) <= _SQUEEZED_MAX and (
        _REPEAT_RE.search(squeezed) is not None or _doubled(squeezed)
    )


def is_lowercase_name(text: str) -> bool:
    """Whether a name was typed all in lower case ("иван петров"); False when it has no letters."""
    return any(c.isalpha() for c in text) and text == text.lower() and text != text.upper()
