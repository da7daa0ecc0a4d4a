"""Typed answers to a choice question, matched against the options' labels and synonyms.

Tried in order, on the case-folded answer (ё = е):

1. the whole answer is one option's label or synonym;
2. option numbers or ordinals: "2", "2)", "#2", "вариант 2", "второй", "the second one";
   for multi-choice also "1, 3", "1 и 3", "первый и третий", "all" / "все";
3. a label or synonym inside the answer, word by word, tolerant of Russian and English word
   endings ("аналитику" finds "аналитика"): "я директор", "crm и аналитика";
4. fuzzy matching with rapidfuzz (WRatio, cut-off 85) for typos ("аналитка").

A single choice is one option or nothing: when two options fit about equally well the answer
is ambiguous and () comes back, so the bot can ask again. For a multi-choice answer, what is left
around the labels found in step 3 is split on ",", ";", "/", "+", "и", "and", "или", "or"...
and each part matched by steps 1, 2 and 4 on its own ("crm, чат" with a "Чат-бот" option).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Final, NamedTuple

from rapidfuzz import fuzz, process

from flows.extract.text import fold, word_table

_MAX_CHARS: Final = 500
_MAX_WORDS: Final = 60
_FUZZY_CUTOFF: Final = 85.0
_FUZZY_MARGIN: Final = 5.0
_FUZZY_MIN_CHARS: Final = 3
_STEM_MIN_LEN: Final = 5
_STEM_KEEP: Final = 4
_STEM_EXTRA: Final = 3

_WORDS_RE: Final = re.compile(r"\w+")
_TOKENS_RE: Final = re.compile(r"\w+|[,;/+&]")
_PUNCTUATION: Final = frozenset(",;/+&")
_SEPARATORS: Final = _PUNCTUATION | {"и", "and", "или", "or", "also", "plus", "плюс", "также", "еще"}

_FILLER: Final = frozenset(
    word_table(
        "вариант варианта варианты номер пункт пункта ответ выбираю выбор мой наверное думаю скорее "
        "option options number no choice the one ones my i choose pick answer probably n №"
        " я й ой ий ый е го th st nd rd"  # "2-й", "я выбираю второй"
    )
)
_ALL: Final = frozenset(
    {"все", "всё", "все варианты", "все перечисленное", "всё перечисленное", "all", "all of them"}
    | {"all of the above", "everything", "всех", "все сразу", "всего понемногу", "both", "оба", "обе"}
)
_ORDINALS: Final = {
    **dict.fromkeys(word_table("первый первая первое первую первого первой first 1st"), 1),
    **dict.fromkeys(word_table("второй вторая второе вторую второго second 2nd"), 2),
    **dict.fromkeys(word_table("третий третья третье третью третьего третьей third 3rd"), 3),
    **dict.fromkeys(word_table("четвертый четвертая четвертое четвертую четвертого четвертой fourth 4th"), 4),
    **dict.fromkeys(word_table("пятый пятая пятое пятую пятого пятой fifth 5th"), 5),
    **dict.fromkeys(word_table("шестой шестая шестое шестую шестого sixth 6th"), 6),
    **dict.fromkeys(word_table("седьмой седьмая седьмое седьмую седьмого seventh 7th"), 7),
    **dict.fromkeys(word_table("восьмой восьмая восьмое восьмую восьмого eighth 8th"), 8),
    **dict.fromkeys(word_table("девятый девятая девятое девятую девятого ninth 9th"), 9),
    **dict.fromkeys(word_table("десятый десятая десятое десятую десятого tenth 10th"), 10),
}
_LAST: Final = frozenset({"последний", "последняя", "последнее", "последнюю", "last"})
_ORDINAL_SUFFIX_RE: Final = re.compile(r"(\d{1,2})(?:й|ий|ый|ой|я|е|st|nd|rd|th)?")


class _Phrase(NamedTuple):
    option: int  # index of the option in display order
    words: tuple[str, ...]
    stems: tuple[str, ...]  # a word's stem, or "" when the word must match exactly


class _Options(NamedTuple):
    ids: tuple[str, ...]
    exact: dict[str, int]  # joined words -> option index (first option wins)
    phrases: tuple[_Phrase, ...]
    texts: tuple[str, ...]  # joined words of each phrase, for fuzzy matching
    owners: tuple[int, ...]  # option index of each entry in texts


def _words(text: str) -> list[str]:
    return _WORDS_RE.findall(fold(text))[:_MAX_WORDS]


def _stem(word: str) -> str:
    if len(word) < _STEM_MIN_LEN or word.isdigit():
        return ""
    return word[: max(_STEM_KEEP, len(word) - 2)]


@lru_cache(maxsize=512)
def _prepare(candidates: tuple[tuple[str, tuple[str, ...]], ...]) -> _Options:
    exact: dict[str, int] = {}
    phrases: list[_Phrase] = []
    for index, (_, labels) in enumerate(candidates):
        for label in labels:
            words = tuple(_words(label))
            if not words:
                continue
            exact.setdefault(" ".join(words), index)
            phrases.append(_Phrase(index, words, tuple(_stem(w) for w in words)))
    return _Options(
        ids=tuple(option_id for option_id, _ in candidates),
        exact=exact,
        phrases=tuple(phrases),
        texts=tuple(" ".join(p.words) for p in phrases),
        owners=tuple(p.option for p in phrases),
    )


def _word_matches(said: str, word: str, stem: str) -> bool:
    if said == word:
        return True
    return bool(stem) and said.startswith(stem) and len(said) <= len(word) + _STEM_EXTRA


def _index(word: str, count: int) -> int | None:
    """The option index a word names ("2", "2-й", "второй", "second", "last"), or None."""
    number = _ORDINALS.get(word)
    if number is None:
        match = _ORDINAL_SUFFIX_RE.fullmatch(word)
        if match is not None:
            number = int(match.group(1))
        elif word in _LAST:
            number = count
    if number is None or not 1 <= number <= count:
        return None
    return number - 1


def _indices(words: list[str], count: int) -> list[int] | None:
    """Option indices when the words are only numbers/ordinals (and filler), else None."""
    meaningful = [w for w in words if w not in _FILLER and w not in _SEPARATORS]
    if not meaningful:
        return None
    found = [_index(w, count) for w in meaningful]
    if any(i is None for i in found):
        return None
    return [i for i in found if i is not None]


def _contained(words: list[str], options: _Options) -> tuple[set[int], set[int]]:
    """Options whose label or synonym appears in the words (a match inside a longer one is
    dropped), and the positions of the words those matches cover."""
    spans: list[tuple[int, int, int]] = []
    for phrase in options.phrases:
        size = len(phrase.words)
        for start in range(len(words) - size + 1):
            if all(_word_matches(words[start + k], phrase.words[k], phrase.stems[k]) for k in range(size)):
                spans.append((start, start + size, phrase.option))
    kept = [
        (start, end, option)
        for start, end, option in spans
        if not any(
            other != option and s <= start and end <= e and (e - s) > (end - start) for s, e, other in spans
        )
    ]
    covered = {k for start, end, _ in kept for k in range(start, end)}
    return {option for _, _, option in kept}, covered


def _fuzzy(query: str, options: _Options) -> int | None:
    if len(query) < _FUZZY_MIN_CHARS or not options.texts:
        return None
    best: dict[int, float] = {}
    for _, score, at in process.extract(
        query,
        options.texts,
        scorer=fuzz.WRatio,
        processor=None,
        score_cutoff=_FUZZY_CUTOFF,
        limit=len(options.texts),
    ):
        owner = options.owners[at]
        best[owner] = max(best.get(owner, 0.0), score)
    if not best:
        return None
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < _FUZZY_MARGIN:
        return None
    return ranked[0][0]


def _match_part(words: list[str], options: _Options) -> set[int]:
    """Options named by a part of a multi-choice answer: label, number, or a fuzzy match."""
    joined = " ".join(words)
    if joined in options.exact:
        return {options.exact[joined]}
    indices = _indices(words, len(options.ids))
    if indices is not None:
        return set(indices)
    fuzzy = _fuzzy(joined, options)
    return set() if fuzzy is None else {fuzzy}


def _leftover_parts(tokens: list[str], covered: set[int]) -> list[list[str]]:
    """Runs of words not covered by a label match, split at separators ("crm, чат" -> [["чат"]])."""
    parts: list[list[str]] = [[]]
    position = 0
    for token in tokens:
        if token in _SEPARATORS:
            parts.append([])
            continue
        if position in covered:
            parts.append([])
        else:
            parts[-1].append(token)
        position += 1
    return [part for part in parts if part and not set(part) <= _FILLER]


def match_choices(
    text: str, candidates: Sequence[tuple[str, Sequence[str]]], locale: str, *, multi: bool
) -> tuple[str, ...]:
    """The ids of the options a typed answer picks, in display order; () when none or ambiguous.

    ``candidates`` are (option_id, phrases) in display order, the phrases being that option's
    label and synonyms in the visitor's locale. Both languages' numbers and ordinals are
    understood whatever the locale.
    """
    options = _prepare(tuple((option_id, tuple(phrases)) for option_id, phrases in candidates))
    tokens = _TOKENS_RE.findall(fold(text[:_MAX_CHARS]))[:_MAX_WORDS]
    words = [t for t in tokens if t not in _PUNCTUATION]
    if not words or not options.ids:
        return ()
    joined = " ".join(words)
    if joined in options.exact:
        return (options.ids[options.exact[joined]],)
    if multi and joined in _ALL:
        return options.ids
    indices = _indices(words, len(options.ids))
    if indices is not None:
        chosen = set(indices)
    else:
        chosen, covered = _contained(words, options)
        if multi:
            for part in _leftover_parts(tokens, covered):
                chosen |= _match_part(part, options)
        elif not chosen:
            chosen = _match_part(words, options)
    if not multi and len(chosen) != 1:
        return ()
    return tuple(options.ids[i] for i in sorted(chosen))
