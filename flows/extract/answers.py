"""``parse``: one typed answer of any kind, read through the table of kinds, as a JSON-ready dict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from flows.extract.choices import ChoiceOption
from flows.extract.kinds import KINDS, read
from flows.extract.text import clean_text

__all__ = ["KINDS", "choice_options", "parse"]


def choice_options(options: Sequence[ChoiceOption | Mapping[str, Any]]) -> tuple[ChoiceOption, ...]:
    """Options given as ``ChoiceOption`` or as JSON objects ``{"id", "phrases", "knockout",
    "hand_raise"}`` (a knock-out or a hand-raise makes the option strict); ValueError otherwise."""
    out = []
    for option in options:
        if isinstance(option, ChoiceOption):
            out.append(option)
            continue
        if not isinstance(option, Mapping):
            raise ValueError("each option must be an object with an id and phrases")
        option_id, phrases = option.get("id"), option.get("phrases")
        if not isinstance(option_id, str) or not option_id:
            raise ValueError('an option\'s "id" must be a non-empty string')
        if not isinstance(phrases, list | tuple) or not all(isinstance(p, str) for p in phrases):
            raise ValueError(f'option {option_id!r}: "phrases" must be a list of strings')
        strict = bool(option.get("knockout")) or bool(option.get("hand_raise"))
        out.append(ChoiceOption(option_id, tuple(phrases), strict=strict))
    return tuple(out)


def parse(
    kind: str,
    text: str,
    locale: str = "ru",
    now: datetime | None = None,
    *,
    options: Sequence[ChoiceOption | Mapping[str, Any]] | None = None,
) -> dict[str, object]:
    """Understand one typed answer of the given kind; the result is ready for ``json.dumps``.

    Every result has "understood" (bool) plus, by kind:

    * money: "min", "max", "currency", "unlimited"; number: "value"; timeline: "days";
    * yes_no: "value", "certain" (False when hedged: "наверное да");
    * email: "value", "free", "disposable"; phone: "value" (E.164);
    * name, company, text: "value", "gibberish"; name also "lowercase";
    * choice, multi_choice: "ids", "clarify" (the two options an unclear single choice could
      mean), "certain" (False for a typo match); ``options`` are the question's options.

    Fields are null when the answer was not understood. Amounts that are whole numbers come
    as ints. The text is cleaned first (``clean_text``: no markup, no control characters).
    ``now`` defaults to the current UTC time. Unknown kinds and malformed options raise
    ValueError.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    context = choice_options(options or ())
    moment = now if now is not None else datetime.now(UTC)
    reading = read(kind, clean_text(text), locale, moment, context, detail=True)
    return reading.to_json()
