"""Typed answers to a choice question, matched against the options' labels and synonyms.

Tried in order, on the case-folded answer (ё = е):

1. the whole answer is one option's label or synonym;
2. option numbers or ordinals: "2", "2)", "#2", "вариант 2", "второй", "the second one";
   for multi-choice also "1, 3", "1 и 3", "первый и третий", "all" / "все";
3. for a question about someone's role (at least two option labels are job titles of
   different levels, see ``flows.extract.roles``), the job title in the answer by its head word
   and seniority: «директор по маркетингу» is a head of department, not the owner;
4. a label or synonym inside the answer, word by word, tolerant of Russian and English word
   endings ("аналитику" finds "аналитика"): "я директор", "crm и аналитика";
5. fuzzy matching with rapidfuzz (cut-off 85) for typos ("аналитка").

Meaning first: a label or synonym after a negation in the same clause ("бюджет не выделен",
"я не студент", "don't call me") or followed by one ("демо не нужно") is not chosen; a bare
"да"/"нет"/"yes"/"no" synonym counts only when the whole answer says so without a hedge
("наверное да" is not «Да, утверждён»); keyboard mash chooses nothing.

A *strict* option (a knock-out or a hand-raise: it ends or escalates the conversation) needs a
clear match: steps 1-4 only, never fuzzy, and never with a negation, doubt or another option
in the same answer. A single choice is one option or nothing; when two options fit about
equally well the reading names them (``clarify``) so the bot can ask which one. For a
multi-choice answer, what is left around the labels found in step 4 is split on ",", ";",
"/", "+", "и", "and", "или", "or"... and each part matched by steps 1, 2 and 5 on its own
("crm, чат" with a "Чат-бот" option).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple

from rapidfuzz import fuzz, process

from flows.extract.junk import looks_gibberish
from flows.extract.roles import AMBIGUOUS, role_levels
from flows.extract.text import fold, word_table
from flows.extract.yes_no import read_yes_no

_MAX_CHARS: Final = 500
_MAX_WORDS: Final = 60
_FUZZY_CUTOFF: Final = 85.0
_FUZZY_MARGIN: Final = 5.0
_FUZZY_MIN_CHARS: Final = 3
_STEM_MIN_LEN: Final = 5
_STEM_KEEP: Final = 4
_STEM_EXTRA: Final = 3
_ABBREVIATION_MIN: Final = 5
_SHORT_ENDINGS: Final = frozenset(word_table("а у ом е ы и ов ам ами ах ой ю я s es"))
_NEGATION_BEFORE: Final = 3
_NEGATION_AFTER: Final = 2

_TOKENS_RE: Final = re.compile(r"\w+|[,;/+&.!?()]")
_PUNCTUATION: Final = frozenset(",;/+&.!?()")
_CLAUSE_ENDS: Final = frozenset(",;.!?()") | frozenset(
    word_table("но а зато однако but however though instead")
)
_SEPARATORS: Final = frozenset(",;/+&") | {"и", "and", "или", "or", "also", "plus", "плюс", "также", "еще"}
_NEGATORS: Final = frozenset(
    word_table(
        "не ни нет без no not dont doesnt didnt isnt arent wasnt wont cant cannot never nor without "
        "никак нельзя незачем"
    )
)
_NOT_ONLY: Final = frozenset(word_table("только only"))  # "не только заявки, но и отчёты"
_DOUBT: Final = frozenset(
    word_table(
        "может возможно наверное наверно вроде кажется пожалуй ли или maybe perhaps possibly probably "
        "might whether if если знаю sure know"
    )
)
_YES_NO_WORDS: Final = frozenset(word_table("да нет yes no есть нету ага угу yep nope"))

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


@dataclass(frozen=True, slots=True)
class ChoiceOption:
    """One option as the reader sees it: its id, its label and synonyms (in the locale read
    first; ``fallback`` holds the other locales' words, tried when those find nothing), and
    whether it is strict (a knock-out or a hand-raise, which needs a clear match)."""

    id: str
    phrases: tuple[str, ...]
    fallback: tuple[str, ...] = ()
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ChoiceReading:
    """The option ids an answer picks (display order; empty when none), or, for a single choice,
    the two options it could mean (``clarify``) when it fits both about equally well."""

    ids: tuple[str, ...] = ()
    clarify: tuple[str, ...] = ()
    certain: bool = True  # False for a fuzzy match


_NOTHING: Final = ChoiceReading()


class _Phrase(NamedTuple):
    option: int  # index of the option in display order
    words: tuple[str, ...]
    stems: tuple[str, ...]  # a word's stem, or "" when the word must match exactly
    negative: bool  # the phrase says "not" itself ("не я", "no money")
    yes_no: bool  # the phrase is a bare yes/no word ("да", "no")


class _Options(NamedTuple):
    ids: tuple[str, ...]
    strict: tuple[bool, ...]
    exact: dict[str, int]  # joined words -> option index (first option wins)
    phrases: tuple[_Phrase, ...]
    texts: tuple[str, ...]  # joined words of each non-strict option's phrase, for fuzzy matching
    owners: tuple[int, ...]  # option index of each entry in texts
    levels: tuple[frozenset[str], ...]  # role levels of each option; all empty unless a role question
    yes_no: bool  # some phrase is a bare yes/no word


def _words(text: str) -> list[str]:
    return [t for t in _TOKENS_RE.findall(fold(text)) if t not in _PUNCTUATION][:_MAX_WORDS]


def _stem(word: str) -> str:
    if len(word) < _STEM_MIN_LEN or word.isdigit():
        return ""
    return word[: max(_STEM_KEEP, len(word) - 2)]


def _option_levels(phrase_words: Sequence[tuple[str, ...]]) -> frozenset[str]:
    found: set[str] = set()
    for words in phrase_words:
        definite, _ = role_levels(words)
        found |= definite
    return frozenset(found)


@lru_cache(maxsize=512)
def _prepare(candidates: tuple[tuple[str, tuple[str, ...], bool], ...]) -> _Options:
    exact: dict[str, int] = {}
    phrases: list[_Phrase] = []
    label_levels: list[frozenset[str]] = []
    option_words: list[list[tuple[str, ...]]] = []
    for index, (_, labels, _) in enumerate(candidates):
        option_words.append([])
        for position, label in enumerate(labels):
            words = tuple(_words(label))
            if not words:
                continue
            if position == 0:
                label_levels.append(role_levels(words)[0])
            option_words[-1].append(words)
            exact.setdefault(" ".join(words), index)
            negative = bool(set(words) & _NEGATORS)
            yes_no = len(words) == 1 and words[0] in _YES_NO_WORDS
            phrases.append(_Phrase(index, words, tuple(_stem(w) for w in words), negative, yes_no))
    strict = tuple(flag for _, _, flag in candidates)
    role_question = len({level for level in label_levels if level}) >= 2
    levels = tuple(_option_levels(words) if role_question else frozenset() for words in option_words)
    fuzzy = [p for p in phrases if not strict[p.option]]
    return _Options(
        ids=tuple(option_id for option_id, _, _ in candidates),
        strict=strict,
        exact=exact,
        phrases=tuple(phrases),
        texts=tuple(" ".join(p.words) for p in fuzzy),
        owners=tuple(p.option for p in fuzzy),
        levels=levels,
        yes_no=any(p.yes_no for p in phrases),
    )


def _word_matches(said: str, word: str, stem: str) -> bool:
    """The same word, another ending of it ("аналитику"), or its abbreviation ("финдир")."""
    if said == word:
        return True
    if not stem and said.startswith(word) and said[len(word) :] in _SHORT_ENDINGS and not word.isdigit():
        return True  # "бота", "чату": a short word takes its endings whole
    if stem and said.startswith(stem) and len(said) <= len(word) + _STEM_EXTRA:
        return True
    return len(said) >= _ABBREVIATION_MIN and len(said) * 2 >= len(word) and word.startswith(said)


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


def _clause(tokens: list[str], start: int, end: int) -> tuple[list[str], list[str]]:
    """The words of the clause before tokens[start] and after tokens[end - 1]."""
    before: list[str] = []
    k = start - 1
    while k >= 0 and tokens[k] not in _CLAUSE_ENDS:
        before.append(tokens[k])
        k -= 1
    after: list[str] = []
    k = end
    while k < len(tokens) and tokens[k] not in _CLAUSE_ENDS:
        after.append(tokens[k])
        k += 1
    return before, after  # before is nearest first


def _negated(before: list[str], after: list[str]) -> bool:
    for k, word in enumerate(before[:_NEGATION_BEFORE]):
        # ``before`` is nearest first, so before[k - 1] is the word right after this one.
        if word in _NEGATORS and (k == 0 or before[k - 1] not in _NOT_ONLY):
            return True
    return any(word in _NEGATORS for word in after[:_NEGATION_AFTER])


class _Span(NamedTuple):
    start: int
    end: int
    option: int
    negated: bool
    doubtful: bool  # negation or doubt anywhere in its clause: too weak for a strict option


def _spans(tokens: list[str], options: _Options, polarity: bool | None) -> list[_Span]:
    """Labels and synonyms found in the answer, longest matches kept. Phrases match words (the
    punctuation between them does not count); positions are those in ``tokens``."""
    at = [k for k, t in enumerate(tokens) if t not in _PUNCTUATION]
    words = [tokens[k] for k in at]
    spans: list[_Span] = []
    for phrase in options.phrases:
        size = len(phrase.words)
        for start in range(len(words) - size + 1):
            if not all(
                _word_matches(words[start + k], phrase.words[k], phrase.stems[k]) for k in range(size)
            ):
                continue
            first, last = at[start], at[start + size - 1]
            before, after = _clause(tokens, first, last + 1)
            negated = not phrase.negative and _negated(before, after)
            if phrase.yes_no:
                said_yes = phrase.words[0] not in ("нет", "no", "нету", "nope")
                negated = negated or polarity is not said_yes
            doubtful = bool((set(before) | set(after)) & (_NEGATORS | _DOUBT))
            spans.append(_Span(first, last + 1, phrase.option, negated, doubtful))
    return [
        span
        for span in spans
        if not any(
            other.option != span.option
            and other.start <= span.start
            and span.end <= other.end
            and (other.end - other.start) > (span.end - span.start)
            for other in spans
        )
    ]


def _fuzzy(query: str, options: _Options, *, partial: bool = False) -> tuple[int, ...]:
    """The option a typo is closest to, or the two it is equally close to, or ().

    The whole answer is compared with each phrase (``fuzz.ratio``: "аналитка" is "аналитика",
    "я в поиске работы" is not "я директор"); a part of a multi-choice answer may also be a part
    of a phrase (``partial``, rapidfuzz's WRatio: "чат" for "Чат-бот")."""
    if len(query) < _FUZZY_MIN_CHARS or not options.texts:
        return ()
    best: dict[int, float] = {}
    for _, score, at in process.extract(
        query,
        options.texts,
        scorer=fuzz.WRatio if partial else fuzz.ratio,
        processor=None,
        score_cutoff=_FUZZY_CUTOFF,
        limit=len(options.texts),
    ):
        owner = options.owners[at]
        best[owner] = max(best.get(owner, 0.0), score)
    if not best:
        return ()
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < _FUZZY_MARGIN:
        if len(ranked) > 2 and ranked[0][1] - ranked[2][1] < _FUZZY_MARGIN:
            return ()
        return tuple(sorted((ranked[0][0], ranked[1][0])))
    return (ranked[0][0],)


def _match_part(words: list[str], options: _Options) -> set[int]:
    """Options named by a part of a multi-choice answer: label, number, or a fuzzy match."""
    joined = " ".join(words)
    if joined in options.exact:
        return {options.exact[joined]}
    indices = _indices(words, len(options.ids))
    if indices is not None:
        return set(indices)
    if set(words) & _NEGATORS:
        return set()
    fuzzy = _fuzzy(joined, options, partial=True)
    return set(fuzzy) if len(fuzzy) == 1 else set()


def _leftover_parts(tokens: list[str], covered: set[int]) -> list[list[str]]:
    """Runs of words not covered by a label match, split at separators ("crm, чат" -> [["чат"]])."""
    parts: list[list[str]] = [[]]
    for position, token in enumerate(tokens):
        if token in _SEPARATORS or token in _CLAUSE_ENDS:
            parts.append([])
            continue
        if position in covered:
            parts.append([])
        else:
            parts[-1].append(token)
    return [part for part in parts if part and not set(part) <= _FILLER | _PUNCTUATION]


def _by_role(tokens: list[str], options: _Options, contained: set[int]) -> ChoiceReading | None:
    """A role question answered with a job title: the option of its level, or the two it may be."""
    definite, ambiguous = role_levels(tokens)
    if not definite and not ambiguous:
        return None
    wanted = definite or AMBIGUOUS
    candidates = [i for i, levels in enumerate(options.levels) if levels & wanted]
    if any(options.strict[i] for i in contained):
        return _NOTHING  # a title and a knock-out in one answer: ask again
    within = [i for i in candidates if i in contained]
    if len(within) == 1 and len(definite) <= 1:
        return ChoiceReading((options.ids[within[0]],))
    if len(candidates) == 1 and (len(definite) == 1 or not contained):
        return ChoiceReading((options.ids[candidates[0]],))
    if len(candidates) == 2:
        return ChoiceReading(clarify=(options.ids[candidates[0]], options.ids[candidates[1]]))
    return None


def _single(words: list[str], options: _Options, spans: list[_Span], text: str) -> ChoiceReading:
    kept = [s for s in spans if not s.negated]
    contained = {s.option for s in kept}
    if any(options.levels):
        by_role = _by_role(words, options, contained)
        if by_role is not None:
            return by_role
    if kept or any(s.negated for s in spans):
        if len(contained) == 1:
            option = contained.pop()
            if options.strict[option] and any(s.doubtful or s.negated for s in spans if s.option == option):
                return _NOTHING
            if options.strict[option] and len({s.option for s in spans}) > 1:
                return _NOTHING
            return ChoiceReading((options.ids[option],))
        if len(contained) == 2 and not any(options.strict[i] for i in contained):
            first, second = sorted(contained)
            return ChoiceReading(clarify=(options.ids[first], options.ids[second]))
        return _NOTHING
    if set(words) & _NEGATORS or looks_gibberish(text):
        return _NOTHING  # nothing named, and a negation or mash: a typo match would guess wrong
    fuzzy = _fuzzy(" ".join(words), options)
    if len(fuzzy) == 1:
        return ChoiceReading((options.ids[fuzzy[0]],), certain=False)
    if len(fuzzy) == 2:
        return ChoiceReading(clarify=(options.ids[fuzzy[0]], options.ids[fuzzy[1]]))
    return _NOTHING


def _multi(tokens: list[str], options: _Options, spans: list[_Span], text: str) -> ChoiceReading:
    chosen: set[int] = set()
    covered: set[int] = set()
    for span in spans:
        covered.update(range(span.start, span.end))
        if not span.negated and not (options.strict[span.option] and span.doubtful):
            chosen.add(span.option)
    parts = _leftover_parts(tokens, covered)
    if parts and not looks_gibberish(text):
        for part in parts:
            chosen |= {i for i in _match_part(part, options) if not options.strict[i]}
    return ChoiceReading(tuple(options.ids[i] for i in sorted(chosen)))


def _read(text: str, options: _Options, multi: bool) -> ChoiceReading:
    tokens = _TOKENS_RE.findall(fold(text[:_MAX_CHARS]))[:_MAX_WORDS]
    words = [t for t in tokens if t not in _PUNCTUATION]
    if not words or not options.ids:
        return _NOTHING
    joined = " ".join(words)
    if joined in options.exact:
        return ChoiceReading((options.ids[options.exact[joined]],))
    if multi and joined in _ALL:
        return ChoiceReading(options.ids)
    indices = _indices(words, len(options.ids))
    if indices is not None:
        if not multi and len(set(indices)) != 1:
            return _NOTHING
        return ChoiceReading(tuple(options.ids[i] for i in sorted(set(indices))))
    polarity: bool | None = None
    if options.yes_no:
        said, certain = read_yes_no(text)
        polarity = said if certain else None
    spans = _spans(tokens, options, polarity)
    if multi:
        return _multi(tokens, options, spans, text)
    return _single(words, options, spans, text)


def read_choice(text: str, options: Sequence[ChoiceOption], *, multi: bool) -> ChoiceReading:
    """What a typed answer picks among ``options`` (see the module docstring).

    Each option's ``phrases`` are tried first; when they pick nothing and suggest nothing, the
    ``fallback`` phrases are. Both languages' numbers and ordinals are understood whatever the
    locale.
    """
    primary = _prepare(tuple((o.id, o.phrases, o.strict) for o in options))
    reading = _read(text, primary, multi)
    if reading.ids or reading.clarify or not any(o.fallback for o in options):
        return reading
    secondary = _prepare(tuple((o.id, o.fallback, o.strict) for o in options))
    return _read(text, secondary, multi)


def match_choices(
    text: str,
    candidates: Sequence[tuple[str, Sequence[str]]],
    locale: str,  # noqa: ARG001 (one signature for the parsers; both languages are read whatever the locale)
    *,
    multi: bool,
) -> tuple[str, ...]:
    """The ids of the options a typed answer picks, in display order; () when none or ambiguous.

    ``candidates`` are (option_id, phrases) in display order, the phrases being that option's
    label and synonyms in the visitor's locale (no option is strict).
    """
    options = [ChoiceOption(option_id, tuple(phrases)) for option_id, phrases in candidates]
    return read_choice(text, options, multi=multi).ids
