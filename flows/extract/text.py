"""Text hygiene: what every typed answer goes through before it is stored or understood."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Final

# Work on at most this many characters per allowed output character: markup and whitespace
# shrink a text, but a megabyte of tags must not cost a megabyte of work.
_WORK_FACTOR: Final = 8
_WORK_SLACK: Final = 4096


def word_table(table: str) -> tuple[str, ...]:
    """The entries of a whitespace-separated word table (how this package writes its vocabularies)."""
    return tuple(table.split())


_FOLD_TABLE: Final = str.maketrans(
    {
        "ё": "е",
        "\u00a0": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "'": None,
        "\u2019": None,
        "\u02bc": None,
        "`": None,
        "\u00b4": None,
    }
)

_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# C0/C1 controls other than whitespace, invisible format characters, lone surrogates and
# non-characters. Whitespace controls (\t \n \r \v \f) are collapsed later.
_INVISIBLE_RE: Final = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u061c\u180e\u200b\u200c\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ufffe\uffff\ud800-\udfff]"
)
# A zero-width joiner only survives between two emoji (family, profession sequences).
_EMOJI_CLASS: Final = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff"
_STRAY_ZWJ_RE: Final = re.compile(f"(?<![{_EMOJI_CLASS}\ufe0f])\u200d|\u200d(?![{_EMOJI_CLASS}])")

_TAG_RE: Final = re.compile(
    r"<!--.*?(?:-->|\Z)"  # comments, even unterminated
    r"|<!\[CDATA\[.*?(?:\]\]>|\Z)"
    r"|<[!?][^<>]*>"  # doctype, processing instructions
    r"|</?([a-zA-Z][a-zA-Z0-9:-]*)(?:[\s/][^<>]*)?>",
    re.DOTALL,
)
# Tags that separate words when a browser renders them; others (b, i, span, a) join.
_SPACING_TAGS: Final = frozenset(
    word_table(
        "br p div li ul ol tr td th table h1 h2 h3 h4 h5 h6 hr section article header footer blockquote "
        "pre form input textarea select option button label img iframe"
    )
)
_RAW_BLOCKS: Final = ("script", "style")
_WHITESPACE_RE: Final = re.compile(r"\s+")


def fold(text: str) -> str:
    """Case-fold and unify a text for matching: NFC, casefold, ё->е, dashes and odd spaces, no apostrophes."""
    return unicodedata.normalize("NFC", text).casefold().translate(_FOLD_TABLE)


def _drop_raw_blocks(text: str) -> str:
    """Remove <script>/<style> elements with their content; an unclosed one runs to the end."""
    low = text.translate(_ASCII_LOWER)
    if "<script" not in low and "<style" not in low:
        return text
    parts: list[str] = []
    pos = 0
    upcoming = {name: low.find("<" + name, 0) for name in _RAW_BLOCKS}
    while True:
        for name, at in upcoming.items():
            if 0 <= at < pos:
                upcoming[name] = low.find("<" + name, pos)
        found = [(at, name) for name, at in upcoming.items() if at >= 0]
        if not found:
            parts.append(text[pos:])
            break
        start, name = min(found)
        parts.append(text[pos:start])
        closing = low.find("</" + name, start + len(name) + 1)
        end = low.find(">", closing) if closing >= 0 else -1
        if end < 0:
            break
        pos = end + 1
        parts.append(" ")
    return "".join(parts)


def _tag_replacement(match: re.Match[str]) -> str:
    name = match.group(1)  # None for comments, CDATA, doctype: they vanish
    return " " if name is not None and name.lower() in _SPACING_TAGS else ""


def _strip_markup(text: str) -> str:
    if "<" not in text:
        return text
    return _TAG_RE.sub(_tag_replacement, _drop_raw_blocks(text))


_UNESCAPES = 8  # entities escaped inside entities, at most this deep


def clean_text(text: str, max_len: int = 2000) -> str:
    """Make a typed answer safe to store and show.

    Drops control and zero-width characters (a zero-width joiner between two emoji stays),
    removes HTML/XML markup (script and style elements with their content), unescapes
    entities (until none is left, so cleaning twice changes nothing) and strips markup that
    was hidden in them, collapses every whitespace run to
    one space, and cuts the result to ``max_len`` characters. Emoji are kept.
    """
    if max_len <= 0 or not text:
        return ""
    text = text[: max_len * _WORK_FACTOR + _WORK_SLACK]
    if text.isprintable() and "<" not in text and "&" not in text:
        # The common case: no control, format or separator characters other than plain
        # spaces, no markup, no entities; only spaces to collapse.
        text = unicodedata.normalize("NFC", text)
        if "  " in text:
            text = _WHITESPACE_RE.sub(" ", text)
        return text.strip()[:max_len].rstrip()
    text = _INVISIBLE_RE.sub("", unicodedata.normalize("NFC", text))
    text = _strip_markup(text)
    for _ in range(_UNESCAPES):  # "&amp;not" is "&not" once, "¬" twice: unescape until it stays
        if "&" not in text:
            break
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = _INVISIBLE_RE.sub("", _strip_markup(unescaped))
    text = _STRAY_ZWJ_RE.sub("", text)
    text = _WHITESPACE_RE.sub(" ", text).strip()
    if len(text) > max_len:
        text = _STRAY_ZWJ_RE.sub("", text[:max_len]).rstrip()
    return text
