"""clean_text: what is stored is plain text, never markup, never invisible characters."""

from __future__ import annotations

import time

import pytest

from flows.extract import clean_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Иван   Петров \n\t ", "Иван Петров"),
        ("<b>Anna</b> Smith", "Anna Smith"),
        ("Hello<br>world", "Hello world"),
        ("<p>one</p><p>two</p>", "one two"),
        ("<script>alert(1)</script>Acme", "Acme"),
        ("<SCRIPT type='text/javascript'>x()</SCRIPT >ok", "ok"),
        ("before<script>never closed", "before"),
        ("<style>p{color:red}</style>text", "text"),
        ("a<!-- hidden -->b", "ab"),
        ("a<!-- never closed", "a"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;ok", "ok"),
        ("Яндекс &amp; Ко", "Яндекс & Ко"),
        ("&lt;b&gt;bold&lt;/b&gt;", "bold"),
        ("5 < 10 and 10 > 5", "5 < 10 and 10 > 5"),
        ("I <3 it", "I <3 it"),
        ("zero\u200bwidth\ufeff here\u00ad", "zerowidth here"),
        ("bidi\u202etext\u202c", "biditext"),
        ("nul\x00 bell\x07 esc\x1b", "nul bell esc"),
        ("C1\x85 next line", "C1 next line"),
        ("lone \ud800 surrogate", "lone surrogate"),
        ("emoji 👍🏽 and 🤷", "emoji 👍🏽 and 🤷"),
        ("family 👨\u200d👩\u200d👧 kept", "family 👨\u200d👩\u200d👧 kept"),
        ("stray\u200djoiner", "strayjoiner"),
        ("", ""),
        ("   ", ""),
        ("e\u0301", "é"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_truncates_to_max_len_without_trailing_space() -> None:
    assert clean_text("ab cd ef", max_len=3) == "ab"
    assert clean_text("x" * 5000) == "x" * 2000
    assert clean_text("abc", max_len=0) == ""
    assert clean_text("abc", max_len=-1) == ""


def test_markup_never_survives() -> None:
    nasty = '<img src=x onerror="alert(1)"><a href="javascript:evil()">click</a><iframe src=//x></iframe>'
    cleaned = clean_text(nasty)
    assert "<" not in cleaned
    assert cleaned == "click"


def test_hostile_inputs_stay_fast() -> None:
    inputs = [
        "<script>" * 2000,
        "<style" * 2000,
        "<!--" * 3000,
        "<a " * 4000,
        "&amp;" * 3000,
        " \u200b" * 6000,
        "x" * 100_000,
    ]
    started = time.perf_counter()
    for text in inputs:
        clean_text(text)
    assert time.perf_counter() - started < 1.0
